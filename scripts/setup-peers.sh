#!/usr/bin/env bash
# The peers the benchmarks in bench/peers/ measure zcnet against (Debian packages): nginx, wrk,
# haproxy; and perf (linux-perf), which bench/peers/serve_cost.py counts syscalls and samples
# the CPU with.
# Not needed by the tests; nginx and haproxy are only started by the benchmark scripts, on loopback.
set -euo pipefail
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
if ! command -v nginx >/dev/null || ! command -v wrk >/dev/null ||
  ! command -v haproxy >/dev/null || ! command -v perf >/dev/null; then
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq nginx-light wrk haproxy linux-perf >/dev/null
fi
echo "setup-peers: nginx, wrk, haproxy and perf present"
