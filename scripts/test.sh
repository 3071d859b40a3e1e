#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds callsig twice
# (normal, and with AddressSanitizer + UndefinedBehaviorSanitizer) and runs
# every unit and scenario test in both builds. Prints ctest summaries and a
# final "N passed, M failed" line over both builds.
set -uo pipefail
cd "$(dirname "$0")/.."
t0=$SECONDS
scripts/install-deps.sh || exit 1
echo "install-deps: $((SECONDS - t0)) s"
# install-deps.sh built livekit-server: the media join scenario (0040) must
# run, not skip.
export CALLSIG_TEST_REQUIRE_LIVEKIT=1

jobs=${CALLSIG_TEST_JOBS:-2}
passed=0; failed=0
run_build() { # dir, cmake args...
  local dir=$1; shift
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null || return 1
  cmake --build "$dir" -j"$jobs" || return 1
  local log="$PWD/$dir/ctest.log"
  (cd "$dir" && ctest --output-on-failure -j"$jobs" 2>&1 | tee "$log")
  local total fails
  total=$(sed -n 's/.*tests passed, \([0-9]*\) tests failed out of \([0-9]*\).*/\2/p' "$log" | tail -1)
  fails=$(sed -n 's/.*tests passed, \([0-9]*\) tests failed out of.*/\1/p' "$log" | tail -1)
  if [ -z "$total" ]; then failed=$((failed + 1)); return 1; fi
  passed=$((passed + total - fails)); failed=$((failed + fails))
}
echo "== normal build =="
run_build build || true
echo "== sanitizer build (ASan + UBSan) =="
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  run_build build-asan -DCALLSIG_SANITIZE=ON || true
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
