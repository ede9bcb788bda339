#!/usr/bin/env python3
"""Python servers side by side, in one run, alternating.

(a) A server answers 1 MiB payloads to `zcnet load` (C++, so the server is what is measured; its
    protocol: an 8-byte little-endian length N, then exactly N bytes back, on a persistent
    connection) at 100, 500 and 1000 connections. Variants, each a Python process serving from a
    1 MiB file: zcnet.aio.sendfile, asyncio streams (64 KiB read + write/drain), loop.sock_sendall
    of the whole payload, loop.sock_sendfile, each under the default loop and under uvloop; and,
    as the reference with no Python at all, `zcnet load-server` (the C++ engine on one epoll
    thread) with read-write, with sendfile and with mmap (its cached whole-file mapping).
    Server CPU s/GiB and context switches/GiB come from /proc/PID/stat and /proc/PID/task/*/status
    of the server process, sampled around each load run; the client's CPU from its own report, and
    the machine's softirq+irq time (/proc/stat) per GiB beside them. That column overlaps the
    others: a tick spent in softirq is counted there and also charged to the process it
    interrupted (tick accounting, no CONFIG_IRQ_TIME_ACCOUNTING), so it is not added to them.
(b) A 1 GiB file over loopback into `zcnet recv` (C++, discards): zcnet.sendfile vs
    socket.sendfile vs readinto+sendall loops (64 KiB, 1 MiB), 5 runs each, mean and stddev.

    build/venv/bin/python bench/peers/python_servers.py --zcnet build/release/zcnet
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Optional, Tuple

MiB = 1 << 20
GiB = 1 << 30
CLK_TCK = os.sysconf("SC_CLK_TCK")
STRATEGY = "auto"  # zcnet.aio.sendfile's strategy= in the servers (--zcnet-strategy)
ZCNET_CLI = "build/release/zcnet"  # --zcnet: the load client, `recv` and the native servers
NATIVE = {"engine-read-write": "read-write", "engine-sendfile": "sendfile", "engine-mmap": "mmap"}  # "C++"

# ---------------------------------------------------------------- servers (run in a child)


async def read_length(loop, sock, buf: bytearray) -> Optional[int]:
    view = memoryview(buf)
    got = 0
    while got < 8:
        n = await loop.sock_recv_into(sock, view[got:])
        if n == 0:
            return None
        got += n
    return struct.unpack("<Q", buf)[0]


async def serve_sockets(variant: str, path: str, port_out, strategy: str) -> None:
    """zcnet-aio, sock_sendall, sock_sendfile: raw nonblocking sockets on the running loop."""
    import zcnet.aio

    loop = asyncio.get_running_loop()
    payload = open(path, "rb").read()
    fileobj = open(path, "rb")
    fd = fileobj.fileno()
    listener = socket.create_server(("127.0.0.1", 0), backlog=4096)
    listener.setblocking(False)
    port_out(listener.getsockname()[1])

    async def conn(sock: socket.socket) -> None:
        sock.setblocking(False)
        buf = bytearray(8)
        try:
            while True:
                n = await read_length(loop, sock, buf)
                if n is None:
                    return
                if variant == "zcnet-aio":
                    await zcnet.aio.sendfile(sock, fd, 0, n, strategy=strategy)
                elif variant == "sock_sendall":
                    await loop.sock_sendall(sock, memoryview(payload)[:n])
                else:  # sock_sendfile: os.sendfile on the default loop; uvloop falls back
                    await loop.sock_sendfile(sock, fileobj, 0, n)
        except OSError:
            pass
        finally:
            sock.close()

    while True:
        sock, _ = await loop.sock_accept(listener)
        asyncio.ensure_future(conn(sock))


async def serve_streams(path: str, port_out) -> None:
    """The usual Python code: asyncio streams, 64 KiB file reads, write + drain."""
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        f = open(path, "rb", buffering=0)
        try:
            while True:
                head = await reader.readexactly(8)
                left = struct.unpack("<Q", head)[0]
                f.seek(0)
                while left > 0:
                    chunk = f.read(min(65536, left))
                    writer.write(chunk)
                    await writer.drain()
                    left -= len(chunk)
        except (asyncio.IncompleteReadError, OSError):
            pass
        finally:
            f.close()
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=4096)
    port_out(server.sockets[0].getsockname()[1])
    await server.serve_forever()


def run_server(variant: str, loop_kind: str, path: str, strategy: str) -> None:
    def port_out(port: int) -> None:
        print(port, flush=True)

    main = serve_streams(path, port_out) if variant == "streams" else serve_sockets(variant, path, port_out, strategy)
    if loop_kind == "uvloop":
        import uvloop

        uvloop.run(main)
    else:
        asyncio.run(main)


# ---------------------------------------------------------------- measurement


def proc_cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (fields 14, 15)


def proc_ctx(pid: int) -> int:
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                for line in f:
                    if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                        total += int(line.split()[1])
        except FileNotFoundError:
            pass
    return total


def softirq_s() -> float:
    """irq + softirq seconds of every CPU so far (also in the stime of whoever was interrupted)."""
    with open("/proc/stat") as f:
        fields = f.readline().split()
    return (int(fields[6]) + int(fields[7])) / CLK_TCK


def start_server(variant: str, loop_kind: str, path: str) -> Tuple[subprocess.Popen, int]:
    if loop_kind == "C++":
        cmd = [ZCNET_CLI, "load-server", "--file", path, "--strategy", NATIVE[variant]]
    else:
        cmd = [sys.executable, os.path.abspath(__file__), "--serve", variant, "--loop", loop_kind, "--file", path,
               "--zcnet-strategy", STRATEGY]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if not line:
        raise RuntimeError(f"server {variant}/{loop_kind} did not start")
    return proc, int(line)


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def one_load_run(zcnet_cli: str, variant: str, loop_kind: str, path: str, conns: int, size: int,
                 duration: float, read_size: str) -> Dict[str, float]:
    proc, port = start_server(variant, loop_kind, path)
    try:
        cpu0, ctx0, irq0 = proc_cpu_s(proc.pid), proc_ctx(proc.pid), softirq_s()
        out = subprocess.run(
            [zcnet_cli, "load", "--connect", f"127.0.0.1:{port}", "--connections", str(conns),
             "--size", str(size), "--duration", str(duration), "--read-size", read_size, "--json"],
            capture_output=True, text=True, timeout=duration + 60,
        )
        cpu1, ctx1, irq1 = proc_cpu_s(proc.pid), proc_ctx(proc.pid), softirq_s()
    finally:
        stop(proc)
    if out.returncode != 0:
        return {"error": out.stderr.strip()[-300:] or f"exit {out.returncode}"}
    r = json.loads(out.stdout)
    gib = r["bytes"] / GiB
    return {
        "throughput": r["throughput_bytes_per_s"],
        "cpu_per_gib": (cpu1 - cpu0) / gib if gib else float("nan"),
        "ctx_per_gib": (ctx1 - ctx0) / gib if gib else float("nan"),
        "client_cpu_per_gib": (r["cpu_user_s"] + r["cpu_sys_s"]) / gib if gib else float("nan"),
        "softirq_per_gib": (irq1 - irq0) / gib if gib else float("nan"),
        "p99_ms": r["latency_ns"]["p99"] / 1e6,
        "errors": r.get("errors", 0),
    }


def part_a(args) -> List[str]:
    # uvloop has no loop.sock_sendfile (NotImplementedError), so that variant runs on asyncio only.
    variants = [(v, l) for l in ("asyncio", "uvloop") for v in ("zcnet-aio", "streams", "sock_sendall", "sock_sendfile")
                if (v, l) != ("sock_sendfile", "uvloop")]
    variants += [(v, "C++") for v in NATIVE]
    if args.variants:
        variants = [v for v in variants if f"{v[1]}/{v[0]}" in args.variants or v == ("streams", "asyncio")]
    fd, path = tempfile.mkstemp(prefix="zcnet-py-bench-")
    os.write(fd, os.urandom(args.size))
    os.close(fd)
    rows = []
    try:
        for conns in args.connections:
            samples: Dict[Tuple[str, str], List[Dict[str, float]]] = {k: [] for k in variants}
            for run in range(args.runs):
                order = variants if run % 2 == 0 else list(reversed(variants))  # alternate
                for v in order:
                    s = one_load_run(args.zcnet, v[0], v[1], path, conns, args.size, args.duration, args.read_size)
                    samples[v].append(s)
                    print(f"# a: {conns} conns run {run + 1} {v[1]}/{v[0]}: {s}", file=sys.stderr, flush=True)
            med = {}
            for v, ss in samples.items():
                ok = [s for s in ss if "error" not in s]
                if not ok:
                    med[v] = None
                    continue
                med[v] = {k: statistics.median(s[k] for s in ok)
                          for k in ("throughput", "cpu_per_gib", "ctx_per_gib", "client_cpu_per_gib", "softirq_per_gib",
                                    "p99_ms", "errors")}
                med[v]["failed_runs"] = len(ss) - len(ok)
            base = med[("streams", "asyncio")]
            rows.append(f"\n{conns} connections x {args.size // MiB} MiB payloads, {args.duration:g} s per run, median of {args.runs} runs,"
                        f" client reads of {args.read_size}")
            rows.append("| loop | server | throughput MB/s | server CPU s/GiB | ctx switches/GiB | client CPU s/GiB | softirq s/GiB |"
                        " p99 ms | vs streams: throughput | CPU/GiB | ctx/GiB |")
            rows.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
            for v in variants:
                m = med[v]
                if m is None:
                    rows.append(f"| {v[1]} | {v[0]} | failed: {samples[v][0].get('error', '')[:80]} | | | | | | | | |")
                    continue
                ratio = (lambda k: f"{m[k] / base[k]:.2f}") if base else (lambda k: "n/a")
                rows.append(
                    f"| {v[1]} | {v[0]} | {m['throughput'] / 1e6:.0f} | {m['cpu_per_gib']:.3f} | {m['ctx_per_gib']:.0f} | "
                    f"{m['client_cpu_per_gib']:.3f} | {m['softirq_per_gib']:.3f} | {m['p99_ms']:.1f} | {ratio('throughput')} | {ratio('cpu_per_gib')} | {ratio('ctx_per_gib')} |"
                    + (f" ({m['failed_runs']} failed)" if m["failed_runs"] else "")
                )
            print("\n".join(rows[-(len(variants) + 3):]), flush=True)
    finally:
        os.unlink(path)
    return rows


# ---------------------------------------------------------------- (b) 1 GiB into zcnet recv


def send_variant(name: str, sock: socket.socket, path: str) -> int:
    import zcnet

    if name.startswith("zcnet.sendfile"):  # "zcnet.sendfile" (auto) or "zcnet.sendfile strategy=S"
        strategy = name.split("strategy=")[1] if "strategy=" in name else "auto"
        return zcnet.sendfile(sock, path, strategy=strategy)
    with open(path, "rb", buffering=0) as f:
        if name == "socket.sendfile":
            return sock.sendfile(f)
        size = 65536 if name == "readinto+sendall 64K" else MiB
        buf = bytearray(size)
        view = memoryview(buf)
        total = 0
        while True:
            n = f.readinto(buf)
            if not n:
                return total
            sock.sendall(view[:n])
            total += n


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def part_b(args) -> List[str]:
    names = ["zcnet.sendfile"] + [f"zcnet.sendfile strategy={s}" for s in args.big_strategies] + [
        "socket.sendfile", "readinto+sendall 64K", "readinto+sendall 1M"]
    fd, path = tempfile.mkstemp(prefix="zcnet-py-bench-1g-")
    block = os.urandom(4 * MiB)
    for _ in range(args.big // len(block)):
        os.write(fd, block)
    os.close(fd)
    port = free_port()
    recv = subprocess.Popen([args.zcnet, "recv", "--listen", f"127.0.0.1:{port}", "--count", "0", "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    times: Dict[str, List[float]] = {n: [] for n in names}
    try:
        for _ in range(50):
            try:
                socket.create_connection(("127.0.0.1", port)).close()
                recv.stdout.readline()  # its report for the probe connection
                break
            except ConnectionRefusedError:
                time.sleep(0.1)
        with open(path, "rb") as f:  # warm the page cache: every variant reads from memory
            while f.read(16 * MiB):
                pass
        for run in range(args.big_runs):
            order = names if run % 2 == 0 else list(reversed(names))
            for name in order:
                sock = socket.create_connection(("127.0.0.1", port))
                t0 = time.perf_counter()
                sent = send_variant(name, sock, path)
                sock.shutdown(socket.SHUT_WR)
                report = json.loads(recv.stdout.readline())  # the receiver has every byte
                dt = time.perf_counter() - t0
                sock.close()
                assert sent == args.big, (name, sent)
                if report.get("bytes", sent) != args.big:
                    raise RuntimeError(f"{name}: receiver got {report}")
                times[name].append(dt)
                print(f"# b: run {run + 1} {name}: {dt:.3f} s", file=sys.stderr, flush=True)
    finally:
        recv.send_signal(signal.SIGTERM)
        try:
            recv.wait(10)
        except subprocess.TimeoutExpired:
            recv.kill()
            recv.wait()
        os.unlink(path)
    rows = [f"\n{args.big / GiB:g} GiB file over loopback into `zcnet recv`, {args.big_runs} runs each, alternating",
            "| sender | mean s | stddev s | GB/s (mean) | vs socket.sendfile |",
            "| --- | ---: | ---: | ---: | ---: |"]
    base = statistics.mean(times["socket.sendfile"])
    for n in names:
        m, sd = statistics.mean(times[n]), statistics.stdev(times[n]) if len(times[n]) > 1 else 0.0
        rows.append(f"| {n} | {m:.3f} | {sd:.3f} | {args.big / m / 1e9:.2f} | {base / m:.2f}x |")
    print("\n".join(rows), flush=True)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--serve", help=argparse.SUPPRESS)
    p.add_argument("--loop", default="asyncio", help=argparse.SUPPRESS)
    p.add_argument("--file", help=argparse.SUPPRESS)
    p.add_argument("--zcnet", default="build/release/zcnet", help="zcnet CLI (load, recv)")
    p.add_argument("--connections", type=lambda s: [int(x) for x in s.split(",")], default=[100, 500, 1000])
    p.add_argument("--size", type=int, default=MiB)
    p.add_argument("--duration", type=float, default=3.0)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--big", type=int, default=GiB)
    p.add_argument("--big-runs", type=int, default=5)
    p.add_argument("--big-strategies", type=lambda s: [x for x in s.split(",") if x], default=[],
                   help="(b) also zcnet.sendfile forced to these strategies (e.g. sendfile,read-write)")
    p.add_argument("--skip", choices=["a", "b"], help="leave out one part")
    p.add_argument("--variants", type=lambda s: s.split(","), help="(a) only these LOOP/SERVER (streams always; C++/engine-read-write, C++/engine-sendfile, C++/engine-mmap)")
    p.add_argument("--zcnet-strategy", default="auto", help="strategy= for zcnet.aio.sendfile")
    p.add_argument("--read-size", default="256K", help="(a) bytes per read in the `zcnet load` client")
    args = p.parse_args()
    if args.serve:
        signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
        run_server(args.serve, args.loop, args.file, args.zcnet_strategy)
        return
    print(f"# {time.strftime('%Y-%m-%d %H:%M:%S')} python {sys.version.split()[0]}, {os.cpu_count()} cores", flush=True)
    global STRATEGY, ZCNET_CLI
    STRATEGY = args.zcnet_strategy
    ZCNET_CLI = args.zcnet
    if args.skip != "a":
        part_a(args)
    if args.skip != "b":
        part_b(args)


if __name__ == "__main__":
    main()
