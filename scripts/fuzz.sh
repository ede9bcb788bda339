#!/usr/bin/env bash
# Builds the fuzz preset (libFuzzer, ASan+UBSan, clang 14) and runs every fuzz target in fuzz/
# for a bounded time, starting from its seed corpus (fuzz/corpus/NAME) and its regression inputs
# (fuzz/regressions/NAME). New inputs a run finds go to a temporary directory, not the repository.
# A crash, a broken check, a leak or a hang (an input running longer than 10 s) fails the run and
# leaves the input in build/fuzz/findings/: add it to fuzz/regressions/NAME once fixed, so every
# build's replay test runs it from then on.
#
#   scripts/fuzz.sh                     every target, ZCNET_FUZZ_SECONDS (default 10) each
#   scripts/fuzz.sh request path        only these targets
#   ZCNET_FUZZ_SECONDS=600 scripts/fuzz.sh request   a longer run of one target
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${ZCNET_FUZZ_SECONDS:-10}
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=($(sed -n 's/^set(zcnet_fuzz_targets \(.*\))$/\1/p' fuzz/CMakeLists.txt))
fi
[ ${#targets[@]} -gt 0 ] || { echo "fuzz.sh: no targets found in fuzz/CMakeLists.txt" >&2; exit 1; }

cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$(nproc)" --target "${targets[@]/#/fuzz_}"

findings=build/fuzz/findings
mkdir -p "$findings"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=()
for t in "${targets[@]}"; do
  mkdir -p "$work/$t"
  inputs=("$work/$t" "fuzz/corpus/$t")
  [ -d "fuzz/regressions/$t" ] && inputs+=("fuzz/regressions/$t")
  echo "=== fuzz $t: ${seconds} s"
  if ! build/fuzz/fuzz/fuzz_"$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -max_len=4096 -print_final_stats=1 -artifact_prefix="$findings/$t-" "${inputs[@]}" \
      >"$work/$t.log" 2>&1; then
    tail -n 40 "$work/$t.log"
    failed+=("$t")
    continue
  fi
  grep -E "^stat::(number_of_executed_units|new_units_added|peak_rss_mb)" "$work/$t.log" |
    tr '\n' ' '
  echo
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: findings in ${failed[*]}: the inputs are in $findings/" >&2
  exit 1
fi
