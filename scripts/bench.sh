#!/usr/bin/env bash
# Prints callsig's CPU-cost benchmarks (optimised build). Numbers, not
# pass/fail: compare them with docs/BENCHMARKS.md on the same machine kind.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build-rel -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-rel -j"$(nproc)" --target callsig_bench >/dev/null
exec build-rel/tests/callsig_bench "$@"
