#!/usr/bin/env bash
# Installs the Debian packages and npm modules callsig needs to build, run
# its demo and run its tests. Idempotent; uses sudo when not root.
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(build-essential cmake pkg-config
      librdkafka-dev libprotobuf-c-dev protobuf-c-compiler libjwt-dev
      libmongoc-dev libbson-dev libyaml-dev
      libmicrohttpd-dev libjansson-dev libcurl4-openssl-dev python3-prometheus-client
      kcat python3 python3-mockupdb python3-mongomock python3-pymongo
      nodejs npm)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# node/npm may come from elsewhere than Debian (nvm, nodesource): accept any.
if command -v node >/dev/null && command -v npm >/dev/null; then
  missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}")
fi
read -r -a missing <<<"${missing[*]}"
if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "installing: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi
# The official LiveKit server SDK, to verify minted tokens in the tests.
if [ ! -d tests/js/node_modules/livekit-server-sdk ]; then
  npm ci --prefix tests/js --no-audit --no-fund
fi
