#!/usr/bin/env python3
"""Sends one page-cached file over loopback with every strategy, `zcnet send` to `zcnet recv`,
alternating strategies within each round (A B C ... A B C ...), and prints medians and ratios to
read-write: throughput and the sender's CPU seconds per GiB. Bounded: --runs rounds, one file."""
import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile

STRATEGIES = ["read-write", "mmap", "sendfile", "splice", "msg-zerocopy", "uring-send",
              "uring-send-zc", "uring-splice", "auto"]


def make_file(path, size):
    block = bytes((i * 131 + 7) & 0xFF for i in range(1 << 20))
    with open(path, "wb") as f:
        for _ in range(size >> 20):
            f.write(block)
        f.write(block[: size & ((1 << 20) - 1)])
    with open(path, "rb") as f:  # pull it into the page cache
        while f.read(8 << 20):
            pass


def file_hash(path):
    h = hashlib.blake2b()
    with open(path, "rb") as f:
        while chunk := f.read(8 << 20):
            h.update(chunk)
    return h.hexdigest()


def one_run(cli, path, strategy, out=None):
    rx = subprocess.Popen([cli, "recv", "--listen", "127.0.0.1:0", "--json"]
                          + (["--out", out] if out else []),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    port = rx.stderr.readline().rsplit(" ", 1)[-1].strip()
    tx = subprocess.run([cli, "send", path, "--to", f"127.0.0.1:{port}", "--strategy", strategy,
                         "--json"], capture_output=True, text=True, timeout=120)
    out, err = rx.communicate(timeout=120)
    if tx.returncode != 0 or rx.returncode != 0:
        raise RuntimeError(f"{strategy}: send {tx.returncode} {tx.stderr.strip()} / recv {err}")
    return json.loads(tx.stdout), json.loads(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cli", default=os.environ.get("ZCNET_CLI", "build/release/zcnet"))
    ap.add_argument("--size", type=int, default=1 << 30, help="file size in bytes (1 GiB)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--strategies", default=",".join(STRATEGIES))
    ap.add_argument("--json", help="write every raw sample here")
    ap.add_argument("--verify", action="store_true",
                    help="receive into a file (recv --out) and compare its hash with the source's; "
                         "measures disk-cache writes too, so use it for checking, not for speed")
    args = ap.parse_args()
    strategies = args.strategies.split(",")
    samples = {s: [] for s in strategies}
    with tempfile.TemporaryDirectory(prefix="zcnet-e2e-") as tmp:
        path = os.path.join(tmp, "payload.bin")
        make_file(path, args.size)
        want = file_hash(path) if args.verify else None
        out = os.path.join(tmp, "received.bin") if args.verify else None
        for run in range(args.runs):
            for s in strategies:
                tx, rx = one_run(args.cli, path, s, out)
                if tx["bytes"] != args.size or rx["bytes"] != args.size:
                    raise RuntimeError(f"{s}: sent {tx['bytes']} received {rx['bytes']}")
                if want and file_hash(out) != want:
                    raise RuntimeError(f"{s}: received file differs from the source")
                if want:
                    print(f"{s}: received file identical to the source (blake2b)", file=sys.stderr)
                    os.unlink(out)
                samples[s].append({"send": tx, "recv": rx})
                print(f"run {run + 1}/{args.runs} {s:<14} {tx['bytes_per_second'] / 1e9:6.2f} GB/s"
                      f" sender {tx['cpu_seconds_per_gib']:.3f} s/GiB via {tx['strategy']}",
                      file=sys.stderr)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(samples, f, indent=1)

    def med(s, key, side="send"):
        return statistics.median(x[side][key] for x in samples[s])

    base = "read-write" if "read-write" in samples else strategies[0]
    fastest = max(strategies, key=lambda s: med(s, "bytes_per_second"))
    print(f"\n{args.size} B file over loopback, medians of {args.runs} alternating runs")
    print(f"{'strategy':<14} {'GB/s':>6} {'x rw':>6} {'snd CPU s/GiB':>14} {'x rw':>6} "
          f"{'rcv CPU s/GiB':>14} {'ran':<14}")
    for s in strategies:
        rate, cpu = med(s, "bytes_per_second"), med(s, "cpu_seconds_per_gib")
        rcpu = med(s, "cpu_seconds_per_gib", "recv")
        print(f"{s:<14} {rate / 1e9:6.2f} {rate / med(base, 'bytes_per_second'):6.2f} "
              f"{cpu:14.3f} {cpu / med(base, 'cpu_seconds_per_gib'):6.2f} {rcpu:14.3f} "
              f"{samples[s][0]['send']['strategy']:<14}")
    if "auto" in samples:
        ratio = med("auto", "bytes_per_second") / med(fastest, "bytes_per_second")
        print(f"\nauto / fastest ({fastest}): {ratio:.2f}")


if __name__ == "__main__":
    main()
