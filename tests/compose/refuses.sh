#!/usr/bin/env bash
# The compose check must refuse broken variants of docker-compose.yml: each
# edit below breaks one thing that scripts/compose-check.sh promises to catch.
#   tests/compose/refuses.sh CALLSIG_BIN
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
callsig=${1:?usage: refuses.sh CALLSIG_BIN}
tmp=$(mktemp -d /tmp/callsig-compose-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
variant() { # name, sed expression
  sed -e "$2" "$ROOT/docker-compose.yml" >"$tmp/docker-compose.yml"
  if cmp -s "$ROOT/docker-compose.yml" "$tmp/docker-compose.yml"; then
    echo "FAIL $1: the edit changed nothing"; failed=$((failed + 1)); return
  fi
  if out=$("$ROOT/scripts/compose-check.sh" check "$tmp/docker-compose.yml" "$callsig" 2>&1); then
    echo "FAIL $1: accepted"; failed=$((failed + 1))
  else
    echo "ok   $1: $(grep -m1 -v '^ok:\|: ok:' <<<"$out" | cut -c1-160)"; passed=$((passed + 1))
  fi
}
variant "another Kafka version"        's#apache/kafka:4.1.1#apache/kafka:3.8.0#'
variant "another livekit version"      's#livekit/livekit-server:v1.13.5#livekit/livekit-server:v1.8#'
variant "no replica set"               's#"--replSet", "rs0", ##'
variant "no w=majority"                's#&w=majority##'
variant "no retryable writes"          's#&retryWrites=true##'
variant "secrets differ"               's#callsig-dev: callsig-dev-secret-change-me-0123456789#callsig-dev: another-secret-0123456789abcdef0123#'
variant "webhook elsewhere"            's#http://callsig:8080/webhooks/livekit#http://callsig:9090/hook#'
variant "unknown service in depends_on" 's#mongo-init: {condition#mongo-inti: {condition#'
variant "not in the schema"            's#^    restart: unless-stopped#    restart_policy: unless-stopped#'
variant "bad duration"                 's#interval: 5s#interval: 5 parsecs#'
variant "livekit config key unknown"   's#^          use_external_ip: false#          use_external_ip: false\n          bogus_key: 1#'
variant "callsig variable unknown"     's#^      CALLSIG_KAFKA_BROKERS: kafka:9092#      CALLSIG_KAFKA_BROKERS: kafka:9092\n      CALLSIG_NO_SUCH_KEY: "1"#'
variant "short LiveKit secret"         's#^x-livekit-secret: .*#x-livekit-secret: \&lk_secret short#'
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
