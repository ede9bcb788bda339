#!/usr/bin/env bash
# Formatting: clang-format 14 over every C++ file. (The clang 14 warnings-as-errors build is the
# asan preset, which scripts/test.sh builds and tests.)
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.cpp' '*.hpp')
clang-format-14 --dry-run -Werror "${files[@]}"
echo "lint: clang-format clean"
