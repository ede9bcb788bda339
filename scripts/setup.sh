#!/usr/bin/env bash
# Installs everything zcnet needs on Debian 12, from Debian's packages only. Idempotent.
set -euo pipefail

packages=(
  cmake ninja-build g++ pkg-config            # build
  clang-14 clang-format-14 libclang-rt-14-dev # second compiler, formatting, sanitizer runtime
  liburing-dev                                # io_uring
  libgtest-dev libgmock-dev                   # unit and integration tests
  libbenchmark-dev                            # bench/micro
  libcli11-dev                                # command line
  libfmt-dev                                  # formatting
  nlohmann-json3-dev                          # JSON output and profiles
  libxxhash-dev                               # test hashing (byte-exact checks)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
echo "setup: all ${#packages[@]} packages present"
