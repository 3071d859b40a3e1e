#!/usr/bin/env bash
# The README's first command: installs what is missing, builds callsig and
# runs the demo: a local mock Kafka cluster, the local MongoDB-wire server and
# callsig, a 1:1 call (invite, accept, hang up) and an unanswered call (ring
# timeout) played through Kafka, with what each user's devices receive and
# the resulting call records printed.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target callsig callsig_demo >/dev/null
CALLSIG_TEST_BIN="$PWD/build/callsig" CALLSIG_TEST_SOURCE_DIR="$PWD" \
  exec build/tests/callsig_demo
