#!/usr/bin/env bash
# The README's first command: installs what is missing (the first run also
# builds livekit-server, about 3 minutes), builds callsig and runs the demo
# on a real stack: livekit-server, Kafka, the local MongoDB-wire server and
# callsig, and coturn for a peer-to-peer call. It plays a 1:1 call (invite,
# accept, alice and bob join the LiveKit room with the tokens callsig gave
# them, hang up), a peer-to-peer call (two aiortc peers exchange offer,
# answer and ICE candidates as callsig custom signals and connect through
# TURN with callsig's credentials) and an unanswered call (ring timeout)
# through Kafka, printing what each user's devices receive and the resulting
# call records.
#
# Only lines for people reach the terminal; every tool's own output goes to
# files under the demo directory, which the demo names.
set -euo pipefail
cd "$(dirname "$0")/.."
# --openim v3: callsig speaks the OpenIM v3 dialect (openim.protocol: v3) and
# every message is also shown decoded with the upstream v3 schema.
if [ "${1:-}" = "--openim" ]; then
  case "${2:-}" in
    v2) ;;
    v3) export CALLSIG_TEST_OPENIM=v3 ;;
    *) echo "usage: scripts/demo.sh [--openim v2|v3]" >&2; exit 2 ;;
  esac
fi
DEMO=$(mktemp -d /tmp/callsig-demo-XXXXXX)
t_all=$SECONDS

fail() { # step, log
  echo "demo: $1 failed; the last lines of $2:" >&2
  tail -n 30 "$2" >&2
  exit 1
}

echo "== preparing (logs in $DEMO) =="
t0=$SECONDS
# install-deps prints its progress (packages, npm modules, the livekit-server
# build) on stdout; apt's and npm's own chatter goes to the log.
scripts/install-deps.sh 2>"$DEMO/install.log" || fail "installing dependencies" "$DEMO/install.log"
echo "dependencies ready ($((SECONDS - t0)) s)"
t0=$SECONDS
echo "building callsig (log: $DEMO/build.log)"
{ cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo &&
  cmake --build build -j"$(nproc)" --target callsig callsig_demo; } >"$DEMO/build.log" 2>&1 ||
  fail "building callsig" "$DEMO/build.log"
echo "built ($((SECONDS - t0)) s)"

# ---- Kafka ----------------------------------------------------------------
# HOOK (real broker): when scripts/kafka-broker.sh (Apache Kafka 4.1.1, single
# node KRaft, jars cached in .cache/) is in the tree, the demo runs on it: the
# harness talks to the broker named by CALLSIG_TEST_KAFKA=real and
# CALLSIG_TEST_KAFKA_BOOTSTRAP. Without it, the demo uses librdkafka's mock
# cluster, which the harness hosts in the demo process (callsig still reaches
# it over TCP).
if [ -x scripts/kafka-broker.sh ]; then
  echo "starting the Apache Kafka broker (log: $DEMO/kafka/broker.log)"
  t0=$SECONDS
  scripts/kafka-broker.sh fetch 2>>"$DEMO/install.log" >/dev/null ||
    fail "fetching Apache Kafka" "$DEMO/install.log"
  bootstrap=$(scripts/kafka-broker.sh start "$DEMO/kafka" 2>"$DEMO/kafka-start.log") ||
    fail "starting the Kafka broker" "$DEMO/kafka-start.log"
  trap 'scripts/kafka-broker.sh stop "$DEMO/kafka" >/dev/null 2>&1 || true' EXIT
  export CALLSIG_TEST_KAFKA=real CALLSIG_TEST_KAFKA_BOOTSTRAP=$bootstrap
  echo "broker ready at $bootstrap ($((SECONDS - t0)) s)"
fi

echo
# The demo starts livekit-server itself (scripts/livekit-server.sh) with the
# key and secret it gives callsig; its own lines go to demo.log.
if ! CALLSIG_TEST_BIN="$PWD/build/callsig" CALLSIG_TEST_SOURCE_DIR="$PWD" \
     CALLSIG_TEST_KEEP=1 build/tests/callsig_demo 2>"$DEMO/demo.log"; then
  fail "the demo" "$DEMO/demo.log"
fi
echo "(demo log: $DEMO/demo.log; $((SECONDS - t_all)) s in all)"
