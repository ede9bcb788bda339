#!/usr/bin/env python3
"""zcnet serve against nginx at connection scale, one worker each, loaded by `zcnet load --http`.

scale: ramps to --idle keep-alive connections (each sends one GET of a small file per
  --idle-interval, spread evenly over the interval) and, while they are held, --active clients
  download the --size file for --duration seconds. Each run starts the server afresh and does, in
  order: the active clients alone (the baseline), the idle connections alone for --settle seconds
  (the memory: server RSS summed over its processes and the kernel's TCP socket memory,
  /proc/net/sockstat "TCP mem" pages x page size, both as a delta from before the ramp, divided by
  the connections held), then the idle connections and the active clients together. Servers run
  in turn, A B A B ... for --runs; medians are printed.
  Socket memory is the whole machine's: on loopback it holds the client ends too.
max: as many idle connections as the machine allows, up to --max-target, spread over several
  `zcnet load` processes (each under the open-file limit, each with its own source addresses)
  against one `zcnet serve --processes N` (N worker processes, each under the limit); reports
  how many were held and whether every periodic request was answered.
churn: --churn short connections in a row (GET with Connection: close, one request each), with the
  server's open fds, RSS and the machine's TIME_WAIT count (/proc/net/sockstat tw) before and
  after.
Scaled down (--idle 500 --active 100 --duration 3 --churn 2000) it runs in under a minute.
Loopback only. Needs nginx (scripts/setup-peers.sh).
"""
import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from serve_vs_nginx import children, wait_port

PAGE = os.sysconf("SC_PAGE_SIZE")
IP_BIND_ADDRESS_NO_PORT = 24  # linux/in.h
FD_LIMIT = 20000              # the open-file hard limit of one process here; never raised
PER_PROCESS = 16000           # connections one server or load process is given at most


def sockstat():
    """(TCP socket memory in bytes, TIME_WAIT sockets) of the whole machine."""
    with open("/proc/net/sockstat") as f:
        for line in f:
            if line.startswith("TCP:"):
                v = line.split()
                fields = dict(zip(v[1::2], (int(x) for x in v[2::2])))
                return fields.get("mem", 0) * PAGE, fields.get("tw", 0)
    return 0, 0


def rss(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm") as f:
                total += int(f.read().split()[1]) * PAGE
        except FileNotFoundError:
            pass
    return total


def open_fds(pids):
    total = 0
    for pid in pids:
        try:
            total += len(os.listdir(f"/proc/{pid}/fd"))
        except FileNotFoundError:
            pass
    return total


class Server:
    """One server under test: its processes, port and how to stop it."""

    def __init__(self, procs, port):
        self.procs, self.port = procs, port

    def pids(self):
        out = []
        for p in self.procs:
            out += [p.pid] + children(p.pid)
        return out

    def stop(self):
        for p in self.procs:
            p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# An idle connection sends its first request at its slot in the interval, up to one interval
# after it connected: both servers wait that long for a first request (header timeout) and for
# the next one (keep-alive timeout).
def start_zcnet(args, root, workers=1, processes=1):
    """One zcnet serve: with processes > 1, a master and that many worker processes (its
    --processes), each under the open-file limit."""
    port = free_port()
    keepalive = str(max(75, 3 * args.idle_interval))
    procs = [subprocess.Popen(
        [args.cli, "serve", "--root", root, "--listen", f"127.0.0.1:{port}",
         "--workers", str(workers), "--processes", str(processes),
         "--max-connections", str(FD_LIMIT - 500),
         "--keepalive-timeout", keepalive, "--header-timeout", keepalive]
        + args.zcnet_args.split(),
        stderr=subprocess.DEVNULL)]
    wait_port(port)
    return Server(procs, port)


def start_nginx(args, tmp, root):
    port = free_port()
    conf = os.path.join(tmp, f"nginx-{port}.conf")
    keepalive = int(max(75, 3 * args.idle_interval))
    with open(conf, "w") as f:
        f.write(f"""daemon off; master_process on; worker_processes 1;
pid {tmp}/nginx-{port}.pid; error_log {tmp}/nginx-{port}.err warn;
worker_rlimit_nofile {FD_LIMIT};
events {{ worker_connections {FD_LIMIT - 500}; }}
http {{
  access_log off; keepalive_requests 1000000; keepalive_timeout {keepalive};
  client_header_timeout {keepalive};
  sendfile on; tcp_nopush on;
  client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy; fastcgi_temp_path {tmp}/fcgi;
  uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
  server {{ listen 127.0.0.1:{port} backlog=4096; root {root}; }}
}}
""")
    proc = subprocess.Popen(["nginx", "-c", conf, "-p", tmp], stderr=subprocess.DEVNULL)
    wait_port(port)
    return Server([proc], port)


def sources(block):
    """A /24 of loopback source addresses per load process: 127.<block+1>.0.1-127.<block+1>.0.254"""
    return f"127.{block + 1}.0.1-127.{block + 1}.0.254"


def load(args, port, extra, timeout):
    cmd = [args.cli, "load", "--connect", f"127.0.0.1:{port}", "--json"] + extra
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    try:
        return json.loads(out.stdout)
    except json.JSONDecodeError:
        raise RuntimeError(f"zcnet load gave no report: {out.stderr.strip()}")


def ramp_seconds(args, n):
    return n / args.connect_rate if args.connect_rate else n / 5000


class Sampler:
    """The peak of the server's RSS and of the machine's TCP socket memory, every 0.2 s."""

    def __init__(self, server):
        self.server, self.rss, self.sock = server, 0, 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.run)
        self.thread.start()

    def run(self):
        while not self.done.wait(0.2):
            self.rss = max(self.rss, rss(self.server.pids()))
            self.sock = max(self.sock, sockstat()[0])

    def stop(self):
        self.done.set()
        self.thread.join()
        return self.rss, self.sock


def scale_run(args, server):
    active = ["--http", f"/{args.size}", "-c", str(args.active), "--duration", str(args.duration)]
    idle = ["--http", f"/{args.size}", "--idle-path", "/small", "--idle", str(args.idle),
            "--idle-interval", str(args.idle_interval), "--connect-rate", str(args.connect_rate),
            "--source", sources(0)]
    bound = args.duration + ramp_seconds(args, args.idle) + args.settle + 120
    alone = load(args, server.port, active, bound)
    time.sleep(0.5)
    rss0, (sock0, _) = rss(server.pids()), sockstat()
    sampler = Sampler(server)
    held = load(args, server.port, idle + ["-c", "0", "--duration", str(args.settle)], bound)
    rss1, sock1 = sampler.stop()
    together = load(args, server.port, idle + active[2:], bound)
    n = max(held["idle"]["held"], 1)
    return {
        "held": held["idle"]["held"],
        "rss_delta": rss1 - rss0, "sock_delta": sock1 - sock0,
        "per_conn": (rss1 - rss0 + sock1 - sock0) / n,
        "connect_p50": held["connect"]["latency_ns"]["p50"] / 1e6,
        "connect_p99": held["connect"]["latency_ns"]["p99"] / 1e6,
        "rps_alone": alone["transfers_per_s"], "rps_idle": together["transfers_per_s"],
        "mbs_alone": alone["throughput_bytes_per_s"] / 1e6,
        "mbs_idle": together["throughput_bytes_per_s"] / 1e6,
        "p99_alone": alone["latency_ns"]["p99"] / 1e6,
        "p99_idle": together["latency_ns"]["p99"] / 1e6,
        "idle_sent": together["idle"]["sent"], "idle_answered": together["idle"]["answered"],
        "idle_p99": together["idle"]["latency_ns"]["p99"] / 1e6,
        "errors": alone["errors"] + together["errors"] + held["connect"]["failed"]
        + together["connect"]["failed"],
    }


def scale(args, tmp, root):
    starters = {"zcnet": lambda: start_zcnet(args, root),
                "nginx": lambda: start_nginx(args, tmp, root)}
    results = {s: [] for s in args.servers}
    for run in range(args.runs):
        for name in args.servers:  # alternating: A B A B ...
            server = starters[name]()
            try:
                r = scale_run(args, server)
            finally:
                server.stop()
            results[name].append(r)
            print(f"scale run {run + 1} {name:<6} held {r['held']} "
                  f"mem/conn {r['per_conn'] / 1024:.1f} KiB (RSS {r['rss_delta'] / 1e6:.1f} MB, "
                  f"sock {r['sock_delta'] / 1e6:.1f} MB) connect p99 {r['connect_p99']:.2f} ms "
                  f"req/s {r['rps_alone']:.0f} -> {r['rps_idle']:.0f} "
                  f"p99 {r['p99_alone']:.2f} -> {r['p99_idle']:.2f} ms "
                  f"idle {r['idle_answered']}/{r['idle_sent']} answered, errors {r['errors']}",
                  file=sys.stderr)
    print(f"\nscale: {args.idle} idle connections (a GET per {args.idle_interval} s each), "
          f"{args.active} active clients on /{args.size} for {args.duration} s, medians of "
          f"{args.runs} run(s)\n")
    print("| server | held | RSS delta MB | socket mem delta MB | KiB per idle conn | "
          "connect p50 ms | connect p99 ms | req/s alone | req/s with idle | ratio | "
          "MB/s alone | MB/s with idle | p99 ms alone | p99 ms with idle | ratio | "
          "idle answered/sent | idle p99 ms | errors |")
    print("| --- " + "| ---: " * 17 + "|")
    for name in args.servers:
        rs = results[name]
        m = {k: statistics.median(r[k] for r in rs) for k in rs[0]}
        print(f"| {name} | {m['held']:.0f} | {m['rss_delta'] / 1e6:.1f} | "
              f"{m['sock_delta'] / 1e6:.1f} | {m['per_conn'] / 1024:.2f} | "
              f"{m['connect_p50']:.3f} | {m['connect_p99']:.3f} | {m['rps_alone']:.0f} | "
              f"{m['rps_idle']:.0f} | {m['rps_idle'] / m['rps_alone']:.2f} | "
              f"{m['mbs_alone']:.1f} | {m['mbs_idle']:.1f} | {m['p99_alone']:.2f} | "
              f"{m['p99_idle']:.2f} | {m['p99_idle'] / m['p99_alone']:.2f} | "
              f"{m['idle_answered']:.0f}/{m['idle_sent']:.0f} | {m['idle_p99']:.2f} | "
              f"{m['errors']:.0f} |")


def max_mode(args, root):
    target = args.max_target
    processes = -(-target // args.max_per_process)
    server = start_zcnet(args, root, workers=args.max_workers, processes=processes)
    try:
        rss0, (sock0, _) = rss(server.pids()), sockstat()
        loaders = processes
        each = [target // loaders + (1 if i < target % loaders else 0) for i in range(loaders)]
        bound = ramp_seconds(args, target) + args.max_hold + args.idle_interval + 180
        sampler = Sampler(server)
        procs = [subprocess.Popen(
            [args.cli, "load", "--connect", f"127.0.0.1:{server.port}", "--json", "--http",
             "/small", "-c", "0", "--idle", str(n), "--idle-interval", str(args.idle_interval),
             "--connect-rate", str(args.connect_rate / loaders if args.connect_rate else 0),
             "--duration", str(args.max_hold), "--source", sources(i)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i, n in enumerate(each)]
        reports = []
        for p in procs:
            out, err = p.communicate(timeout=bound)
            try:
                reports.append(json.loads(out))
            except json.JSONDecodeError:
                print(f"zcnet load gave no report: {err.strip()}", file=sys.stderr)
        rss1, sock1 = sampler.stop()
    finally:
        server.stop()
    total = lambda f: sum(f(r) for r in reports)
    held = total(lambda r: r["idle"]["held"])
    sent, answered = total(lambda r: r["idle"]["sent"]), total(lambda r: r["idle"]["answered"])
    failures = {}
    for r in reports:
        for k, v in list(r["connect"]["failures"].items()) + list(r["idle"]["failures"].items()):
            failures[k] = failures.get(k, 0) + v
    print(f"\nmax: zcnet serve --processes {processes} x {args.max_workers} worker(s) on one "
          f"port, {loaders} load process(es), a GET per {args.idle_interval} s per connection, "
          f"held {args.max_hold} s after the ramp\n")
    print("| target | held | periodic requests | answered | unanswered | every one answered | "
          "server RSS delta MB | socket mem delta MB | KiB per conn | failures |")
    print("| ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | --- |")
    per = (rss1 - rss0 + sock1 - sock0) / max(held, 1) / 1024
    print(f"| {target} | {held} | {sent} | {answered} | {sent - answered} | "
          f"{'yes' if sent and sent == answered else 'no'} | {(rss1 - rss0) / 1e6:.1f} | "
          f"{(sock1 - sock0) / 1e6:.1f} | {per:.2f} | "
          f"{', '.join(f'{k} {v}' for k, v in failures.items()) or 'none'} |")


def churn_one(port, count, offset, errors):
    request = b"GET /small HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    for i in range(count):
        # Source addresses round-robin over a /24, so local ports do not run out.
        src = f"127.200.0.{1 + (offset + i) % 254}"
        try:
            with socket.socket() as s:
                s.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
                s.bind((src, 0))
                s.settimeout(10)
                s.connect(("127.0.0.1", port))
                s.sendall(request)
                got = b""
                while chunk := s.recv(4096):
                    got += chunk
                if not got.startswith(b"HTTP/1.1 200"):
                    errors.append(got[:40])
        except OSError as e:
            errors.append(str(e))


def churn(args, tmp, root):
    starters = {"zcnet": lambda: start_zcnet(args, root),
                "nginx": lambda: start_nginx(args, tmp, root)}
    rows = []
    for name in args.servers:
        server = starters[name]()
        try:
            pids = server.pids()
            fds0, rss0, (_, tw0) = open_fds(pids), rss(pids), sockstat()
            errors, threads, n = [], [], args.churn
            t0 = time.time()
            for t in range(args.churn_threads):
                count = n // args.churn_threads + (1 if t < n % args.churn_threads else 0)
                threads.append(threading.Thread(target=churn_one,
                                                args=(server.port, count, t * 7, errors)))
                threads[-1].start()
            for t in threads:
                t.join()
            elapsed = time.time() - t0
            time.sleep(0.5)
            fds1, rss1, (_, tw1) = open_fds(pids), rss(pids), sockstat()
        finally:
            server.stop()
        rows.append((name, n, elapsed, fds0, fds1, rss0, rss1, tw0, tw1, len(errors)))
        print(f"churn {name:<6} {n} connections in {elapsed:.1f} s, fds {fds0} -> {fds1}, "
              f"RSS {rss0 / 1e6:.1f} -> {rss1 / 1e6:.1f} MB, TIME_WAIT {tw0} -> {tw1}, "
              f"errors {len(errors)} {errors[:1]}", file=sys.stderr)
        time.sleep(1)
    print(f"\nchurn: short connections in a row (GET /small with Connection: close), "
          f"{args.churn_threads} client threads\n")
    print("| server | connections | conn/s | server fds before | after | RSS MB before | "
          "after | TIME_WAIT before | after | errors |")
    print("| --- " + "| ---: " * 9 + "|")
    for name, n, el, f0, f1, r0, r1, t0, t1, e in rows:
        print(f"| {name} | {n} | {n / el:.0f} | {f0} | {f1} | {r0 / 1e6:.1f} | {r1 / 1e6:.1f} | "
              f"{t0} | {t1} | {e} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cli", default="build/release/zcnet")
    ap.add_argument("--modes", default="scale,churn", help="comma list of: scale, max, churn")
    ap.add_argument("--max", action="store_true", help="add the max mode")
    ap.add_argument("--servers", default="zcnet,nginx", help="scale and churn: zcnet, nginx")
    ap.add_argument("--idle", type=int, default=15000, help="scale: idle connections")
    ap.add_argument("--active", type=int, default=1000, help="scale: active clients")
    ap.add_argument("--size", default="64k", help="scale: the active clients' file: 4k, 64k, 1m")
    ap.add_argument("--duration", type=float, default=10, help="scale: seconds of active load")
    ap.add_argument("--settle", type=float, default=3,
                    help="scale: seconds the idle connections are held alone (memory)")
    ap.add_argument("--idle-interval", type=float, default=10,
                    help="seconds between two requests of one idle connection")
    ap.add_argument("--connect-rate", type=float, default=5000,
                    help="new connections per second while ramping (0: as fast as possible)")
    ap.add_argument("--runs", type=int, default=1, help="scale: runs per server, alternating")
    ap.add_argument("--max-target", type=int, default=100000, help="max: connections wanted")
    ap.add_argument("--max-workers", type=int, default=1, help="max: workers per serve process")
    ap.add_argument("--max-hold", type=float, default=25,
                    help="max: seconds held after the ramp (over 2 idle intervals: every "
                    "connection is asked at least twice)")
    ap.add_argument("--max-per-process", type=int, default=PER_PROCESS,
                    help="max: connections per serve process and per load process (each under "
                    f"the open-file limit of {FD_LIMIT})")
    ap.add_argument("--churn", type=int, default=100000, help="churn: connections in a row")
    ap.add_argument("--churn-threads", type=int, default=2)
    ap.add_argument("--zcnet-args", default="", help="extra args for zcnet serve")
    args = ap.parse_args()
    modes = args.modes.split(",") + (["max"] if args.max else [])
    args.servers = args.servers.split(",")
    for m in modes:
        if m not in ("scale", "max", "churn"):
            sys.exit(f"unknown mode {m}: scale, max or churn")
    for s in args.servers:
        if s not in ("zcnet", "nginx"):
            sys.exit(f"unknown server {s}: zcnet or nginx")
    if args.idle + args.active > PER_PROCESS:
        sys.exit(f"--idle + --active must stay under {PER_PROCESS} (one process each side, "
                 f"open-file limit {FD_LIMIT}); --max goes further with several processes")
    if not 0 < args.max_per_process <= PER_PROCESS:
        sys.exit(f"--max-per-process must be 1 to {PER_PROCESS}")
    if "nginx" in args.servers and not shutil.which("nginx"):
        sys.exit("nginx not found: run scripts/setup-peers.sh")

    tmp = tempfile.mkdtemp(prefix="zcnet-scale-")
    os.chmod(tmp, 0o755)  # nginx workers run as www-data and must reach the files
    root = os.path.join(tmp, "root")
    os.makedirs(root, mode=0o755)
    sizes = {"4k": 4096, "64k": 65536, "1m": 1 << 20, "small": 100}
    for name, n in sizes.items():
        with open(os.path.join(root, name), "wb") as f:
            f.write(os.urandom(n))
        os.chmod(os.path.join(root, name), 0o644)
    try:
        if "scale" in modes:
            scale(args, tmp, root)
        if "max" in modes:
            max_mode(args, root)
        if "churn" in modes:
            churn(args, tmp, root)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
