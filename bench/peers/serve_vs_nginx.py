#!/usr/bin/env python3
"""zcnet serve against nginx (sendfile on + tcp_nopush on, and sendfile off) on the same files,
same worker count, access logs off, loaded in turn by wrk (A B C A B C ...). Prints medians of
requests/s, MB/s, p50 and p99 latency and server CPU seconds per GiB, with ratios to nginx's
faster mode.
Beside the server's own CPU (utime + stime of its processes) it reports, per GiB, wrk's CPU, the
machine's irq + softirq time and the machine's busy time (/proc/stat: every CPU's time not idle):
what the whole machine spent per GiB served. With tick accounting a softirq tick is counted in
/proc/stat's softirq column and also charged to the process it interrupted (or to the idle task),
so softirq overlaps the server and wrk columns and is not added to them: the busy time is the sum
that counts each tick once.
--servers adds zcnet forced to sendfile or read-write, each compared like for like with the nginx
mode that moves bodies the same way, and the same with zcnet's TCP_NOTSENT_LOWAT off
(*-nolowat). Loopback only; every wrk run is bounded by --duration (per
size if asked: 16 MiB x 1000 connections needs longer runs for responses to complete). wrk's
--timeout is --wrk-timeout (per size too): a response pending longer counts as a timeout error
and its latency is not recorded, so p99 is only meaningful in cells without timeouts; a cell whose
runs saw socket errors says so in the errors column.
The floor (floor-memory, floor-sendfile) is ../shared/bench/minhttp.c, built by this script with
cc: a one-thread epoll loop that only counts request ends and writes one prebuilt response (from
memory, or its body by sendfile), one process per file size. It is what no real server can beat
on small responses; the table gives req/s against the better floor mode beside the ratio to nginx.
Needs nginx and wrk (scripts/setup-peers.sh), and cc for the floor.
"""
import argparse
import os
import resource
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

SIZES = {"4k": 4096, "64k": 65536, "1m": 1 << 20, "2m": 2 << 20, "4m": 4 << 20, "16m": 16 << 20}
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime + stime
        except FileNotFoundError:
            pass
    return total / TICK


def machine_seconds():
    """(irq + softirq, busy) seconds of every CPU so far; busy = all but idle, iowait, steal."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]  # user nice system idle iowait irq
    busy = sum(fields[0:3]) + fields[5] + fields[6]              # softirq steal guest ...
    return (fields[5] + fields[6]) / TICK, busy / TICK


def waited_children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)  # wrk: the only child waited for meanwhile
    return r.ru_utime + r.ru_stime


def children(pid):
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(x) for x in out.split()]


def wait_port(port, timeout=10):
    import socket
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def nginx_conf(tmp, root, port, workers, sendfile):
    conf = os.path.join(tmp, f"nginx-{port}.conf")
    with open(conf, "w") as f:
        f.write(f"""daemon off; master_process on; worker_processes {workers};
pid {tmp}/nginx-{port}.pid; error_log {tmp}/nginx-{port}.err warn;
worker_rlimit_nofile 8192;
events {{ worker_connections 4096; }}
http {{
  access_log off; keepalive_requests 1000000; keepalive_timeout 60;
  sendfile {"on" if sendfile else "off"}; tcp_nopush {"on" if sendfile else "off"};
  client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy; fastcgi_temp_path {tmp}/fcgi;
  uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
  server {{ listen 127.0.0.1:{port} reuseport; root {root}; }}
}}
""")
    return conf


def parse_wrk(text):
    def unit(v, u):
        return float(v) * {"": 1, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9,
                           "B": 1, "KB": 1024, "MB": 1 << 20, "GB": 1 << 30}[u]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    m = re.search(r"Transfer/sec:\s+([\d.]+)([KMG]?B)", text)
    bps = unit(m.group(1), m.group(2))
    def percentile(q):
        p = re.search(q + r"%\s+([\d.]+)(us|ms|s)", text)
        if not p:
            return float("nan")
        return float(p.group(1)) * {"us": 1e-3, "ms": 1, "s": 1e3}[p.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)", text)
    return rps, bps, percentile("50"), percentile("99"), errors.group(0) if errors else ""


# Each server and its port; the zcnet-* variants force a strategy (like for like with nginx).
# The *-nolowat variants turn off zcnet's TCP_NOTSENT_LOWAT (--notsent-lowat 0): nginx sets none,
# so those are like for like in socket settings too.
SERVERS = {"zcnet": 18080, "nginx-sendfile": 18081, "nginx-nosendfile": 18082,
           "zcnet-sendfile": 18083, "zcnet-readwrite": 18084, "zcnet-mmap": 18085,
           "zcnet-nolowat": 18086, "zcnet-sendfile-nolowat": 18087,
           "zcnet-readwrite-nolowat": 18088,
           # one minhttp per file size: port + the size's index in SIZES
           "floor-memory": 18090, "floor-sendfile": 18095}
FLOORS = {"floor-memory": [], "floor-sendfile": ["sendfile"]}
DEFAULT_MINHTTP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..",
                               "shared", "bench", "minhttp.c")
NOLOWAT = ["--notsent-lowat", "0"]
ZCNET_FORCED = {"zcnet": [], "zcnet-sendfile": ["--strategy", "sendfile"],
                "zcnet-readwrite": ["--strategy", "read-write"],
                "zcnet-mmap": ["--strategy", "mmap"], "zcnet-nolowat": NOLOWAT,
                "zcnet-sendfile-nolowat": ["--strategy", "sendfile"] + NOLOWAT,
                "zcnet-readwrite-nolowat": ["--strategy", "read-write"] + NOLOWAT}
# The peer each server is compared with like for like (same way of moving the body).
LIKE = {"zcnet-sendfile": "nginx-sendfile", "zcnet-readwrite": "nginx-nosendfile",
        "zcnet-sendfile-nolowat": "nginx-sendfile", "zcnet-readwrite-nolowat": "nginx-nosendfile"}


def parse_durations(text, convert=int):
    """'3' -> every size 3 s; '3,16m=10' -> 3 s, but 10 s for 16m."""
    out = {"*": convert("3")}
    for part in text.split(","):
        if "=" in part:
            size, value = part.split("=")
            out[size] = convert(value)
        else:
            out["*"] = convert(part)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cli", default="build/release/zcnet")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--sizes", default="4k,64k,1m,16m")
    ap.add_argument("--connections", default="100,500,1000")
    ap.add_argument("--duration", default="3",
                    help="seconds per wrk run: one number, or per size like '3,16m=10' (a run "
                    "must be long enough for responses to complete: 16m x 1000 connections)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--wrk-timeout", default="2s,16m=60s",
                    help="wrk --timeout, one value or per size like --duration (default "
                    "'2s,16m=60s': wrk's own 2 s would cut 16 MiB responses at 1000 connections "
                    "off and cap their latency)")
    ap.add_argument("--zcnet-args", default="", help="extra args for zcnet serve, e.g. "
                    "'--backend epoll'")
    ap.add_argument("--minhttp", default=DEFAULT_MINHTTP,
                    help="the floor's source (default: ../shared/bench/minhttp.c beside the repo)")
    ap.add_argument("--zcnet-variant", action="append", default=[], metavar="NAME=ARGS",
                    help="one more zcnet serve, named zcnet-NAME, started with ARGS appended "
                    "(and --zcnet-args), e.g. 'lowat16k=--notsent-lowat 16K'; repeatable; each "
                    "is added to --servers")
    ap.add_argument("--servers", default="zcnet,nginx-sendfile,nginx-nosendfile,floor-memory,"
                    "floor-sendfile",
                    help="comma list of: " + ", ".join(SERVERS) + " (zcnet-sendfile and "
                    "zcnet-readwrite force one strategy: the like-for-like peers of nginx "
                    "sendfile on and off; *-nolowat: the same with --notsent-lowat 0)")
    args = ap.parse_args()
    durations = parse_durations(args.duration)
    timeouts = parse_durations(args.wrk_timeout, str)
    servers = args.servers.split(",")
    for i, v in enumerate(args.zcnet_variant):
        name, sep, extra = v.partition("=")
        if not sep or not name:
            sys.exit(f"--zcnet-variant '{v}' is not NAME=ARGS")
        SERVERS["zcnet-" + name] = 18100 + i
        ZCNET_FORCED["zcnet-" + name] = shlex.split(extra)
        if "zcnet-" + name not in servers:
            servers.append("zcnet-" + name)
    for s in servers:
        if s not in SERVERS:
            sys.exit(f"unknown server {s}: one of {', '.join(SERVERS)}")
    for tool in ("nginx", "wrk"):
        if not shutil.which(tool):
            sys.exit(f"{tool} not found: run scripts/setup-peers.sh")
    if any(s in FLOORS for s in servers) and not os.path.exists(args.minhttp):
        sys.exit(f"the floor's source {args.minhttp} is missing: give --minhttp, or leave "
                 "floor-memory and floor-sendfile out of --servers")

    tmp = tempfile.mkdtemp(prefix="zcnet-peers-")
    os.chmod(tmp, 0o755)  # nginx workers run as www-data and must reach the files
    root = os.path.join(tmp, "root")
    os.makedirs(root, mode=0o755)
    block = os.urandom(1 << 20)
    for name, size in SIZES.items():
        with open(os.path.join(root, name), "wb") as f:
            f.write((block * (size // len(block) + 1))[:size])
        os.chmod(os.path.join(root, name), 0o644)
    procs = {}
    try:
        ports = {s: SERVERS[s] for s in servers}
        for name in ports:
            if name in ZCNET_FORCED:
                procs[name] = subprocess.Popen(
                    [args.cli, "serve", "--root", root, "--listen", f"127.0.0.1:{ports[name]}",
                     "--workers", str(args.workers), "--max-connections", "5000"]
                    + ZCNET_FORCED[name] + args.zcnet_args.split(), stderr=subprocess.DEVNULL)
        for name, sf in (("nginx-sendfile", True), ("nginx-nosendfile", False)):
            if name not in ports:
                continue
            conf = nginx_conf(tmp, root, ports[name], args.workers, sf)
            procs[name] = subprocess.Popen(["nginx", "-c", conf, "-p", tmp],
                                           stderr=subprocess.DEVNULL)
        # The floor: one process per size and mode (it serves one file whatever is asked).
        port_of = {}  # (server, size) -> port, for servers that differ by size
        if any(s in FLOORS for s in servers):
            exe = os.path.join(tmp, "minhttp")
            subprocess.run(["cc", "-O2", "-o", exe, args.minhttp], check=True)
            for name in (s for s in servers if s in FLOORS):
                for i, size in enumerate(SIZES):
                    port = SERVERS[name] + i
                    port_of[(name, size)] = port
                    procs[(name, size)] = subprocess.Popen(
                        [exe, str(port), os.path.join(root, size)] + FLOORS[name],
                        stderr=subprocess.DEVNULL)
                    wait_port(port)
        for name, port in ports.items():
            if name not in FLOORS:
                wait_port(port)
        results = {}
        errors = {}  # (size, conns, server) -> wrk's socket error lines, one per run that had any
        for size in args.sizes.split(","):
            for conns in (int(c) for c in args.connections.split(",")):
                duration = durations.get(size, durations["*"])
                timeout = timeouts.get(size, timeouts["*"])
                for run in range(args.runs):
                    for s in servers:  # alternating: A B C A B C ...
                        proc = procs[(s, size)] if s in FLOORS else procs[s]
                        port = port_of.get((s, size), ports[s])
                        pids = [proc.pid] + children(proc.pid)
                        c0, (irq0, busy0), w0 = cpu_seconds(pids), machine_seconds(), waited_children_cpu()
                        out = subprocess.run(
                            ["wrk", "-t2", f"-c{conns}", f"-d{duration}s", "--latency",
                             "--timeout", timeout,
                             f"http://127.0.0.1:{port}/{size}"],
                            capture_output=True, text=True, timeout=duration + 60).stdout
                        cpu = cpu_seconds(pids) - c0
                        irq1, busy1 = machine_seconds()
                        irq, busy = irq1 - irq0, busy1 - busy0
                        client = waited_children_cpu() - w0
                        rps, bps, p50, p99, err = parse_wrk(out)
                        if "Non-2xx" in err:  # a server that answers errors is not measured
                            raise RuntimeError(f"{s} {size}: {err}")
                        gib = bps * duration / (1 << 30)
                        per = (lambda x: x / gib) if gib else (lambda x: float("nan"))
                        results.setdefault((size, conns, s), []).append(
                            (rps, bps, p99, per(cpu), per(irq), per(client), per(busy), p50))
                        if err:
                            errors.setdefault((size, conns, s), []).append(err)
                        print(f"{size:>4} c={conns:<5} run {run + 1} {s:<17} {rps:10.0f} req/s "
                              f"{bps / 1e6:9.1f} MB/s p50 {p50:8.2f} p99 {p99:8.2f} ms "
                              f"cpu/GiB {per(cpu):6.3f} "
                              f"softirq/GiB {per(irq):6.3f} wrk/GiB {per(client):6.3f} "
                              f"machine/GiB {per(busy):6.3f} {err}",
                              file=sys.stderr)
        # Large files complete few responses per run (a fair server finishes them together), so
        # bytes per second is the throughput there; req/s is shown next to it for every size.
        print("\n| file | conns | server | req/s | spread | MB/s | p50 ms | p99 ms | "
              "server CPU s/GiB | "
              "softirq s/GiB | wrk s/GiB | machine s/GiB | "
              "req/s vs best nginx | MB/s vs best nginx | req/s vs best floor | "
              "CPU/GiB vs nginx sendfile | "
              "machine/GiB vs nginx sendfile | like for like: MB/s, CPU, machine | errors |")
        print("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
              "| ---: | ---: | --- | --- |")
        nginxes = [s for s in ("nginx-sendfile", "nginx-nosendfile") if s in servers]
        for size in args.sizes.split(","):
            for conns in (int(c) for c in args.connections.split(",")):
                runs = {s: results[(size, conns, s)] for s in servers}
                med = {s: [statistics.median(r[i] for r in runs[s]) for i in range(8)]
                       for s in servers}
                best = max((med[n][0] for n in nginxes), default=float("nan"))
                best_bps = max((med[n][1] for n in nginxes), default=float("nan"))
                floor = max((med[n][0] for n in servers if n in FLOORS), default=float("nan"))
                ref = med.get("nginx-sendfile", [float("nan")] * 8)
                for s in servers:
                    rps, bps, p99, cpu, irq, client, whole, p50 = med[s]
                    # spread: (max - min) / median of MB/s over the runs: the noise visible
                    bs = [r[1] for r in runs[s]]
                    spread = (max(bs) - min(bs)) / bps if bps else float("nan")
                    like = ""
                    seen = errors.get((size, conns, s), [])
                    errs = f"**{len(seen)}/{len(runs[s])} runs: {seen[0]}**" if seen else ""
                    if s in LIKE and LIKE[s] in med:
                        peer = med[LIKE[s]]
                        like = (f"{bps / peer[1]:.2f}x, {cpu / peer[3]:.2f}x, {whole / peer[6]:.2f}x "
                                f"vs {LIKE[s]}")
                    print(f"| {size} | {conns} | {s} | {rps:.0f} | {spread:.0%} | "
                          f"{bps / 1e6:.1f} | {p50:.2f} | {p99:.2f} | {cpu:.3f} | {irq:.3f} | "
                          f"{client:.3f} | "
                          f"{whole:.3f} | {rps / best:.2f} | {bps / best_bps:.2f} | "
                          f"{rps / floor:.2f} | "
                          f"{cpu / ref[3]:.2f} | {whole / ref[6]:.2f} | {like} | "
                          f"{errs} |")
    finally:
        for p in procs.values():
            p.send_signal(signal.SIGTERM)
        for p in procs.values():
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
