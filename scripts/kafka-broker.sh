#!/usr/bin/env bash
# A local Apache Kafka broker for the tests, the demo and the benchmark: one
# single-node KRaft process (broker and controller) on 127.0.0.1.
#
#   scripts/kafka-broker.sh fetch          resolve the broker's jars (cached)
#   scripts/kafka-broker.sh start DIR      (re)format DIR, start, wait until
#                                          it answers metadata, print host:port
#   scripts/kafka-broker.sh stop DIR       SIGTERM, then SIGKILL after 30 s
#   scripts/kafka-broker.sh kill DIR       SIGKILL (for chaos tests)
#   scripts/kafka-broker.sh restart DIR    stop if running, start again on the
#                                          same data and the same ports
#   scripts/kafka-broker.sh logs DIR       print the broker's log
#   scripts/kafka-broker.sh bootstrap DIR  print host:port
#
# The jars come from Maven Central through scripts/kafka/pom.xml and are kept
# in .cache/kafka-$KAFKA_VERSION/libs at the repository root (ignored by git).
# DIR holds server.properties, log4j2.properties, data/, broker.log,
# broker.out (the JVM's own stdout and stderr), pid and bootstrap.
#
# Environment: KAFKA_BROKER_READY_TIMEOUT (seconds to wait for metadata,
# default 90), KAFKA_BROKER_HEAP (default 512m), KAFKA_BROKER_PROPS (extra
# server.properties lines, appended when the config is written).
set -euo pipefail

KAFKA_VERSION=4.1.1
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=$ROOT/.cache/kafka-$KAFKA_VERSION
LIBS=$CACHE/libs
READY_TIMEOUT=${KAFKA_BROKER_READY_TIMEOUT:-90}
HEAP=${KAFKA_BROKER_HEAP:-512m}

say() { echo "kafka-broker: $*" >&2; }
die() { say "$*"; exit 1; }

fetch() {
  [ -f "$LIBS/.complete" ] && return 0
  command -v mvn >/dev/null || die "mvn not found (scripts/install-deps.sh installs maven)"
  command -v java >/dev/null || die "java not found (scripts/install-deps.sh installs a JDK)"
  say "fetching Apache Kafka $KAFKA_VERSION and its dependencies from Maven Central into $LIBS (first run only, about 30 s)"
  local t0=$SECONDS
  rm -rf "$LIBS.tmp"
  mkdir -p "$CACHE"
  # mvn -q prints nothing while it downloads: show that it is alive.
  ( while sleep 5; do say "  ... $((SECONDS - t0)) s, $(find "$HOME/.m2/repository" -name '*.jar' 2>/dev/null | wc -l) jars in the local Maven repository"; done ) &
  local ticker=$!
  local rc=0
  mvn -q -B -Dstyle.color=never -f "$ROOT/scripts/kafka/pom.xml" dependency:copy-dependencies \
      -DoutputDirectory="$LIBS.tmp" -DincludeScope=runtime 2>&1 \
      | sed 's/\x1b\[[0-9;]*m//g; /^$/d' >&2 || rc=$?
  kill "$ticker" 2>/dev/null; wait "$ticker" 2>/dev/null || true
  [ "$rc" -eq 0 ] || die "mvn failed ($rc)"
  ls "$LIBS.tmp"/kafka_2.13-"$KAFKA_VERSION".jar >/dev/null || die "no kafka jar in $LIBS.tmp"
  rm -rf "$LIBS"
  mv "$LIBS.tmp" "$LIBS"
  touch "$LIBS/.complete"
  say "fetched $(ls "$LIBS"/*.jar | wc -l) jars in $((SECONDS - t0)) s"
}

free_port() {
  python3 "$ROOT/scripts/free-port.py" tcp
}

pid_of() { # prints the broker's pid if it runs
  local dir=$1 pid
  [ -f "$dir/pid" ] || return 1
  pid=$(cat "$dir/pid")
  kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

write_config() { # dir port cport
  local dir=$1 port=$2 cport=$3
  cat >"$dir/server.properties" <<EOF
# Written by scripts/kafka-broker.sh: a single-node KRaft test broker.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$dir/data
# Topics: created on first use, 4 partitions (signal.commands needs 4).
auto.create.topics.enable=true
delete.topic.enable=true
num.partitions=4
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# Consumer groups: no wait for more members before the first assignment.
group.initial.rebalance.delay.ms=0
# Small logs: 1 MiB segments, an hour or 64 MiB per partition at most.
log.segment.bytes=1048576
log.retention.ms=3600000
log.retention.bytes=67108864
log.retention.check.interval.ms=60000
# After a SIGKILL the controller refuses the restarted broker's registration
# (DUPLICATE_BROKER_REGISTRATION) until the old session times out: 9 s by
# default, 3 s here, so that a chaos test's restart answers in about 5 s.
broker.heartbeat.interval.ms=500
broker.session.timeout.ms=3000
# Few threads: the tests run on 2 cores.
num.network.threads=2
num.io.threads=4
background.threads=4
EOF
  # Extra broker properties, one per line (the e2e benchmark's KIP-848 runs).
  if [ -n "${KAFKA_BROKER_PROPS:-}" ]; then
    printf '%s\n' "# From KAFKA_BROKER_PROPS:" "$KAFKA_BROKER_PROPS" >>"$dir/server.properties"
  fi
  cat >"$dir/log4j2.properties" <<EOF
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = $dir/broker.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.state.name = state.change.logger
logger.state.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
EOF
}

jvm_opts() { # dir: sets the array JVM to the java command line
  JVM=(java -Xms128m -Xmx"$HEAP" -XX:+UseG1GC -XX:TieredStopAtLevel=1
       -Djava.awt.headless=true -Dlog4j2.configurationFile="$1/log4j2.properties"
       -Dkafka.logs.dir="$1" -cp "$LIBS/*")
}

launch() { # dir: starts the JVM on an existing config, waits until ready
  local dir=$1 t0=$SECONDS bootstrap pid
  bootstrap=$(cat "$dir/bootstrap")
  # Its own session: a terminal's ^C or a ctest timeout does not reach it
  # half-way; stop and kill do.
  # setsid (which execs, so $! is the JVM): a terminal's ^C or a ctest
  # timeout does not reach it half-way; stop and kill do.
  jvm_opts "$dir"
  setsid "${JVM[@]}" kafka.Kafka "$dir/server.properties" \
      >>"$dir/broker.out" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$dir/pid"
  while :; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -30 "$dir/broker.out" "$dir/broker.log" >&2 || true
      die "the broker exited while starting (see $dir/broker.log)"
    fi
    # Ready when it lists itself as a broker (kcat asks for metadata).
    if kcat -L -b "$bootstrap" -m 2 2>/dev/null | grep -q 'broker 1 at'; then
      break
    fi
    if [ $((SECONDS - t0)) -ge "$READY_TIMEOUT" ]; then
      tail -30 "$dir/broker.log" >&2 || true
      kill -KILL "$pid" 2>/dev/null || true
      die "no metadata from $bootstrap after $READY_TIMEOUT s"
    fi
    sleep 0.2
  done
  say "broker (pid $pid) answers metadata on $bootstrap after $((SECONDS - t0)) s"
}

start() {
  local dir=$1 port cport cluster_id
  fetch
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  # start means a fresh broker: one left over in DIR (an interrupted run)
  # is stopped and its data dropped.
  if pid_of "$dir" >/dev/null; then say "a broker still runs in $dir: stopping it"; stop "$dir"; fi
  rm -rf "$dir/data" "$dir/broker.log" "$dir/broker.out"
  port=$(free_port); cport=$(free_port)
  while [ "$cport" = "$port" ]; do cport=$(free_port); done
  write_config "$dir" "$port" "$cport"
  echo "127.0.0.1:$port" >"$dir/bootstrap"
  jvm_opts "$dir"
  cluster_id=$("${JVM[@]}" kafka.tools.StorageTool random-uuid 2>/dev/null)
  # One word: a random id may start with '-'.
  "${JVM[@]}" kafka.tools.StorageTool format --cluster-id="$cluster_id" \
      -c "$dir/server.properties" >"$dir/format.out" 2>&1 \
      || { cat "$dir/format.out" >&2; die "formatting $dir/data failed"; }
  launch "$dir"
  cat "$dir/bootstrap"
}

stop() { # dir signal-first
  local dir=$1 pid i
  pid=$(pid_of "$dir") || { say "no broker runs in $dir"; return 0; }
  kill -TERM "$pid"
  for ((i = 0; i < 300; i++)); do
    kill -0 "$pid" 2>/dev/null || { say "broker (pid $pid) stopped"; return 0; }
    sleep 0.1
  done
  say "broker (pid $pid) still runs 30 s after SIGTERM: SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
}

killit() {
  local dir=$1 pid
  pid=$(pid_of "$dir") || { say "no broker runs in $dir"; return 0; }
  kill -KILL "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
  say "broker (pid $pid) killed"
}

usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

cmd=${1:-}; dir=${2:-}
case "$cmd" in
  fetch) fetch ;;
  start) [ -n "$dir" ] || usage; start "$dir" ;;
  stop) [ -n "$dir" ] || usage; stop "$dir" ;;
  kill) [ -n "$dir" ] || usage; killit "$dir" ;;
  restart)
    [ -n "$dir" ] || usage
    [ -f "$dir/server.properties" ] || die "$dir has no broker to restart (start it first)"
    dir=$(cd "$dir" && pwd)
    stop "$dir"
    fetch
    launch "$dir"
    cat "$dir/bootstrap" ;;
  logs) [ -n "$dir" ] || usage; cat "$dir/broker.log" ;;
  bootstrap) [ -n "$dir" ] || usage; cat "$dir/bootstrap" ;;
  *) usage ;;
esac
