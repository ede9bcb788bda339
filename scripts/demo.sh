#!/usr/bin/env bash
# zcnet's main job until `zcnet bench` exists: build, then send a generated 1 GiB file over
# loopback with every strategy (`zcnet send` -> `zcnet recv`), printing throughput, sender CPU
# and which strategy ran. ZCNET_DEMO_SIZE and ZCNET_DEMO_RUNS shrink or grow it.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target zcnet_cli
exec python3 bench/e2e/strategies.py --cli build/release/zcnet \
  --size "${ZCNET_DEMO_SIZE:-1073741824}" --runs "${ZCNET_DEMO_RUNS:-3}"
