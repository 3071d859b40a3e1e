#!/usr/bin/env bash
# Prints callsig's benchmarks (optimised build). Numbers, not pass/fail:
# compare them with docs/BENCHMARKS.md on the same machine kind.
#
#   scripts/bench.sh [ARGS]        CPU cost per command (tests/bench/bench_core.c)
#   scripts/bench.sh e2e [WHAT]    end to end (tests/bench/bench_e2e.c): starts a
#                                  real Kafka broker (scripts/kafka-broker.sh),
#                                  the MongoDB-wire test server and callsig;
#                                  WHAT: all (default), first-contact [USERS],
#                                  join classic, join consumer
#
# e2e needs the broker's jars (scripts/kafka-broker.sh fetch) and writes the
# harness's log to build-rel/bench-e2e.log.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f .cache/librdkafka-2.15.1/lib/librdkafka.a ] || scripts/deps-librdkafka.sh >&2
cmake -S . -B build-rel -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
if [ "${1:-}" != e2e ]; then
  cmake --build build-rel -j"$(nproc)" --target callsig_bench >/dev/null
  exec build-rel/tests/callsig_bench "$@"
fi
shift
cmake --build build-rel -j"$(nproc)" --target callsig callsig_bench_e2e >/dev/null
BROKER_DIR=$PWD/build-rel/bench-broker
trap 'scripts/kafka-broker.sh stop "$BROKER_DIR" >/dev/null 2>&1 || true' EXIT
BOOTSTRAP=$(scripts/kafka-broker.sh start "$BROKER_DIR")
echo "broker: Apache Kafka 4.1.1 (KRaft, single node) at $BOOTSTRAP; $(nproc) CPU(s), $(uname -sr)"
CALLSIG_TEST_KAFKA=real CALLSIG_TEST_KAFKA_BOOTSTRAP=$BOOTSTRAP \
  CALLSIG_TEST_BIN=$PWD/build-rel/callsig CALLSIG_TEST_SOURCE_DIR=$PWD \
  build-rel/tests/callsig_bench_e2e "${@:-all}" 2>build-rel/bench-e2e.log
