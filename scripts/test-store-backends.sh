#!/usr/bin/env bash
# Runs the store-heavy scenarios (mock Kafka cluster) against a second,
# independent MongoDB stand-in: mongo-java-server 1.47.0 (in-memory backend,
# scripts/mongo-java-server.sh), through the harness's CALLSIG_TEST_MONGODB_URI.
# The default test run uses tests/mongo/mockmongod.py; this shows that the
# store's queries and updates do not depend on one stand-in's reading of
# MongoDB. Scenarios that need MongoDB's failpoints skip (exit 77).
# What mongo-java-server does differently: tests/mongo/README.md.
#
#   scripts/test-store-backends.sh [BUILD_DIR [CTEST_REGEX]]
#
# BUILD_DIR (default build) must hold a built tree; CTEST_REGEX defaults to
# the store scenarios below. Not part of scripts/test.sh.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BUILD=${1:-build}
REGEX=${2:-'^(scenario\.(000[1-8]|0011|002[5-9]|0060|0070|008[0-2])-|v3\.)'}
[ -f "$BUILD/CTestTestfile.cmake" ] || { echo "no build tree in $BUILD" >&2; exit 2; }
STORE_DIR=$(cd "$BUILD" && pwd)/store-backend
trap '"$ROOT"/scripts/mongo-java-server.sh stop "$STORE_DIR" >/dev/null 2>&1 || true' EXIT
URI=$(scripts/mongo-java-server.sh start "$STORE_DIR")
echo "store: mongo-java-server 1.47.0 (in-memory) at $URI"
cd "$BUILD"
CALLSIG_TEST_MONGODB_URI=$URI ctest --output-on-failure -LE real -R "$REGEX" -j"${JOBS:-1}"
