#!/usr/bin/env python3
"""What observability costs zcnet serve: the same server five ways on one root, loaded in turn
by wrk (A B C D E A B C D E ...), medians of --runs runs per cell.

  compiled-out  the noobserve build (ZCNET_OBSERVE=OFF: no counters, no duration histogram, no
                tracing; --zcnet-noobserve, made by `cmake --preset noobserve && cmake --build
                --preset noobserve`)
  metrics       the default build as it runs by default: every counter and the duration
                histogram kept, no tracing
  trace-0       --trace-file with --trace-sample never: a trace id per request, nothing written
  trace-1pct    --trace-sample ratio:0.01
  trace-all     --trace-sample always: every request's spans encoded and written

Prints requests/s, MB/s, p99, the server's CPU and the machine's busy CPU per GiB (/proc/stat,
as serve_vs_nginx.py counts them) and each variant's throughput against `compiled-out`. Every
server must answer 200 with the whole body before a run counts. Loopback only; every wrk run is
bounded by --duration. Needs wrk (scripts/setup-peers.sh) and both builds.
"""
import argparse
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_vs_nginx import SIZES, cpu_seconds, machine_seconds, parse_wrk, wait_port  # noqa: E402

# name -> (which build, extra flags; a --trace-file is added when there are any)
VARIANTS = {
    "compiled-out": ("noobserve", []),
    "metrics": ("default", []),
    "trace-0": ("default", ["--trace-sample", "never"]),
    "trace-1pct": ("default", ["--trace-sample", "ratio:0.01"]),
    "trace-all": ("default", ["--trace-sample", "always"]),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--zcnet", default="build/release/zcnet")
    ap.add_argument("--zcnet-noobserve", default="build/noobserve/zcnet")
    ap.add_argument("--variants", default=",".join(VARIANTS),
                    help="comma-separated subset of: " + ", ".join(VARIANTS))
    ap.add_argument("--sizes", default="4k,1m")
    ap.add_argument("--connections", type=int, default=100)
    ap.add_argument("--duration", type=float, default=4)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--backend", default="epoll")
    ap.add_argument("--congestion", default="",
                    help="run under this TCP congestion control (net.ipv4.tcp_congestion_control, "
                         "put back at the end; needs root): bbr without an fq qdisc paces each "
                         "connection and makes 1 MiB runs bimodal, cubic does not")
    args = ap.parse_args()
    sizes = args.sizes.split(",")
    chosen = args.variants.split(",")
    for v in chosen:
        if v not in VARIANTS:
            sys.exit(f"--variants: unknown variant {v} (known: {', '.join(VARIANTS)})")
    base_name = chosen[0]
    for binary in {args.zcnet, args.zcnet_noobserve} if "compiled-out" in chosen else {args.zcnet}:
        if not os.access(binary, os.X_OK):
            sys.exit(f"{binary}: not built")
    for s in sizes:
        if s not in SIZES:
            sys.exit(f"--sizes: unknown size {s} (known: {', '.join(SIZES)})")

    tmp = tempfile.mkdtemp(prefix="zcnet-trace-")
    os.chmod(tmp, 0o755)
    root = os.path.join(tmp, "root")
    os.mkdir(root)
    digests = {}
    for s in sizes:
        data = os.urandom(SIZES[s])
        with open(os.path.join(root, s), "wb") as f:
            f.write(data)
        digests[s] = hashlib.sha256(data).hexdigest()

    procs, ports = {}, {}
    cc_file = "/proc/sys/net/ipv4/tcp_congestion_control"
    cc_was = open(cc_file).read().strip()
    try:
        if args.congestion:
            with open(cc_file, "w") as f:
                f.write(args.congestion)
            print(f"note: congestion control {args.congestion} for this run (was {cc_was})")
        for i, name in enumerate(chosen):
            build, extra = VARIANTS[name]
            ports[name] = 18300 + i
            binary = args.zcnet_noobserve if build == "noobserve" else args.zcnet
            cmd = [binary, "serve", "--root", root, "--listen", f"127.0.0.1:{ports[name]}",
                   "--workers", "1", "--backend", args.backend] + (
                       ["--trace-file", os.path.join(tmp, f"{name}.jsonl")] + extra if extra else [])
            procs[name] = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                           stderr=open(os.path.join(tmp, f"{name}.err"), "wb"))
            wait_port(ports[name])
        for name, port in ports.items():  # no run counts before each answers byte-exact
            for s in sizes:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/{s}", timeout=10) as r:
                    body = r.read()
                    if r.status != 200 or hashlib.sha256(body).hexdigest() != digests[s]:
                        sys.exit(f"{name}: /{s} is not the file (status {r.status})")

        results = {}
        for s in sizes:
            for run in range(args.runs):
                for name, port in ports.items():
                    pids = [procs[name].pid]
                    c0, (_, m0) = cpu_seconds(pids), machine_seconds()
                    out = subprocess.run(
                        ["wrk", "-t1", f"-c{args.connections}", f"-d{args.duration:g}s",
                         "--latency", f"http://127.0.0.1:{port}/{s}"],
                        capture_output=True, text=True, timeout=args.duration + 60).stdout
                    c1, (_, m1) = cpu_seconds(pids), machine_seconds()
                    rps, bps, _, p99, errors = parse_wrk(out)
                    gib = bps * args.duration / (1 << 30)
                    row = (rps, bps / 1e6, p99, (c1 - c0) / gib, (m1 - m0) / gib, errors)
                    results.setdefault((s, name), []).append(row)
                    print(f"{s} run {run + 1} {name:11} {rps:10.0f} req/s {bps / 1e6:8.1f} MB/s "
                          f"p99 {p99:7.2f} ms server/GiB {row[3]:.3f} machine/GiB {row[4]:.3f}"
                          + (f" ({errors})" if errors else ""), flush=True)

        print()
        print("| file | conns | server | req/s | MB/s | p99 ms | server CPU s/GiB | machine s/GiB "
              f"| req/s vs {base_name} | errors |")
        print("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
        for s in sizes:
            base = statistics.median(r[0] for r in results[(s, base_name)])
            for name in chosen:
                rows = results[(s, name)]
                med = [statistics.median(r[i] for r in rows) for i in range(5)]
                errors = "; ".join(sorted({r[5] for r in rows if r[5]}))
                print(f"| {s} | {args.connections} | {name} | {med[0]:.0f} | {med[1]:.1f} | "
                      f"{med[2]:.2f} | {med[3]:.3f} | {med[4]:.3f} | {med[0] / base:.3f} | "
                      f"{errors} |")
        for name in chosen:
            if VARIANTS[name][1]:
                path = os.path.join(tmp, f"{name}.jsonl")
                lines = sum(1 for _ in open(path)) if os.path.exists(path) else 0
                print(f"note: {name}: {lines} lines of spans written")
    finally:
        if args.congestion:
            with open(cc_file, "w") as f:
                f.write(cc_was)
        for p in procs.values():
            p.terminate()
        for p in procs.values():
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main()
