#!/usr/bin/env bash
# zcnet's main job: build, then `zcnet bench` with its defaults: a server (on its own event-loop
# thread) and `zcnet load` (a child process) over loopback, sweeping strategy, payload size,
# concurrency and loop backend one at a time, 3 interleaved runs per cell (under 90 s on 2 cores).
# Prints the table and writes zcnet-bench.json (every raw sample + the machine) and
# zcnet-bench.html (self-contained charts) in the current directory. Extra arguments go to
# `zcnet bench` (e.g. scripts/demo.sh --sizes 1M --concurrency 100,500,1000 --axis-strategies all).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
(cd "$root" && cmake --preset release >/dev/null &&
  cmake --build --preset release -j "$(nproc)" --target zcnet_cli)
exec "$root/build/release/zcnet" bench "$@"
