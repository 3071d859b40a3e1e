#!/usr/bin/env bash
# Installs the Debian packages, npm modules and Python packages (aiortc, in
# a venv under .cache/) callsig needs to build, run its demo and run its
# tests, then builds the pinned librdkafka once (scripts/deps-librdkafka.sh).
# Idempotent; uses sudo when not root.
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
      libmicrohttpd-dev libjansson-dev libcurl4-openssl-dev python3-prometheus-client
      kcat curl python3 python3-mockupdb python3-mongomock python3-pymongo
      python3-venv coturn iproute2
      nodejs npm)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# The test broker (scripts/kafka-broker.sh) runs on a JDK and is resolved by
# maven; a JDK from elsewhere (an image's own) will do.
command -v java >/dev/null || pkgs+=(default-jdk-headless)
command -v mvn >/dev/null || pkgs+=(maven)
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
# The official LiveKit server SDK, to verify minted tokens in the tests, and
# the client SDK (@livekit/rtc-node, prebuilt) that joins rooms with them.
if [ ! -d tests/js/node_modules/livekit-server-sdk ] ||
   [ ! -d tests/js/node_modules/@livekit/rtc-node ]; then
  t0=$SECONDS
  echo "installing the npm modules of tests/js (npm ci)"
  npm ci --prefix tests/js --no-audit --no-fund
  echo "npm ci: $((SECONDS - t0)) s"
fi
# aiortc (pinned, tests/p2p/requirements.txt) in a venv under .cache/: the
# WebRTC peers of the peer-to-peer test and demo, with coturn from Debian.
scripts/deps-aiortc.sh >/dev/null
# librdkafka 2.15.1, pinned by checksum, built into .cache/ the first time.
scripts/deps-librdkafka.sh
# livekit-server v1.13.5, built once with Go into .cache/ (about 3 minutes).
if ! command -v go >/dev/null; then
  echo "install-deps: Go is needed to build livekit-server (golang-go from Debian is too old; use Go 1.23+)" >&2
  exit 1
fi
scripts/livekit-server.sh build
# The docker-compose.yml checker (compose-go, the Docker Compose CLI's loader).
scripts/compose-check.sh build
