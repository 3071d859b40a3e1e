#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds callsig twice
# (normal, and with AddressSanitizer + UndefinedBehaviorSanitizer) and runs
# every unit and scenario test in both builds. Prints ctest summaries and a
# final "N passed, M failed" line over both builds, and how long each phase
# took (the first run on a fresh machine also fetches and builds librdkafka).
set -uo pipefail
cd "$(dirname "$0")/.."
phases=()
phase_start=$(date +%s)
phase_end() { # name: records the time since the previous phase ended
  local now; now=$(date +%s)
  phases+=("$(printf '%-28s %5d s' "$1" $((now - phase_start)))")
  echo "-- $1: $((now - phase_start)) s"
  phase_start=$now
}
echo "== dependencies (Debian packages, npm modules, librdkafka) =="
scripts/install-deps.sh || exit 1
phase_end "dependencies"

jobs=${CALLSIG_TEST_JOBS:-2}
passed=0; failed=0
run_build() { # name, dir, cmake args...
  local name=$1 dir=$2; shift 2
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null || return 1
  cmake --build "$dir" -j"$jobs" || return 1
  phase_end "$name: build"
  local log="$PWD/$dir/ctest.log"
  (cd "$dir" && ctest --output-on-failure -j"$jobs" 2>&1 | tee "$log")
  phase_end "$name: tests"
  local total fails
  total=$(sed -n 's/.*tests passed, \([0-9]*\) tests failed out of \([0-9]*\).*/\2/p' "$log" | tail -1)
  fails=$(sed -n 's/.*tests passed, \([0-9]*\) tests failed out of.*/\1/p' "$log" | tail -1)
  [ -n "$total" ] || return 1 # no summary: counted as one failure by the caller
  passed=$((passed + total - fails)); failed=$((failed + fails))
}
echo "== normal build =="
run_build "normal" build || { failed=$((failed + 1)); phase_end "normal: failed"; }
echo "== sanitizer build (ASan + UBSan) =="
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  run_build "sanitizer" build-asan -DCALLSIG_SANITIZE=ON \
  || { failed=$((failed + 1)); phase_end "sanitizer: failed"; }
echo "== time per phase =="
printf '%s\n' "${phases[@]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
