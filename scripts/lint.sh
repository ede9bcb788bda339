#!/usr/bin/env bash
# Formatting (clang-format 14) and a warnings-as-errors build with clang 14.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.cpp' '*.hpp')
clang-format-14 --dry-run -Werror "${files[@]}"
cmake --preset clang >/dev/null
cmake --build --preset clang -j "$(nproc)"
echo "lint: clang-format clean, clang 14 build clean"
