#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds callsig twice
# (normal, and with AddressSanitizer + UndefinedBehaviorSanitizer) and runs
# every unit and scenario test in both builds, first on the librdkafka mock
# cluster (ctest -LE real), then on a real Apache Kafka broker (ctest -L real:
# the fixture starts scripts/kafka-broker.sh once, in <build>/kafka-broker).
# Prints ctest summaries, how long each phase took and a final
# "N passed, M failed" line over both builds.
#
# CALLSIG_TEST_JOBS (default 2) runs that many tests at once;
# CALLSIG_TEST_REAL_KAFKA=0 leaves the real-broker runs out.
set -uo pipefail
cd "$(dirname "$0")/.."
suite_t0=$SECONDS
phases=()
phase() { # name, command...: runs it and records how long it took
  local name=$1 t0=$SECONDS rc=0; shift
  "$@" || rc=$?
  phases+=("$(printf '%-44s %5d s' "$name" $((SECONDS - t0)))")
  echo "-- $name: $((SECONDS - t0)) s"
  return $rc
}
phase "install dependencies" scripts/install-deps.sh || exit 1
real=${CALLSIG_TEST_REAL_KAFKA:-1}
if [ "$real" != 0 ]; then
  phase "Kafka broker jars (Maven Central, cached)" scripts/kafka-broker.sh fetch || exit 1
fi
# install-deps.sh built livekit-server: the media join scenario (0040) must
# run, not skip; it installed coturn and aiortc: so must the peer-to-peer
# scenario (0072).
export CALLSIG_TEST_REQUIRE_LIVEKIT=1
export CALLSIG_TEST_REQUIRE_P2P=1

jobs=${CALLSIG_TEST_JOBS:-2}
passed=0; failed=0
run_ctest() { # dir, log name, ctest args...
  local dir=$1 log="$PWD/$1/$2"; shift 2
  (cd "$dir" && ctest --output-on-failure -j"$jobs" "$@" 2>&1 | tee "$log")
  local total fails
  total=$(sed -n 's/.*tests passed, \([0-9]*\) tests failed out of \([0-9]*\).*/\2/p' "$log" | tail -1)
  fails=$(sed -n 's/.*tests passed, \([0-9]*\) tests failed out of.*/\1/p' "$log" | tail -1)
  [ -n "$total" ] || return 1 # no summary: counted as one failure by the caller
  passed=$((passed + total - fails)); failed=$((failed + fails))
}
build() { # dir, cmake args...
  local dir=$1; shift
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null &&
    cmake --build "$dir" -j"$jobs"
}
run_build() { # label, dir, cmake args...
  local label=$1 dir=$2; shift 2
  phase "$label: build" build "$dir" "$@" || { failed=$((failed + 1)); return 1; }
  phase "$label: unit + mock-cluster scenarios" run_ctest "$dir" ctest.log -LE real || true
  if [ "$real" != 0 ]; then
    phase "$label: real-broker scenarios" run_ctest "$dir" ctest-real.log -L real || true
  fi
}
echo "== normal build =="
run_build normal build || true
echo "== sanitizer build (ASan + UBSan) =="
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  run_build sanitizer build-asan -DCALLSIG_SANITIZE=ON || true
echo "== phases =="
printf '%s\n' "${phases[@]}"
echo "total: $((SECONDS - suite_t0)) s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
