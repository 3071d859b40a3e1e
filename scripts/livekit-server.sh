#!/usr/bin/env bash
# livekit-server, pinned and cached: builds it once with `go install` from the
# Go module proxy, and starts and stops loopback instances for the tests and
# the demo.
#
#   scripts/livekit-server.sh build
#       Builds livekit-server v1.13.5 (pure Go, CGO off) into
#       .cache/livekit-1.13.5/server, about 3 minutes on 2 cores, printing
#       progress; does nothing when the binary is already there.
#   scripts/livekit-server.sh path
#       Prints the binary's path (exit 1 if it is not built).
#   scripts/livekit-server.sh start DIR KEY SECRET [WEBHOOK_URL]
#       Writes DIR/livekit.yaml (127.0.0.1 only, free ports, node_ip
#       127.0.0.1, one key), starts the server with its log in
#       DIR/livekit.log, waits until GET / answers 200 and writes the
#       WebSocket URL to DIR/url (ws://127.0.0.1:PORT). With WEBHOOK_URL the
#       server posts room events there, signed with KEY.
#       If LIVEKIT_OWNER_PID is set, the server is stopped when that process
#       ends (a test that crashes leaves no server behind).
#   scripts/livekit-server.sh stop DIR
#       SIGTERM, then SIGKILL after 10 s.
#
# CALLSIG_LIVEKIT_BIN overrides the binary's path.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VERSION=1.13.5
CACHE="$ROOT/.cache/livekit-$VERSION"
BIN=${CALLSIG_LIVEKIT_BIN:-$CACHE/server}

say() { printf 'livekit-server: %s\n' "$*"; }
die() { printf 'livekit-server: %s\n' "$*" >&2; exit 1; }

build() {
  if [ -x "$BIN" ]; then
    say "v$VERSION already built ($BIN)"
    return 0
  fi
  command -v go >/dev/null || die "go is not installed (Go 1.23 or newer is needed to build livekit-server)"
  mkdir -p "$CACHE"
  local log="$CACHE/build.log" t0=$SECONDS
  say "building v$VERSION with $(go version | cut -d' ' -f3) (go install, about 3 minutes, once; log: $log)"
  CGO_ENABLED=0 GOBIN="$CACHE" go install \
    "github.com/livekit/livekit-server/cmd/server@v$VERSION" >"$log" 2>&1 &
  local pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    sleep 10
    kill -0 "$pid" 2>/dev/null || break
    local n extra=""; n=$(grep -c '^go: downloading' "$log" || true)
    [ "${n:-0}" -gt 0 ] && extra=" ($n modules downloaded)"
    say "  ... still building, $((SECONDS - t0)) s$extra"
  done
  if ! wait "$pid"; then
    tail -n 20 "$log" >&2
    die "go install failed (full log: $log)"
  fi
  [ -x "$BIN" ] || die "go install succeeded but $BIN is missing"
  say "built in $((SECONDS - t0)) s: $BIN ($(du -m "$BIN" | cut -f1) MB)"
}

free_port() { # tcp|udp
  python3 "$ROOT/scripts/free-port.py" "$1"
}

start() {
  [ $# -ge 3 ] || die "usage: $0 start DIR KEY SECRET [WEBHOOK_URL]"
  local dir=$1 key=$2 secret=$3 webhook=${4:-}
  [ -x "$BIN" ] || die "$BIN is missing: run scripts/livekit-server.sh build"
  mkdir -p "$dir"
  local port tcp udp
  port=$(free_port tcp); tcp=$(free_port tcp); udp=$(free_port udp)
  while [ "$tcp" = "$port" ]; do tcp=$(free_port tcp); done
  {
    echo "port: $port"
    echo "bind_addresses: [127.0.0.1]"
    echo "rtc:"
    echo "  tcp_port: $tcp"
    echo "  udp_port: $udp"
    echo "  use_external_ip: false"
    echo "  node_ip: 127.0.0.1"
    echo "keys:"
    echo "  \"$key\": \"$secret\""
    if [ -n "$webhook" ]; then
      echo "webhook:"
      echo "  api_key: \"$key\""
      echo "  urls: [\"$webhook\"]"
    fi
    echo "logging:"
    echo "  level: info"
  } >"$dir/livekit.yaml"
  chmod 600 "$dir/livekit.yaml"
  rm -f "$dir/url"
  setsid "$BIN" --config "$dir/livekit.yaml" >"$dir/livekit.log" 2>&1 </dev/null &
  local pid=$!
  echo "$pid" >"$dir/pid"
  if [ -n "${LIVEKIT_OWNER_PID:-}" ]; then
    # A watchdog of its own session: stops the server when the owner ends.
    setsid bash -c 'while kill -0 "$1" 2>/dev/null && kill -0 "$2" 2>/dev/null; do sleep 1; done
                    kill -TERM "$2" 2>/dev/null; sleep 10; kill -KILL "$2" 2>/dev/null' \
      _ "$LIVEKIT_OWNER_PID" "$pid" >/dev/null 2>&1 </dev/null &
  fi
  local t0=$SECONDS
  until curl -fsS -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 20 "$dir/livekit.log" >&2
      die "the server exited during start-up (log: $dir/livekit.log)"
    fi
    if [ $((SECONDS - t0)) -ge 30 ]; then
      kill -KILL "$pid" 2>/dev/null || true
      tail -n 20 "$dir/livekit.log" >&2
      die "no answer on port $port after 30 s (log: $dir/livekit.log)"
    fi
    sleep 0.1
  done
  echo "ws://127.0.0.1:$port" >"$dir/url"
  say "v$VERSION ready at ws://127.0.0.1:$port (rtc tcp $tcp, udp $udp; pid $pid; log $dir/livekit.log)"
}

stop() {
  [ $# -ge 1 ] || die "usage: $0 stop DIR"
  local dir=$1 pid
  [ -f "$dir/pid" ] || return 0
  pid=$(cat "$dir/pid")
  if kill -TERM "$pid" 2>/dev/null; then
    for _ in $(seq 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$dir/pid"
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
  build) build ;;
  path) [ -x "$BIN" ] || exit 1; echo "$BIN" ;;
  start) start "$@" ;;
  stop) stop "$@" ;;
  *) die "usage: $0 build | path | start DIR KEY SECRET [WEBHOOK_URL] | stop DIR" ;;
esac
