#!/usr/bin/env bash
# Installs the Debian packages and npm modules callsig needs to build, run
# its demo and run its tests, then builds the pinned librdkafka once
# (scripts/deps-librdkafka.sh). Idempotent; uses sudo when not root.
#
# librdkafka comes from upstream source, not from Debian (bookworm ships
# 2.0.2): only its build dependencies are Debian packages here. kcat (used
# by the tests to read dead letters) pulls Debian's librdkafka1 as its own
# runtime library; callsig never links it (it links librdkafka.a).
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(build-essential cmake pkg-config
      zlib1g-dev libssl-dev libzstd-dev liblz4-dev libcurl4-openssl-dev
      libprotobuf-c-dev protobuf-c-compiler libjwt-dev
      libmongoc-dev libbson-dev libyaml-dev
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
# librdkafka 2.15.1, pinned by checksum, built into .cache/ the first time.
scripts/deps-librdkafka.sh
