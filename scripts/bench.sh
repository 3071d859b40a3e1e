#!/usr/bin/env bash
# Prints callsig's benchmarks (optimised build). Numbers, not pass/fail:
# compare them with docs/BENCHMARKS.md on the same machine kind.
#
#   scripts/bench.sh [ARGS]        CPU cost per command (tests/bench/bench_core.c)
#   scripts/bench.sh e2e [WHAT]    end to end (tests/bench/bench_e2e.c): starts a
#                                  real Kafka broker (scripts/kafka-broker.sh),
#                                  the MongoDB-wire test server and callsig;
#                                  WHAT: all (default), first-contact [USERS],
#                                  join classic, join consumer,
#                                  calls open RATE [CALLS [WORKERS]],
#                                  calls closed K [CALLS [WORKERS]],
#                                  calls ceiling (the store alone),
#                                  history [RECORDS [REPS]]
#   scripts/bench.sh calls         issue 8's table (docs/BENCHMARKS.md, "Calls
#                                  end to end"): token minting against
#                                  livekit-server-sdk, then for each store (the
#                                  MongoDB-wire test server, mongo-java-server)
#                                  its ceiling, open loop 10 commands/s (an idle
#                                  worker; again with the latency settings
#                                  before issue 8) and 100 commands/s, closed
#                                  loop 64 calls in flight with 1 worker (8
#                                  lane threads, then 1) and 2 workers.
#                                  CALLS (default 2000) calls per run; RSS_CALLS
#                                  (default 0: skipped) adds a long closed-loop
#                                  run on the fast store printing peak RSS every
#                                  10,000 calls.
#   scripts/bench.sh history       issue 11's table (docs/BENCHMARKS.md, "Call
#                                  history"): the v3 history and StartApp
#                                  queries on RECORDS (100000) seeded call
#                                  records, REPS (default 20; 3 on the test
#                                  server, which scans in Python) queries each,
#                                  on mongo-java-server, then on the test
#                                  server. HISTORY_STORES=fast or slow for one.
#
# BENCH_FAST_STORE=1 runs e2e calls (and e2e history) on mongo-java-server
# (scripts/mongo-java-server.sh) instead of the test server;
# BENCH_OLD_DEFAULTS=1 with linger.ms 2 and fetch.wait.max.ms 100.
#
# e2e needs the broker's jars (scripts/kafka-broker.sh fetch) and writes the
# harness's log to build-rel/bench-e2e.log.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f .cache/librdkafka-2.15.1/lib/librdkafka.a ] || scripts/deps-librdkafka.sh >&2
cmake -S . -B build-rel -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
if [ "${1:-}" = calls ]; then
  CALLS=${CALLS:-2000}
  cmake --build build-rel -j"$(nproc)" --target callsig_bench >/dev/null
  [ -d tests/js/node_modules/livekit-server-sdk ] || (cd tests/js && npm ci --silent >&2)
  echo "== token minting, same machine, one after the other =="
  ours=$(build-rel/tests/callsig_bench 200000 | grep 'mint LiveKit token')
  sdk=$(cd tests/js && node mint-bench.mjs 3)
  echo "  callsig: $ours"
  echo "  $sdk"
  awk -v a="$(echo "$ours" | awk '{print $(NF-3)}')" -v b="$(echo "$sdk" | awk '{print $3}')" \
    'BEGIN { printf "  ratio callsig / livekit-server-sdk: %.2fx\n", a / b }'
  for fast in 0 1; do
    BENCH_FAST_STORE=$fast "$0" e2e calls ceiling
    BENCH_FAST_STORE=$fast "$0" e2e calls open 10 100 1
    BENCH_FAST_STORE=$fast BENCH_OLD_DEFAULTS=1 "$0" e2e calls open 10 100 1
    BENCH_FAST_STORE=$fast "$0" e2e calls open 100 1000 1
    BENCH_FAST_STORE=$fast "$0" e2e calls closed 64 "$CALLS" 1
    BENCH_FAST_STORE=$fast CALLSIG_SIGNAL_CONCURRENCY=1 "$0" e2e calls closed 64 "$CALLS" 1
    BENCH_FAST_STORE=$fast "$0" e2e calls closed 64 "$CALLS" 2
  done
  if [ "${RSS_CALLS:-0}" -gt 0 ]; then
    BENCH_FAST_STORE=1 BENCH_RSS_EVERY=10000 "$0" e2e calls closed 64 "$RSS_CALLS" 1
  fi
  exit 0
fi
if [ "${1:-}" = history ]; then
  RECORDS=${2:-100000}
  case ${HISTORY_STORES:-both} in
    fast) stores=1 ;; slow) stores=0 ;; *) stores="1 0" ;;
  esac
  for fast in $stores; do
    reps=${3:-$([ "$fast" = 1 ] && echo 20 || echo 3)}
    # the test server takes ~30 s a query at 100,000 records: a longer wait
    mult=$([ "$fast" = 1 ] && echo 1 || echo 10)
    BENCH_FAST_STORE=$fast CALLSIG_TEST_TIMEOUT_MULTIPLIER=$mult \
      "$0" e2e history "$RECORDS" "$reps"
  done
  exit 0
fi
if [ "${1:-}" != e2e ]; then
  cmake --build build-rel -j"$(nproc)" --target callsig_bench >/dev/null
  exec build-rel/tests/callsig_bench "$@"
fi
shift
cmake --build build-rel -j"$(nproc)" --target callsig callsig_bench_e2e >/dev/null
BROKER_DIR=$PWD/build-rel/bench-broker
STORE_DIR=$PWD/build-rel/bench-store
trap 'scripts/kafka-broker.sh stop "$BROKER_DIR" >/dev/null 2>&1 || true
      scripts/mongo-java-server.sh stop "$STORE_DIR" >/dev/null 2>&1 || true' EXIT
BOOTSTRAP=$(scripts/kafka-broker.sh start "$BROKER_DIR")
echo "broker: Apache Kafka 4.1.1 (KRaft, single node) at $BOOTSTRAP; $(nproc) CPU(s), $(uname -sr)"
export BENCH_BROKER_PID=$(cat "$BROKER_DIR/pid")
if [ "${BENCH_FAST_STORE:-0}" = 1 ]; then
  export CALLSIG_TEST_MONGODB_URI=$(scripts/mongo-java-server.sh start "$STORE_DIR")
  export BENCH_STORE_PID=$(cat "$STORE_DIR/pid")
  export BENCH_STORE="mongo-java-server 1.47.0 (in-memory)"
fi
CALLSIG_TEST_KAFKA=real CALLSIG_TEST_KAFKA_BOOTSTRAP=$BOOTSTRAP \
  CALLSIG_TEST_BIN=$PWD/build-rel/callsig CALLSIG_TEST_SOURCE_DIR=$PWD \
  build-rel/tests/callsig_bench_e2e "${@:-all}" 2>>build-rel/bench-e2e.log
