#!/usr/bin/env bash
# Fetches and builds the pinned librdkafka that callsig links (statically):
# the librdkafka 2.15.1 source tree that Confluent ships inside its npm
# package @confluentinc/kafka-javascript 1.10.1 (package/deps/librdkafka).
# The tarball's sha256 is checked before anything is extracted.
#
# Installs into CALLSIG_CACHE_DIR (default: .cache/ at the repo root, ignored
# by git) as librdkafka-2.15.1/. Does nothing when that prefix holds a stamp
# with this version and checksum. Build dependencies (zlib, OpenSSL, zstd,
# lz4, curl, libsasl2 development packages) come from scripts/install-deps.sh.
#
# Usage: scripts/deps-librdkafka.sh [--print-prefix]
set -euo pipefail
cd "$(dirname "$0")/.."

RDKAFKA_VERSION=2.15.1
NPM_PACKAGE=@confluentinc/kafka-javascript
NPM_VERSION=1.10.1
NPM_TARBALL=confluentinc-kafka-javascript-${NPM_VERSION}.tgz
NPM_SHA256=ada7d703bb1d3237e2292bfabf438d663b6160c9f1ac2a2406b5dc4257c81b66

cache=${CALLSIG_CACHE_DIR:-$PWD/.cache}
prefix=$cache/librdkafka-$RDKAFKA_VERSION
stamp_want="librdkafka $RDKAFKA_VERSION $NPM_PACKAGE@$NPM_VERSION sha256:$NPM_SHA256"
stamp=$prefix/.callsig-stamp

if [ "${1:-}" = "--print-prefix" ]; then echo "$prefix"; exit 0; fi

say() { echo "deps-librdkafka: $*"; }

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$stamp_want" ] \
   && [ -f "$prefix/lib/librdkafka.a" ] && [ -f "$prefix/lib/pkgconfig/rdkafka.pc" ]; then
  say "librdkafka $RDKAFKA_VERSION already built in $prefix"
  exit 0
fi

start=$(date +%s)
mkdir -p "$cache/src"
tarball=$cache/src/$NPM_TARBALL
if [ ! -f "$tarball" ] || ! echo "$NPM_SHA256  $tarball" | sha256sum -c --status; then
  say "fetching $NPM_PACKAGE@$NPM_VERSION (librdkafka $RDKAFKA_VERSION source) with npm pack"
  rm -f "$tarball"
  (cd "$cache/src" && npm pack --silent "$NPM_PACKAGE@$NPM_VERSION" >/dev/null)
fi
if ! echo "$NPM_SHA256  $tarball" | sha256sum -c --status; then
  say "checksum mismatch for $tarball:"
  say "  expected $NPM_SHA256"
  say "  got      $(sha256sum "$tarball" | cut -d' ' -f1)"
  rm -f "$tarball"
  exit 1
fi
say "sha256 ok ($NPM_SHA256)"

srcdir=$cache/src/librdkafka-$RDKAFKA_VERSION
rm -rf "$srcdir" "$cache/src/package"
say "extracting package/deps/librdkafka"
tar -xzf "$tarball" -C "$cache/src" package/deps/librdkafka
mv "$cache/src/package/deps/librdkafka" "$srcdir"
rm -rf "$cache/src/package"
have=$(sed -n 's/^#define RD_KAFKA_VERSION *0x\([0-9a-fA-F]*\).*/\1/p' "$srcdir/src/rdkafka.h")
want=$(printf '%02x%02x%02x' $(echo "$RDKAFKA_VERSION" | tr . ' '))
case "$have" in
  "$want"*) ;;
  *) say "source says version 0x$have, expected $RDKAFKA_VERSION"; exit 1 ;;
esac

jobs=$(nproc 2>/dev/null || echo 2)
rm -rf "$prefix"
say "configuring (prefix $prefix)"
(cd "$srcdir" && ./configure --prefix="$prefix" --disable-gssapi \
   >"$srcdir/callsig-configure.txt" 2>&1) || { tail -40 "$srcdir/callsig-configure.txt"; exit 1; }
grep -E '^ *BUILT_WITH' "$srcdir/Makefile.config" | sed 's/^/deps-librdkafka: /' || true
say "building with $jobs jobs (30-80 s on 2 cores)"
(cd "$srcdir" && make -j"$jobs" -C src >"$srcdir/callsig-make.txt" 2>&1) \
  || { tail -40 "$srcdir/callsig-make.txt"; exit 1; }
say "installing"
(cd "$srcdir" && make -C src install >"$srcdir/callsig-install.txt" 2>&1) \
  || { tail -40 "$srcdir/callsig-install.txt"; exit 1; }
# callsig links librdkafka.a only: without the shared library in the prefix,
# nothing can pick a shared librdkafka from here, and the system's 2.0.2
# is never on the link line.
rm -f "$prefix"/lib/librdkafka*.so* "$prefix"/lib/librdkafka-static* \
      "$prefix"/lib/pkgconfig/rdkafka-static.pc "$prefix"/lib/pkgconfig/rdkafka++*.pc
echo "$stamp_want" >"$stamp"
say "librdkafka $RDKAFKA_VERSION built in $(( $(date +%s) - start )) s into $prefix"
