#!/usr/bin/env python3
"""TCP proxies in front of one nginx, loaded in turn by wrk (A B C A B C ...): zcnet proxy against
HAProxy in mode tcp with forced splicing both ways (haproxy-splice) and without (haproxy-copy),
and wrk straight at nginx (nginx-direct: the ceiling). Prints medians of requests/s, MB/s, p50
and p99 latency and CPU seconds per GiB, with ratios to HAProxy's faster mode (by MB/s) and to
nginx-direct.
The upstream nginx has 1 worker, sendfile on, tcp_nopush on, access log off, and serves a
world-readable temp root (4k, 1m and 16m files). Each proxy runs 1 worker/thread. Per GiB moved
it reports the proxy's own CPU (utime + stime of its processes; for nginx-direct: nginx's), the
upstream nginx's CPU, wrk's CPU and the machine's busy time (/proc/stat: every CPU's time not
idle, iowait or steal): what the whole machine spent per GiB. Softirq is not a column of its own
(it overlaps the process columns under tick accounting; it is in the per-run lines and --json).
Before any run counts, each file is fetched once through every proxy and its status, length and
sha256 checked; the 16m fetch runs under strace -c (if installed), whose syscall counts are
printed as notes: haproxy-splice must show splice calls and haproxy-copy none. A cell whose runs
saw wrk socket errors (connect, read, write, timeout: wrk's timeout is --wrk-timeout), non-2xx/3xx
responses or no completed response is flagged. Loopback only, free ports picked on 127.0.0.1;
every wrk run is bounded by --duration (per size if asked: 16 MiB x 1000 connections needs longer
runs for responses to complete).
Needs nginx, wrk and haproxy (scripts/setup-peers.sh), and for zcnet a built zcnet (--zcnet).
"""
import argparse
import hashlib
import http.client
import json
import os
import platform
import re
import resource
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

SIZES = {"4k": 4096, "1m": 1 << 20, "16m": 16 << 20}
TICK = os.sysconf("SC_CLK_TCK")
PROXIES = ("nginx-direct", "haproxy-splice", "haproxy-copy", "zcnet")
HAPROXIES = ("haproxy-splice", "haproxy-copy")
NAN = float("nan")


def cpu_seconds(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime + stime (all its threads)
        except (FileNotFoundError, ProcessLookupError):
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


def free_ports(n):
    """n distinct ports free on 127.0.0.1 now (held open together so none repeats)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def tail(path, lines=20):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


def wait_port(port, proc, name, log, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with status {proc.returncode} before listening "
                               f"on {port}; its stderr:\n{tail(log)}")
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{name}: nothing listens on {port} after {timeout} s; its stderr:\n"
                       f"{tail(log)}")


def nginx_conf(tmp, root, port, nofile):
    conf = os.path.join(tmp, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""daemon off; master_process on; worker_processes 1;
pid {tmp}/nginx.pid; error_log {tmp}/nginx.err warn;
worker_rlimit_nofile {nofile};
events {{ worker_connections {min(16384, nofile - 64)}; }}
http {{
  access_log off; keepalive_requests 1000000; keepalive_timeout 60;
  sendfile on; tcp_nopush on;
  client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy; fastcgi_temp_path {tmp}/fcgi;
  uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
  server {{ listen 127.0.0.1:{port}; root {root}; }}
}}
""")
    return conf


def haproxy_conf(tmp, name, port, upstream, maxconn, splice):
    conf = os.path.join(tmp, f"{name}.cfg")
    opts = "  option splice-request\n  option splice-response\n" if splice else ""
    with open(conf, "w") as f:
        f.write(f"""global
  nbthread 1
  maxconn {maxconn}

defaults
  mode tcp
  maxconn {maxconn}
  timeout connect 5s
  timeout client 60s
  timeout server 60s
{opts}
listen proxy
  bind 127.0.0.1:{port}
  maxconn {maxconn}
  server upstream 127.0.0.1:{upstream}
""")
    return conf


def syscalls_during(pids, action, tmp):
    """Runs action() with strace -c -f attached to pids: {syscall: calls} (None: no strace)."""
    if not shutil.which("strace"):
        return None
    log = os.path.join(tmp, "strace.out")
    cmd = ["strace", "-f", "-c", "-o", log] + [a for pid in pids for a in ("-p", str(pid))]
    with open(os.path.join(tmp, "strace.err"), "wb") as err:
        tracer = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=err)
    try:
        end = time.time() + 5
        while time.time() < end and b"attached" not in open(
                os.path.join(tmp, "strace.err"), "rb").read():
            time.sleep(0.05)
        time.sleep(0.2)  # the other threads (-f)
        action()
    finally:
        tracer.send_signal(signal.SIGINT)  # detaches and writes the summary
        try:
            tracer.wait(timeout=10)
        except subprocess.TimeoutExpired:
            tracer.kill()
            tracer.wait()
    counts = {}
    for line in tail(log, 200).splitlines():
        f = line.split()
        if len(f) >= 5 and f[3].isdigit() and f[-1] not in ("total", "syscall"):
            counts[f[-1]] = int(f[3])
    return counts


def fetch_check(name, port, path, body_len, digest):
    """GET /path once over HTTP/1.1; exits with a message unless 200 with the file's bytes."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", "/" + path, headers={"Connection": "close"})
        resp = conn.getresponse()
        body = resp.read()
    except (OSError, http.client.HTTPException) as e:
        raise RuntimeError(f"{name}: GET /{path} on port {port} failed: {e!r}")
    finally:
        conn.close()
    got = hashlib.sha256(body).hexdigest()
    if resp.status != 200 or len(body) != body_len or got != digest:
        raise RuntimeError(f"{name}: GET /{path} on port {port}: status {resp.status}, "
                           f"{len(body)} bytes, sha256 {got}; want 200, {body_len} bytes, "
                           f"sha256 {digest}")


def parse_wrk(text):
    def unit(v, u):
        return float(v) * {"B": 1, "KB": 1024, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40}[u]
    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    m = re.search(r"Transfer/sec:\s+([\d.]+)([KMGT]?B)", text)
    if not rps or not m:
        return None
    def percentile(q):
        p = re.search(r"^\s+" + q + r"%\s+([\d.]+)(us|ms|s)", text, re.M)
        if not p:
            return NAN
        return float(p.group(1)) * {"us": 1e-3, "ms": 1, "s": 1e3}[p.group(2)]
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    sock = dict(zip(("connect", "read", "write", "timeout"),
                    (int(x) for x in sock.groups()))) if sock else {}
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    done = re.search(r"(\d+) requests in", text)
    done = int(done.group(1)) if done else 0
    return {"rps": float(rps.group(1)), "bps": unit(m.group(1), m.group(2)), "requests": done,
            "p50_ms": percentile("50") if done else NAN,
            "p99_ms": percentile("99") if done else NAN,
            "socket_errors": sock, "non2xx": int(non2xx.group(1)) if non2xx else 0}


def error_text(sock, non2xx, empty=0):
    """wrk's errors as text ('' if none); empty: runs in which no response completed."""
    parts = [f"{k} {v}" for k, v in sock.items() if v]
    if non2xx:
        parts.append(f"non-2xx/3xx {non2xx}")
    if empty:
        parts.append("no response completed" + (f" in {empty} runs" if empty > 1 else ""))
    return ", ".join(parts)


def bad_run(row):
    return any(row["socket_errors"].values()) or row["non2xx"] or not row["requests"]


def per_size(text, convert):
    """'5' -> every size 5; '5,16m=10' -> 5, but 10 for 16m (each value through `convert`)."""
    out = {}
    for part in text.split(","):
        if "=" in part:
            size, value = part.split("=")
            out[size] = convert(value)
        else:
            out["*"] = convert(part)
    if "*" not in out:
        sys.exit(f"'{text}' names no value for every size (like '5,16m=10')")
    return out


def version(cmd):
    """The first line a tool prints about its version ('' if it cannot say)."""
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    lines = (r.stdout + r.stderr).strip().splitlines()
    return lines[0] if lines else ""


def ratio(a, b):
    """a / b as '1.23' ('-' if either is missing)."""
    return f"{a / b:.2f}" if b and b == b and a == a else "-"


def no_nan(x):
    """x with every NaN as None (JSON has no NaN)."""
    if isinstance(x, dict):
        return {k: no_nan(v) for k, v in x.items()}
    if isinstance(x, list):
        return [no_nan(v) for v in x]
    return None if isinstance(x, float) and x != x else x


def stop(procs):
    """SIGTERM every process started (by PID), then SIGKILL what is left, children included."""
    kids = {}
    for name, p in procs.items():
        if p.poll() is None:
            kids[name] = children(p.pid)
            p.send_signal(signal.SIGTERM)
    for name, p in procs.items():
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        for pid in kids.get(name, []):  # e.g. an nginx worker whose master was killed
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--zcnet", default="build/release/zcnet", help="the zcnet command "
                    "(default %(default)s)")
    ap.add_argument("--zcnet-args", default="", help="extra args appended to 'zcnet proxy', "
                    "e.g. '--strategy read-write' (one flag alone: --zcnet-args=--flag)")
    ap.add_argument("--zcnet-variant", action="append", default=[], metavar="NAME=ARGS",
                    help="one more zcnet proxy, named zcnet-NAME, started with ARGS appended "
                    "(after --zcnet-args), e.g. 'uring=--backend uring'; repeatable; each is "
                    "added to --proxies")
    ap.add_argument("--proxies", default=",".join(PROXIES),
                    help="comma list of: " + ", ".join(PROXIES) + " (default all)")
    ap.add_argument("--sizes", default="4k,1m,16m", help="comma list of: " + ", ".join(SIZES))
    ap.add_argument("--connections", default="100,500,1000", help="comma list (default "
                    "%(default)s)")
    ap.add_argument("--duration", default="4,16m=30",
                    help="seconds per wrk run: one number, or per size like '5,16m=15' (a run "
                    "must be long enough for responses to complete: 1000 connections sharing "
                    "16 MiB responses take about 13 s each; default %(default)s)")
    ap.add_argument("--runs", type=int, default=3, help="runs per cell, medians reported "
                    "(default %(default)s)")
    ap.add_argument("--threads", type=int, default=1, help="wrk threads (default %(default)s)")
    ap.add_argument("--wrk-timeout", default="2s,16m=60s", help="wrk --timeout, one value or "
                    "per size like --duration: a request pending longer counts as a timeout "
                    "error and wrk reconnects (default %(default)s: wrk's own 2 s cuts 16 MiB "
                    "responses off)")
    ap.add_argument("--json", metavar="FILE", help="write every run's raw results here")
    args = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # the table after the per-run lines, piped too

    durations = per_size(args.duration, int)
    wrk_timeouts = per_size(args.wrk_timeout, str)
    proxies = args.proxies.split(",")
    variants = {}
    for v in args.zcnet_variant:
        name, sep, extra = v.partition("=")
        if not sep or not name:
            sys.exit(f"--zcnet-variant '{v}' is not NAME=ARGS")
        variants["zcnet-" + name] = shlex.split(extra)
    proxies += [v for v in variants if v not in proxies]
    sizes = args.sizes.split(",")
    conns_list = [int(c) for c in args.connections.split(",")]
    for p in proxies:
        if p not in PROXIES and p not in variants:
            sys.exit(f"unknown proxy {p}: one of {', '.join(PROXIES)}")
    for s in sizes:
        if s not in SIZES:
            sys.exit(f"unknown size {s}: one of {', '.join(SIZES)}")
    if args.runs < 1 or args.threads < 1 or min(conns_list) < args.threads:
        sys.exit("need --runs >= 1, --threads >= 1 and every connection count >= --threads")
    tools = ["nginx", "wrk"] + (["haproxy"] if any(p in HAPROXIES for p in proxies) else [])
    for tool in tools:
        if not shutil.which(tool):
            sys.exit(f"{tool} not found: run scripts/setup-peers.sh")
    if any(p == "zcnet" or p in variants for p in proxies) and not (os.path.isfile(args.zcnet) and os.access(args.zcnet, os.X_OK)):
        sys.exit(f"zcnet not found at {args.zcnet}: build it (cmake --preset release && cmake "
                 f"--build --preset release), pass --zcnet, or leave zcnet out of --proxies")

    # 1000 connections through a proxy are 2000+ descriptors in it; children inherit this.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    need = 2 * max(conns_list) + 100
    if hard < need:
        print(f"warning: RLIMIT_NOFILE hard limit {hard} < {need} needed for "
              f"{max(conns_list)} proxied connections", file=sys.stderr)
    # HAProxy 2.6 asks for 2 descriptors per connection plus 2 per pipe (maxpipes: maxconn / 4)
    # plus a few: 2.5 x maxconn + 25, and exits ("Cannot raise FD limit") if it cannot have it.
    haproxy_maxconn = max(1000, min(20000, (hard - 100) * 2 // 5))

    tmp = tempfile.mkdtemp(prefix="zcnet-proxy-peers-")
    os.chmod(tmp, 0o755)  # nginx workers run as www-data (or nobody) and must reach the files
    root = os.path.join(tmp, "root")
    os.makedirs(root, mode=0o755)
    os.chmod(root, 0o755)
    block = os.urandom(1 << 20)
    digests = {}
    for name, size in SIZES.items():
        data = (block * (size // len(block) + 1))[:size]
        with open(os.path.join(root, name), "wb") as f:
            f.write(data)
        os.chmod(os.path.join(root, name), 0o644)
        digests[name] = hashlib.sha256(data).hexdigest()

    procs, logs, notes = {}, {}, []
    try:
        nginx_port, *ports = free_ports(1 + len(proxies))
        ports = dict(zip(proxies, ports))
        ports["nginx-direct"] = nginx_port

        def start(name, cmd):
            logs[name] = os.path.join(tmp, f"{name}.stderr")
            with open(logs[name], "wb") as err:
                procs[name] = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                               stdout=subprocess.DEVNULL, stderr=err)

        start("nginx-direct", ["nginx", "-c", nginx_conf(tmp, root, nginx_port, hard), "-p", tmp])
        wait_port(nginx_port, procs["nginx-direct"], "nginx", logs["nginx-direct"])
        for name in proxies:
            if name in HAPROXIES:
                cfg = haproxy_conf(tmp, name, ports[name], nginx_port, haproxy_maxconn,
                                   splice=name == "haproxy-splice")
                check = subprocess.run(["haproxy", "-c", "-f", cfg], capture_output=True,
                                       text=True, timeout=30)
                said = (check.stdout + check.stderr).strip()
                if check.returncode != 0:
                    raise RuntimeError(f"{name}: haproxy -c -f {cfg} failed:\n{said}")
                if said and said != "Configuration file is valid":
                    notes.append(f"{name}: haproxy -c: {said}")
                start(name, ["haproxy", "-db", "-f", cfg])
            elif name == "zcnet" or name in variants:
                start(name, [args.zcnet, "proxy", "--listen", f"127.0.0.1:{ports[name]}",
                             "--upstream", f"127.0.0.1:{nginx_port}", "--workers", "1"]
                      + shlex.split(args.zcnet_args) + variants.get(name, []))
        for name in proxies:
            if name != "nginx-direct":
                wait_port(ports[name], procs[name], name, logs[name])
        syscalls = {}
        for name in proxies:  # no run counts before the proxy moves every file intact
            for f in SIZES:
                if f != "16m":
                    fetch_check(name, ports[name], f, SIZES[f], digests[f])
            # the 16m check under strace -c: how the proxy moved the bytes (splice or copies)
            pids = [procs[name].pid] + children(procs[name].pid)
            syscalls[name] = syscalls_during(
                pids, lambda: fetch_check(name, ports[name], "16m", SIZES["16m"],
                                          digests["16m"]), tmp)
            if syscalls[name] is None:
                continue
            top = sorted(syscalls[name].items(), key=lambda kv: -kv[1])[:6]
            notes.append(f"{name}: syscalls relaying one 16m GET (strace -c): "
                         + ", ".join(f"{k} {v}" for k, v in top))
            spliced = syscalls[name].get("splice", 0)
            if name == "haproxy-splice" and not spliced:
                notes.append("haproxy-splice: no splice call moving 16m: not splicing!")
            if name == "haproxy-copy" and spliced:
                notes.append("haproxy-copy: splice calls: splicing after all!")
        versions = {"nginx": version(["nginx", "-v"]), "wrk": version(["wrk", "-v"]),
                    "kernel": platform.release()}
        if any(p in HAPROXIES for p in proxies):
            versions["haproxy"] = version(["haproxy", "-v"])
        for name, v in versions.items():
            print(f"{name}: {v}", file=sys.stderr)
        print(f"checked {', '.join(SIZES)} through {', '.join(proxies)}; RLIMIT_NOFILE {hard}"
              + (f", haproxy maxconn {haproxy_maxconn}" if any(p in HAPROXIES for p in proxies)
                 else ""), file=sys.stderr)

        # Machine busy time counts everything: say so if something else is running.
        _, b0 = machine_seconds()
        time.sleep(1)
        background = machine_seconds()[1] - b0
        if background > 0.1:
            notes.append(f"the machine was {background:.2f} CPUs busy before the runs, with no "
                         f"load on the servers: machine s/GiB includes that")
        runs_out = []
        results = {}
        for size in sizes:
            duration = durations.get(size, durations["*"])
            wrk_timeout = wrk_timeouts.get(size, wrk_timeouts["*"])
            for conns in conns_list:
                for run in range(args.runs):
                    for s in proxies:  # alternating: A B C A B C ...
                        if procs[s].poll() is not None or procs["nginx-direct"].poll() is not None:
                            raise RuntimeError(f"{s} or nginx exited during the runs; stderr:\n"
                                               f"{tail(logs[s])}")
                        pids = [procs[s].pid] + children(procs[s].pid)
                        npids = [procs["nginx-direct"].pid] + children(procs["nginx-direct"].pid)
                        c0, n0 = cpu_seconds(pids), cpu_seconds(npids)
                        (irq0, busy0), w0 = machine_seconds(), waited_children_cpu()
                        t0 = time.monotonic()
                        r = subprocess.run(
                            ["wrk", f"-t{args.threads}", f"-c{conns}", f"-d{duration}s",
                             "--timeout", wrk_timeout, "--latency",
                             f"http://127.0.0.1:{ports[s]}/{size}"],
                            stdin=subprocess.DEVNULL, capture_output=True, text=True,
                            timeout=duration + 30)  # on timeout: wrk killed, then raised
                        elapsed = time.monotonic() - t0
                        cpu, ncpu = cpu_seconds(pids) - c0, cpu_seconds(npids) - n0
                        irq1, busy1 = machine_seconds()
                        client = waited_children_cpu() - w0
                        w = parse_wrk(r.stdout)
                        if w is None:
                            raise RuntimeError(f"{s} {size} c={conns}: wrk said nothing usable "
                                               f"(status {r.returncode}):\n{r.stdout}{r.stderr}")
                        gib = w["bps"] * duration / (1 << 30)
                        per = (lambda x: x / gib) if gib else (lambda x: NAN)
                        row = dict(w, size=size, connections=conns, run=run + 1, proxy=s,
                                   duration=duration, elapsed=elapsed, proxy_cpu=cpu,
                                   nginx_cpu=ncpu, wrk_cpu=client, softirq=irq1 - irq0,
                                   machine_busy=busy1 - busy0, gib=gib,
                                   proxy_cpu_per_gib=per(cpu), nginx_cpu_per_gib=per(ncpu),
                                   wrk_cpu_per_gib=per(client), softirq_per_gib=per(irq1 - irq0),
                                   machine_per_gib=per(busy1 - busy0))
                        runs_out.append(row)
                        results.setdefault((size, conns, s), []).append(row)
                        err = error_text(w["socket_errors"], w["non2xx"], not w["requests"])
                        print(f"{size:>4} c={conns:<5} run {run + 1} {s:<14} {w['rps']:10.0f} "
                              f"req/s {w['bps'] / 1e6:9.1f} MB/s p50 {w['p50_ms']:8.2f} "
                              f"p99 {w['p99_ms']:8.2f} ms cpu/GiB {per(cpu):6.3f} "
                              f"nginx/GiB {per(ncpu):6.3f} wrk/GiB {per(client):6.3f} "
                              f"softirq/GiB {per(irq1 - irq0):6.3f} "
                              f"machine/GiB {per(busy1 - busy0):6.3f}"
                              + (f"  ERRORS: {err}" if err else ""), file=sys.stderr)
        for name in procs:  # anything the servers said beyond zcnet's "listening" line
            said = "\n".join(l for l in tail(logs[name], 10).splitlines()
                             if l.strip() and "listening on port" not in l)
            if said:
                notes.append(f"{name} stderr: {said}")
        said = tail(os.path.join(tmp, "nginx.err"), 10).strip()
        if said:
            notes.append(f"nginx error_log: {said}")

        keys = ("rps", "bps", "p50_ms", "p99_ms", "proxy_cpu_per_gib", "nginx_cpu_per_gib",
                "wrk_cpu_per_gib", "machine_per_gib")
        medians = []
        print("\n| file | conns | proxy | req/s | spread | MB/s | p50 ms | p99 ms | "
              "proxy CPU s/GiB | nginx CPU s/GiB | wrk s/GiB | machine s/GiB | "
              "MB/s vs best HAProxy | proxy CPU/GiB vs best HAProxy | machine/GiB vs best "
              "HAProxy | MB/s vs nginx-direct | machine/GiB vs nginx-direct | errors |")
        print("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
              "| ---: | ---: | ---: | ---: | ---: | --- |")
        for size in sizes:
            for conns in conns_list:
                med = {s: {k: statistics.median(r[k] for r in results[(size, conns, s)])
                           for k in keys} for s in proxies}
                haps = [h for h in HAPROXIES if h in med]
                best = max(haps, key=lambda h: med[h]["bps"]) if haps else None
                ref = med[best] if best else dict.fromkeys(keys, NAN)
                direct = med.get("nginx-direct", dict.fromkeys(keys, NAN))
                for s in proxies:
                    m, rows = med[s], results[(size, conns, s)]
                    bs = [r["bps"] for r in rows]  # spread: (max - min) / median of MB/s
                    spread = (max(bs) - min(bs)) / m["bps"] if m["bps"] else NAN
                    sock = {}
                    for r in rows:
                        for k, v in r["socket_errors"].items():
                            sock[k] = sock.get(k, 0) + v
                    non2xx = sum(r["non2xx"] for r in rows)
                    err = error_text(sock, non2xx, sum(1 for r in rows if not r["requests"]))
                    flagged = sum(1 for r in rows if bad_run(r))
                    errcell = f"**{flagged}/{len(rows)} runs: {err}**" if err else ""
                    nginx_cpu = f"{m['nginx_cpu_per_gib']:.3f}" if s != "nginx-direct" else "="
                    vs_best = (f"{ratio(m['bps'], ref['bps'])} | "
                               f"{ratio(m['proxy_cpu_per_gib'], ref['proxy_cpu_per_gib'])} | "
                               f"{ratio(m['machine_per_gib'], ref['machine_per_gib'])}")
                    print(f"| {size} | {conns} | {s} | {m['rps']:.0f} | {spread:.0%} | "
                          f"{m['bps'] / 1e6:.1f} | {m['p50_ms']:.2f} | {m['p99_ms']:.2f} | "
                          f"{m['proxy_cpu_per_gib']:.3f} | {nginx_cpu} | "
                          f"{m['wrk_cpu_per_gib']:.3f} | {m['machine_per_gib']:.3f} | "
                          f"{vs_best} | {ratio(m['bps'], direct['bps'])} | "
                          f"{ratio(m['machine_per_gib'], direct['machine_per_gib'])} | "
                          f"{errcell} |")
                    medians.append(dict(m, size=size, connections=conns, proxy=s,
                                        best_haproxy=best, flagged_runs=flagged,
                                        socket_errors=sock, non2xx=non2xx))
        print("\nMB/s = 10^6 bytes/s of wrk's Transfer/sec (headers included); best HAProxy: the "
              "HAProxy mode with the higher median MB/s in that row's cell; nginx CPU for "
              "nginx-direct is the proxy CPU column.")
        for n in notes:
            print(f"note: {n}")
        if args.json:
            with open(args.json, "w") as f:
                json.dump(no_nan({"argv": sys.argv, "versions": versions,
                                  "rlimit_nofile": hard, "haproxy_maxconn": haproxy_maxconn,
                                  "background_busy_cpus": background, "notes": notes,
                                  "syscalls_16m_check": syscalls, "runs": runs_out,
                                  "medians": medians}), f, indent=1)
            print(f"JSON {args.json}", file=sys.stderr)
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        sys.exit(f"proxy_vs_haproxy: {e}")
    finally:
        stop(procs)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
