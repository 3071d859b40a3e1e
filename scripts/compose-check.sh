#!/usr/bin/env bash
# Checks docker-compose.yml without a container engine (none runs here):
#
#   scripts/compose-check.sh build
#       Builds tests/compose (compose-go v2.16.2, the Docker Compose CLI's own
#       loader, from the Go module proxy) into .cache/compose-check-v2.16.2/;
#       does nothing when it is built.
#   scripts/compose-check.sh check [FILE] [CALLSIG_BIN]
#       1. compose-go loads FILE (default docker-compose.yml) as `docker
#          compose config` would: schema, interpolation, normalization,
#          references between services, volumes and networks;
#       2. what callsig's stack needs: the Kafka and livekit-server images
#          are the versions the tests run (read from scripts/kafka-broker.sh
#          and scripts/livekit-server.sh), MongoDB is replica set rs0
#          initiated by the file, callsig's URI asks for it with w=majority
#          and retryable writes, livekit's keys and webhook match callsig;
#       3. the built livekit-server parses the service's LIVEKIT_CONFIG;
#       4. with CALLSIG_BIN: `callsig --check-config` accepts the callsig
#          service's environment (and nothing else).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
COMPOSE_GO=v2.16.2
CACHE="$ROOT/.cache/compose-check-$COMPOSE_GO"
BIN="$CACHE/compose-check"

say() { printf 'compose-check: %s\n' "$*"; }
die() { printf 'compose-check: %s\n' "$*" >&2; exit 1; }

build() {
  # Rebuilt when the tool's source is newer than the binary.
  if [ -x "$BIN" ] && [ -z "$(find "$ROOT/tests/compose" -newer "$BIN" -type f)" ]; then
    return 0
  fi
  command -v go >/dev/null || die "go is not installed"
  mkdir -p "$CACHE"
  local t0=$SECONDS
  say "building the checker (compose-go $COMPOSE_GO)"
  (cd "$ROOT/tests/compose" && CGO_ENABLED=0 go build -o "$BIN" .) >"$CACHE/build.log" 2>&1 ||
    { cat "$CACHE/build.log" >&2; die "go build failed"; }
  say "built in $((SECONDS - t0)) s"
}

check() {
  local file=${1:-$ROOT/docker-compose.yml} callsig=${2:-}
  build >/dev/null
  local kafka=4.1.1 livekit
  if [ -f "$ROOT/scripts/kafka-broker.sh" ]; then
    kafka=$(sed -n 's/^KAFKA_VERSION=\([0-9.]*\).*/\1/p' "$ROOT/scripts/kafka-broker.sh")
  fi
  livekit=$(sed -n 's/^VERSION=\([0-9.]*\).*/\1/p' "$ROOT/scripts/livekit-server.sh")
  "$BIN" -callsig -kafka-image "apache/kafka:$kafka" \
    -livekit-image "livekit/livekit-server:v$livekit" "$file"

  local lk_bin
  if lk_bin=$("$ROOT/scripts/livekit-server.sh" path); then
    local body out
    body=$("$BIN" -var livekit:LIVEKIT_CONFIG "$file")
    out=$("$lk_bin" --config-body "$body" ports 2>&1 || true)
    if ! grep -q "7880 - HTTP service" <<<"$out" || grep -q "could not parse" <<<"$out"; then
      die "livekit-server v$livekit refuses the livekit service's LIVEKIT_CONFIG: $out"
    fi
    say "ok: livekit-server v$livekit parses the livekit service's LIVEKIT_CONFIG"
  else
    say "livekit-server is not built: LIVEKIT_CONFIG not checked by the server"
  fi

  if [ -n "$callsig" ]; then
    local vars
    mapfile -t vars < <("$BIN" -env callsig "$file")
    env -i "${vars[@]}" "$callsig" --check-config ||
      die "callsig --check-config refuses the callsig service's environment"
    say "ok: callsig --check-config accepts the callsig service's environment"
  fi
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
  build) build ;;
  check) check "$@" ;;
  *) die "usage: $0 build | check [FILE] [CALLSIG_BIN]" ;;
esac
