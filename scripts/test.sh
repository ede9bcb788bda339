#!/usr/bin/env bash
# Runs every test: lint (clang-format), then the release (g++ 12), ASan+UBSan (clang 14), TSan
# and portable (g++ 12) builds, each through ctest (the ASan and TSan servers also through the
# verifying soak, tests/soak/serve_soak.py, plain and with injected faults, and through it again
# with zcnet proxy in front of the server), the build with
# observability compiled out (noobserve: the zcnet command and a smoke test of it), every fuzz
# target for a bounded time (scripts/fuzz.sh, ZCNET_FUZZ_SECONDS each), then the Python tests.
# ZCNET_TEST_PRESETS="release asan" picks a subset ("fuzz" and "python" name those two steps).
set -euo pipefail
cd "$(dirname "$0")/.."
presets=${ZCNET_TEST_PRESETS:-"release asan tsan portable noobserve fuzz"}
jobs=$(nproc)
stage_start=$SECONDS
stage_done() {  # prints how long the step took: CI's time budget is spent here
  echo "=== $1: $((SECONDS - stage_start)) s"
  stage_start=$SECONDS
}
if [ -z "${ZCNET_TEST_PRESETS:-}" ]; then
  scripts/lint.sh
  stage_done lint
fi
for preset in $presets; do
  [ "$preset" = python ] && continue  # not a CMake preset: the Python step below
  if [ "$preset" = fuzz ]; then  # builds its own preset and runs the fuzzers
    scripts/fuzz.sh
    stage_done "fuzz"
    continue
  fi
  echo "=== $preset: configure and build"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j "$jobs"
  stage_done "$preset build"
  if [ "$preset" = noobserve ]; then  # no test programs in this build: a smoke test of the command
    scripts/smoke-noobserve.sh
    stage_done "$preset smoke"
    continue
  fi
  echo "=== $preset: ctest"
  # Tests share 2 cores and real sockets: run them one at a time so timings stay sane.
  env_extra=()
  # TSan runs the seeded fault injection on 500 seeds per strategy and 50 per loop backend (ASan
  # runs all 2000 and 200).
  [ "$preset" = tsan ] && env_extra=(TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1"
                                     ZCNET_FAULT_SEEDS=500 ZCNET_LOOP_FAULT_SEEDS=50)
  env "${env_extra[@]}" ctest --preset "$preset" -j 1
  stage_done "$preset ctest"
  if [ "$preset" = asan ] || [ "$preset" = tsan ]; then
    # The verifying soak against the sanitized server (60 s under ASan, 20 s under TSan, which
    # runs several times slower), then 15 s with faults injected at the server's syscall seam.
    # Leaks are the sanitizer's to find at exit: its own memory grows with what it watches.
    soak_seconds=${ZCNET_SOAK_SECONDS:-$([ "$preset" = asan ] && echo 60 || echo 20)}
    env "${env_extra[@]}" python3 tests/soak/serve_soak.py --zcnet "build/$preset/zcnet" \
      --duration "$soak_seconds" --clients 1000 --no-memory-check
    env "${env_extra[@]}" python3 tests/soak/serve_soak.py --zcnet "build/$preset/zcnet" \
      --duration 15 --clients 200 --faults 1:64 --no-memory-check
    # The same through zcnet proxy in front of the server (--via-proxy), 15 s with both faulted
    # (the release run below soaks it unfaulted).
    env "${env_extra[@]}" python3 tests/soak/serve_soak.py --zcnet "build/$preset/zcnet" \
      --via-proxy --duration 15 --clients 500 --faults 1:64 --no-memory-check
    stage_done "$preset soak"
  fi
  if [ "$preset" = release ]; then  # the soaks with memory and descriptors held flat
    python3 tests/soak/serve_soak.py --zcnet build/release/zcnet --duration 20 --clients 1000
    python3 tests/soak/serve_soak.py --zcnet build/release/zcnet --via-proxy --duration 15 \
      --clients 500
    stage_done "$preset soak"
  fi
done

# Python package: `pip install .` into build/venv (scripts/setup.sh makes it; build
# isolation off so pip uses the venv's scikit-build-core and nanobind), then pytest. Runs when
# ZCNET_TEST_PRESETS is unset or names "python".
if [ -z "${ZCNET_TEST_PRESETS:-}" ] || [[ " $presets " == *" python "* ]]; then
  echo "=== python: pip install . and pytest"
  build/venv/bin/python -m pip install -q --disable-pip-version-check --no-build-isolation .
  stage_done "python build"
  (cd tests/python && ../../build/venv/bin/python -m pytest -q -p no:cacheprovider)
  stage_done "python pytest"
fi
