#!/usr/bin/env python3
"""Prints strategy_linux_bench's JSON output (--benchmark_out) as a table of medians with each
strategy's ratio to read-write: throughput, sender and receiver CPU seconds per GiB."""
import json
import sys

rows, sizes, strategies = {}, [], []
for b in json.load(open(sys.argv[1]))["benchmarks"]:
    if b.get("aggregate_name") != "median" or "bytes_per_second" not in b:
        continue
    _, strategy, size = b["run_name"].split("/")[:3]
    size = int(size)
    rows[(strategy, size)] = b
    if size not in sizes:
        sizes.append(size)
    if strategy not in strategies:
        strategies.append(strategy)

for size in sorted(sizes):
    base = rows.get(("read-write", size))
    print(f"\n{size // 1024} KiB file -> loopback socket (medians)")
    print("| strategy | GB/s | x read-write | sender CPU s/GiB | x read-write | receiver CPU s/GiB |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for s in strategies:
        b = rows.get((s, size))
        if not b:
            print(f"| {s} | n/a | | | | |")
            continue
        rate, tx, rx = b["bytes_per_second"], b["tx_cpu_s_per_GiB"], b["rx_cpu_s_per_GiB"]
        print(f"| {s} | {rate / 1e9:.2f} | {rate / base['bytes_per_second']:.2f} | {tx:.3f} | "
              f"{tx / base['tx_cpu_s_per_GiB']:.2f} | {rx:.3f} |")
