#!/usr/bin/env bash
# Fetches the OpenIM v3 schema as upstream publishes it (Go module
# github.com/openimsdk/protocol at a pinned version, from the Go module
# proxy; the proxy refuses to list @latest, so the version is named),
# compiles its rtc/rtc.proto and sdkws/sdkws.proto (with the wrapperspb they
# import) with protoc (protoc-c's protoc front end) into a descriptor set,
# and builds tests/upstream (a decoder/encoder over that descriptor set).
# Test-only: scenario 0081 runs it; nothing of it is linked into callsig.
#
# Everything goes under CALLSIG_CACHE_DIR (default .cache/, ignored by git):
# go/ (GOPATH, module cache) and upstream/ (desc.pb, upstream-check). Does
# nothing when upstream/ holds a stamp for this version.
#
# Usage: scripts/upstream-schema.sh [--print-dir]
set -euo pipefail
cd "$(dirname "$0")/.."

PROTOCOL_MODULE=github.com/openimsdk/protocol
PROTOCOL_VERSION=v0.0.72

cache=${CALLSIG_CACHE_DIR:-$PWD/.cache}
out=$cache/upstream
stamp_want="$PROTOCOL_MODULE@$PROTOCOL_VERSION $(sha256sum tests/upstream/main.go tests/upstream/go.sum | sha256sum | cut -c1-16)"

if [ "${1:-}" = "--print-dir" ]; then echo "$out"; exit 0; fi
if [ -f "$out/.stamp" ] && [ "$(cat "$out/.stamp")" = "$stamp_want" ]; then
        exit 0
fi

export GOPATH=$cache/go GOMODCACHE=$cache/go/pkg/mod GOFLAGS=-modcacherw
export GOTOOLCHAIN=local
mkdir -p "$out"
dir=$(cd /tmp && go mod download -json "$PROTOCOL_MODULE@$PROTOCOL_VERSION" |
      sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -n "$dir" ] && [ -f "$dir/rtc/rtc.proto" ] || {
        echo "upstream-schema: $PROTOCOL_MODULE@$PROTOCOL_VERSION has no rtc/rtc.proto" >&2
        exit 1
}
protoc-c --descriptor_set_out="$out/desc.pb" --include_imports -I"$dir" \
        rtc/rtc.proto sdkws/sdkws.proto
(cd tests/upstream && go build -o "$out/upstream-check" .)
echo "$stamp_want" > "$out/.stamp"
echo "upstream-schema: $PROTOCOL_MODULE@$PROTOCOL_VERSION ready in $out"
