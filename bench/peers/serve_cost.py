#!/usr/bin/env python3
"""Where one request's time goes: zcnet serve (one worker) and the floor
(../shared/bench/minhttp.c, memory and sendfile modes) under the same wrk load, one at a time.
For each server and each file size x connection count it prints, per request answered:
the syscalls the server made (perf stat on the syscalls:sys_enter_* tracepoints over a whole wrk
run, divided by the requests wrk counted), and the share of the server's CPU samples
(perf record -e cpu-clock) spent in the kernel and in user space. The user-space share is what
a server adds on top of the kernel's own work for the same bytes; the floor's is its lower bound.
Loopback only; each wrk run is bounded by --duration. Needs perf, wrk and cc
(scripts/setup-peers.sh).
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_vs_nginx import DEFAULT_MINHTTP, SIZES, wait_port  # noqa: E402


def run_wrk(port, size, conns, seconds):
    return subprocess.Popen(["wrk", "-t2", f"-c{conns}", f"-d{seconds}s",
                             f"http://127.0.0.1:{port}/{size}"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wrk_result(text):
    """(requests answered, requests/s) of one wrk run; exits on a non-200 answer."""
    m = re.search(r"(\d+) requests in", text)
    r = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if not m or not r:
        sys.exit("wrk printed no request count:\n" + text)
    if "Non-2xx" in text:
        sys.exit("the server answered something other than 200:\n" + text)
    return int(m.group(1)), float(r.group(1))


def syscalls(pid, seconds):
    """Starts counting the syscalls of `pid` for `seconds`; returns the perf process."""
    return subprocess.Popen(["perf", "stat", "-x,", "-e", "syscalls:sys_enter_*", "-p", str(pid),
                             "--", "sleep", str(seconds)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def counted(perf):
    """{syscall: count} from a finished perf stat."""
    counts = {}
    for line in perf.communicate()[1].splitlines():
        parts = line.split(",")
        if len(parts) > 2 and parts[0].isdigit() and int(parts[0]) > 0:
            counts[parts[2].replace("syscalls:sys_enter_", "")] = int(parts[0])
    return counts


def kernel_share(pid, window, tmp):
    data = os.path.join(tmp, "perf.data")
    subprocess.run(["perf", "record", "-q", "-e", "cpu-clock", "-F", "2000", "-p", str(pid),
                    "-o", data, "--", "sleep", str(window)], capture_output=True)
    rep = subprocess.run(["perf", "report", "-i", data, "--no-children", "--sort", "dso",
                          "--stdio", "-g", "none"], capture_output=True, text=True).stdout
    kernel = 0.0
    for line in rep.splitlines():
        m = re.match(r"\s*([\d.]+)%\s+(\S+)", line)
        if m and m.group(2).startswith("[kernel"):
            kernel += float(m.group(1))
    return kernel


def measure(pid, port, size, conns, args, tmp):
    # Two wrk runs: in one perf stat counts syscalls over the whole run (so per request includes
    # each connection's accept and setup), in the other perf record samples the CPU from a
    # second in to a second before the end (the two tools would disturb each other in one run).
    perf = syscalls(pid, args.duration + 1)
    time.sleep(0.3)
    wrk = run_wrk(port, size, conns, args.duration)
    requests, rps = wrk_result(wrk.communicate()[0])
    counts = counted(perf)
    wrk = run_wrk(port, size, conns, args.duration)
    time.sleep(1)
    kernel = kernel_share(pid, args.duration - 2, tmp)
    _, rps2 = wrk_result(wrk.communicate()[0])
    per = {k: v / requests for k, v in counts.items() if v / requests >= 0.005}
    return (rps + rps2) / 2, per, kernel


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cli", default="build/release/zcnet")
    ap.add_argument("--sizes", default="4k,64k")
    ap.add_argument("--connections", default="100,1000")
    ap.add_argument("--duration", type=int, default=6, help="seconds per wrk run (>= 4)")
    ap.add_argument("--zcnet-args", default="", help="extra args for zcnet serve")
    ap.add_argument("--minhttp", default=DEFAULT_MINHTTP)
    args = ap.parse_args()
    if args.duration < 4:
        sys.exit("--duration must be at least 4 (each window skips a second at both ends)")
    sizes = args.sizes.split(",")
    conns = [int(c) for c in args.connections.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)
        root = os.path.join(tmp, "root")
        os.mkdir(root)
        for name in sizes:
            with open(os.path.join(root, name), "wb") as f:
                f.write(os.urandom(SIZES[name]))
        exe = os.path.join(tmp, "minhttp")
        subprocess.run(["cc", "-O2", "-o", exe, args.minhttp], check=True)
        rows = []
        for size in sizes:
            servers = [("zcnet", [args.cli, "serve", "--root", root, "--listen",
                                  "127.0.0.1:18311", "--workers", "1"] + args.zcnet_args.split(),
                        18311),
                       ("floor-memory", [exe, "18312", os.path.join(root, size)], 18312),
                       ("floor-sendfile", [exe, "18313", os.path.join(root, size), "sendfile"],
                        18313)]
            for name, cmd, port in servers:
                proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                try:
                    wait_port(port)
                    for c in conns:
                        rps, per, kernel = measure(proc.pid, port, size, c, args, tmp)
                        rows.append((size, c, name, rps, per, kernel))
                        calls = " ".join(f"{k} {v:.2f}" for k, v in
                                         sorted(per.items(), key=lambda kv: -kv[1]))
                        print(f"{size:>4} c={c:<5} {name:<15} {rps:9.0f} req/s  "
                              f"kernel {kernel:5.1f}%  {calls}", flush=True)
                finally:
                    proc.terminate()
                    proc.wait()
        print()
        print("| file | conns | server | req/s | syscalls per request | kernel % of server CPU "
              "| user % |")
        print("| --- | ---: | --- | ---: | --- | ---: | ---: |")
        for size, c, name, rps, per, kernel in rows:
            calls = ", ".join(f"{k} {v:.2f}" for k, v in sorted(per.items(), key=lambda kv: -kv[1]))
            print(f"| {size} | {c} | {name} | {rps:.0f} | {calls} | {kernel:.1f} | "
                  f"{100 - kernel:.1f} |")


if __name__ == "__main__":
    main()
