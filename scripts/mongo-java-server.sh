#!/usr/bin/env bash
# The fast MongoDB-wire store of the end-to-end benchmark: de.bwaldvogel's
# mongo-java-server 1.47.0 (in-memory backend), from Maven Central.
#
#   scripts/mongo-java-server.sh fetch       resolve the jars (cached)
#   scripts/mongo-java-server.sh start DIR   start on 127.0.0.1 and a free
#                                            port; print mongodb://host:port/
#   scripts/mongo-java-server.sh stop DIR    SIGTERM (SIGKILL after 10 s)
#
# The jars come through scripts/mongo-java-server/pom.xml into
# .cache/mongo-java-server-$MJS_VERSION/libs at the repository root (ignored
# by git); scripts/mongo-java-server/Launcher.java runs as a single-file
# source program. DIR holds port, pid and server.log.
# Environment: MONGO_JAVA_SERVER_HEAP (default 1g).
set -euo pipefail

MJS_VERSION=1.47.0
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LIBS=$ROOT/.cache/mongo-java-server-$MJS_VERSION/libs
HEAP=${MONGO_JAVA_SERVER_HEAP:-1g}

say() { echo "mongo-java-server: $*" >&2; }
die() { say "$*"; exit 1; }

fetch() {
  [ -f "$LIBS/.complete" ] && return 0
  command -v mvn >/dev/null || die "mvn not found (scripts/install-deps.sh installs maven)"
  say "fetching mongo-java-server $MJS_VERSION from Maven Central into $LIBS (first run only)"
  rm -rf "$LIBS.tmp"
  mkdir -p "$(dirname "$LIBS")"
  mvn -q -B -Dstyle.color=never -f "$ROOT/scripts/mongo-java-server/pom.xml" \
      dependency:copy-dependencies -DoutputDirectory="$LIBS.tmp" -DincludeScope=runtime 2>&1 \
      | sed 's/\x1b\[[0-9;]*m//g; /^$/d' >&2
  ls "$LIBS.tmp/mongo-java-server-memory-backend-$MJS_VERSION.jar" >/dev/null \
      || die "no memory backend jar in $LIBS.tmp"
  rm -rf "$LIBS"
  mv "$LIBS.tmp" "$LIBS"
  touch "$LIBS/.complete"
}

start() {
  local dir=$1 pid i
  fetch
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  stop "$dir" 2>/dev/null || true
  rm -f "$dir/port" "$dir/port.tmp"
  setsid java -Xms256m -Xmx"$HEAP" -XX:+UseParallelGC -cp "$LIBS/*" \
      -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
      "$ROOT/scripts/mongo-java-server/Launcher.java" "$dir/port" \
      >"$dir/server.log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$dir/pid"
  for ((i = 0; i < 600; i++)); do
    [ -f "$dir/port" ] && { echo "mongodb://127.0.0.1:$(cat "$dir/port")/"; return 0; }
    kill -0 "$pid" 2>/dev/null || { cat "$dir/server.log" >&2; die "exited while starting"; }
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  die "did not listen within 60 s (see $dir/server.log)"
}

stop() {
  local dir=$1 pid i
  [ -f "$dir/pid" ] || return 0
  pid=$(cat "$dir/pid")
  rm -f "$dir/pid"
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid"
  for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}

case "${1:-}" in
  fetch) fetch ;;
  start) start "${2:?DIR}" ;;
  stop) stop "${2:?DIR}" ;;
  *) sed -n '2,14p' "$0" >&2; exit 2 ;;
esac
