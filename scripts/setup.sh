#!/usr/bin/env bash
# Installs everything zcnet needs on Debian 12, from Debian's packages only. Idempotent.
set -euo pipefail

packages=(
  cmake ninja-build g++ pkg-config            # build
  clang-14 clang-format-14 libclang-rt-14-dev # second compiler, formatting, sanitizer and libFuzzer runtimes
  liburing-dev                                # io_uring
  libgtest-dev libgmock-dev                   # unit and integration tests
  libbenchmark-dev                            # bench/micro
  libcli11-dev                                # command line
  libfmt-dev                                  # formatting
  nlohmann-json3-dev                          # JSON output and profiles
  libxxhash-dev                               # test hashing (byte-exact checks)
  chromium                                    # headless: renders the zcnet bench HTML report in tests
  python3-venv python3-dev                    # Python package (python/): venv, headers
  bpftrace                                    # tools/trace/*.bt and their tests
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

# promtool, which the metrics tests run over every exposition: Debian's prometheus package holds
# it, and installing that package would also install (and try to start) a Prometheus server, so
# the binary is taken out of the downloaded package into build/tools instead.
cd "$(dirname "$0")/.."
if [ ! -x build/tools/promtool ]; then
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download -qq prometheus 2>/dev/null ||
    { ${sudo:-} apt-get update -qq && apt-get download -qq prometheus; })
  dpkg-deb -x "$tmp"/prometheus_*.deb "$tmp/x"
  install -D -m 755 "$tmp/x/usr/bin/promtool" build/tools/promtool
  rm -rf "$tmp"
fi
echo "setup: $(build/tools/promtool --version 2>&1 | head -1)"

# Python package: a venv in build/venv with the build and test tools from PyPI
# (scikit-build-core + nanobind build the extension; pytest, pytest-asyncio, uvloop test it).
venv=build/venv
cd "$(dirname "$0")/.."
[ -x "$venv/bin/python" ] || /usr/bin/python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check \
  "scikit-build-core>=0.10" "nanobind>=2.0" pytest "pytest-asyncio>=1.4" uvloop
echo "setup: python venv $venv ready"
