#!/usr/bin/env python3
"""A verifying soak of `zcnet serve`: many keep-alive clients fetch whole files and byte ranges
while the files are rewritten in place, replaced by rename and truncated underneath the server,
and every byte that arrives is checked.

Every file is made of 16-byte records, each saying where it belongs and which version of the file
wrote it: (file id, record index, version, index + file id * 2^20 + version), little-endian
32-bit words. A record is correct when its file id and index match where it arrived and both its
version word and the version its fourth word encodes are versions that file has had (a record
caught between two writes may carry one of each). So a body is checked against what the file held
at that moment even when a rewrite ran during the transfer, and a byte from another file, another
offset, a stale buffer or nowhere (zeros) is caught.

Allowed outcomes: 200 or 206 with every byte correct; 416 for a range past a truncated end; a
body cut short by the server closing the connection, only for a file truncated since shortly
before the request (its received bytes still checked, a trailing partial record aside). Past the
end of such a truncation, bytes may also arrive as zeros: the kernel zeroes the rest of the page
at the new end in place, a page lent to a socket by sendfile or from a mapping is read only when
the receiver copies it, and a mapping reads zeros past the end up to its page boundary; those
responses are counted apart.
Anything else counts as a failure. The server's anonymous memory and open descriptors are sampled
every second and must not grow after the warm-up (the first fifth of the run) by more than 25%
(and 8 MiB) or 64 descriptors. Bounded by --duration (responses in flight then still finish, each
byte within --stall seconds); exits 1 on any failure.

With --via-proxy the clients connect to a `zcnet proxy` in front of the server (the same binary,
relaying to it) and the same checks and rules apply to what arrives through it: a cut seen by a
client, an end of stream or a reset, before the head or in the body, is allowed only where it
would be from the server itself. Without --faults each body cut must also be one the server
logged as cut by a truncation, for that file and with as many bytes unsent: the proxy relays
every byte the server sent before its end of stream, and cuts nothing itself. The proxy's memory
and descriptors are held flat as the server's, it must stop on SIGTERM with status 0 as the
server must, and with --faults it runs with faults of its own (seed SEED+1). Its access log
gives the summary's proxy line. ZCNET_SOAK_SERVER_LOG, ZCNET_SOAK_PROXY_LOG and
ZCNET_SOAK_PROXY_ACCESS_LOG name files to keep what the server and the proxy said, and the access
log, in.

    python3 tests/soak/serve_soak.py --zcnet build/release/zcnet --duration 60 --clients 1000
    python3 tests/soak/serve_soak.py --zcnet build/release/zcnet --via-proxy --clients 500
"""
import argparse
import array
import asyncio
import os
import random
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

RECORD = 16
SIZES = [16, 4096, 65536 + 48, 1 << 20, 3 << 20, 8 << 20]  # small bodies, sendfile, mapped


def content(fid, version, size, first=0):
    """The bytes of version `version` of file `fid` from record `first` to offset `size` (a
    multiple of 16)."""
    n = size // RECORD - first
    words = array.array("I", bytes(n * RECORD))
    words[0::4] = array.array("I", [fid]) * n
    words[1::4] = array.array("I", range(first, first + n))
    words[2::4] = array.array("I", [version]) * n
    base = fid * (1 << 20) + version + first
    words[3::4] = array.array("I", range(base, base + n))
    if sys.byteorder != "little":
        words.byteswap()
    return words.tobytes()


class Files:
    """The files under the root, their versions, and when each was last truncated."""

    def __init__(self, root, count, rng):
        self.root, self.rng = root, rng
        self.lock = threading.Lock()
        self.max_version = {}
        self.truncations = {}  # fid -> [(time, size)]
        self.size = {}
        self.ops = {"in-place": 0, "rename": 0, "truncate": 0}
        for fid in range(1, count + 1):
            size = SIZES[(fid - 1) % len(SIZES)]
            self._write_new(fid, 1, size)

    def path(self, fid):
        return os.path.join(self.root, f"f{fid}")

    def _write_new(self, fid, version, size):
        tmp = os.path.join(self.root, f".tmp{fid}")
        with open(tmp, "wb") as f:
            f.write(content(fid, version, size))
        os.chmod(tmp, 0o644)
        with self.lock:
            self.max_version[fid] = version
            self.size[fid] = size
        os.replace(tmp, self.path(fid))

    def mutate(self):
        fid = self.rng.randrange(1, len(self.size) + 1)
        with self.lock:
            version, size = self.max_version[fid] + 1, self.size[fid]
        op = self.rng.choice(["in-place", "in-place", "rename", "truncate"])
        if op == "in-place":  # same size, written over the old bytes in 64 KiB pieces
            with self.lock:
                self.max_version[fid] = version  # before any byte of it can be read
            data = content(fid, version, size)
            with open(self.path(fid), "r+b") as f:
                for off in range(0, len(data), 65536):
                    os.pwrite(f.fileno(), data[off:off + 65536], off)
        elif op == "rename":
            self._write_new(fid, version, self.rng.choice(SIZES))
        else:
            keep = self.rng.randrange(1, max(2, size // RECORD)) * RECORD
            with self.lock:
                self.truncations.setdefault(fid, []).append((time.monotonic(), keep))
                self.size[fid] = keep
            os.truncate(self.path(fid), keep)
        self.ops[op] += 1

    def truncated_to(self, fid, since):
        """The smallest size `fid` was truncated to after `since`, or None."""
        with self.lock:
            sizes = [size for t, size in self.truncations.get(fid, []) if t >= since]
        return min(sizes) if sizes else None

    def check(self, fid, offset, body, since):
        """The records of `body` (starting at file offset `offset`, a multiple of 16) that are not
        correct: (wrong, zeroed), each a list of (offset, record words). Zeroed: records past the
        end of a truncation since `since` whose words are correct or zero. The kernel zeroes the
        rest of the page at the new end in place, and a page lent to a socket (sendfile, a
        mapping) is read when the receiver copies it, so those bytes may arrive as zeros."""
        with self.lock:
            top = self.max_version[fid]
        cut_to = self.truncated_to(fid, since)
        bad, zeroed = [], []
        whole = len(body) // RECORD * RECORD
        # Fast path: compare 64 KiB pieces with the version their first record names.
        step = 65536
        for start in range(0, whole, step):
            piece = body[start:min(start + step, whole)]
            first = array.array("I", piece[:RECORD])
            if sys.byteorder != "little":
                first.byteswap()
            idx = (offset + start) // RECORD
            ver = first[2]
            if first[0] == fid and first[1] == idx and 1 <= ver <= top:
                n = len(piece) // RECORD
                expect = content(fid, ver, (idx + n) * RECORD, idx)
                if expect == piece:
                    continue
            words = array.array("I", piece)
            if sys.byteorder != "little":
                words.byteswap()
            for r in range(len(piece) // RECORD):
                w = words[4 * r:4 * r + 4]
                i = idx + r
                enc = w[3] - i - fid * (1 << 20)
                if not (w[0] == fid and w[1] == i and 1 <= w[2] <= top and 1 <= enc <= top):
                    at = offset + start + r * RECORD
                    if cut_to is not None and at >= cut_to and zero_filled(w, fid, i, top):
                        zeroed.append((at, tuple(w)))
                        continue
                    bad.append((at, tuple(w)))
                    break  # the first wrong record of a piece is enough to report it
        return bad, zeroed


def bytes_of(word):
    return [(word >> (8 * k)) & 0xFF for k in range(4)]


def within(got, want):
    """Every byte of `got` is the byte of `want` or zero (a copy that met the kernel zeroing it)."""
    return all(g in (0, w) for g, w in zip(bytes_of(got), bytes_of(want)))


def zero_filled(words, fid, index, top):
    """A record, part of it zeroed byte by byte, that was correct for some version up to `top`."""
    if not (within(words[0], fid) and within(words[1], index)):
        return False
    return any(within(words[2], v) and within(words[3], fid * (1 << 20) + index + v)
               for v in range(1, top + 1))


class Stats:
    def __init__(self):
        self.responses = {"200": 0, "206": 0, "416": 0, "cut": 0, "faulted": 0}
        self.bytes = 0
        self.zeroed_responses = 0
        self.cuts = []  # (file id, bytes of the body not received, what the client saw)
        self.failures = []

    def fail(self, text):
        kind = re.sub(r"\d+", "N", text)
        if sum(1 for t in self.failures if re.sub(r"\d+", "N", t) == kind) < 5:
            print("FAIL:", text, flush=True)  # the first five of each kind
        self.failures.append(text)

    def kinds(self):
        """How many failures of each kind (the text with file names and numbers taken out)."""
        counted = {}
        for text in self.failures:
            kind = re.sub(r"\d+", "N", text)
            counted[kind] = counted.get(kind, 0) + 1
        return counted


async def read_head(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    fields = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            fields[k.strip().lower()] = v.strip()
    return status, fields


async def client(args, port, files, stats, deadline, rng):
    reader = writer = None
    served, last_done = 0, time.monotonic()
    while time.monotonic() < deadline:
        if writer is None:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
                served, last_done = 0, time.monotonic()
            except OSError as e:
                stats.fail(f"connect: {e}")
                await asyncio.sleep(0.1)
                continue
        fid = rng.randrange(1, len(files.size) + 1)
        with files.lock:
            size = files.size[fid]
        ranged = rng.random() < 0.4 and size > RECORD
        req = f"GET /f{fid} HTTP/1.1\r\nHost: soak\r\n"
        first = 0
        if ranged:
            n = size // RECORD
            a = rng.randrange(0, n)
            b = rng.randrange(a + 1, n + 1)
            first = a * RECORD
            req += f"Range: bytes={first}-{b * RECORD - 1}\r\n"
        sent_at = time.monotonic()
        try:
            writer.write((req + "\r\n").encode())
            await writer.drain()
            status, fields = await asyncio.wait_for(read_head(reader), args.stall)
        except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError) as e:
            if args.faults and not isinstance(e, asyncio.TimeoutError):
                stats.responses["faulted"] += 1  # a call of the server's failed on purpose
            else:
                stats.fail(f"f{fid}: no response head ({type(e).__name__}) for request "
                           f"{served + 1} of its connection, sent {sent_at - last_done:.1f} s "
                           f"after the previous response ended, "
                           f"{sent_at - (deadline - args.duration):.1f} s into the run, closed "
                           f"{time.monotonic() - sent_at:.1f} s after it was sent")
            writer.close()
            writer = None
            continue
        length = int(fields.get("content-length", "0"))
        # Read to the end, each piece within --stall seconds: a server that stops sending
        # without closing hangs its client, which is a failure of its own.
        parts, got, cut = [], 0, None
        try:
            while got < length:
                part = await asyncio.wait_for(reader.read(min(1 << 20, length - got)),
                                              args.stall)
                if not part:
                    cut = "closed"
                    break
                parts.append(part)
                got += len(part)
        except asyncio.TimeoutError:  # before OSError: it is one
            stats.fail(f"f{fid}: no byte for {args.stall} s at {got} of {length}: a hang")
            writer.close()
            writer = None
            continue
        except OSError as e:
            cut = type(e).__name__
        body = b"".join(parts)
        stats.bytes += len(body)
        if status == 206:
            rng_text = fields.get("content-range", "")
            if not rng_text.startswith(f"bytes {first}-"):
                stats.fail(f"f{fid}: 206 with Content-Range '{rng_text}' for a range at {first}")
        elif status == 200:
            first = 0
        elif status == 416:
            stats.responses["416"] += 1
            served, last_done = served + 1, time.monotonic()
            continue
        elif status == 503 and args.faults and cut is None:
            stats.responses["faulted"] += 1  # EMFILE or ENFILE made up for the file's open
            served, last_done = served + 1, time.monotonic()
            continue
        else:
            stats.fail(f"f{fid}: status {status}")
            writer.close()
            writer = None
            continue
        bad, zeroed = files.check(fid, first, body, sent_at - 2)
        if zeroed:
            stats.zeroed_responses += 1
        if bad:
            off, words = bad[0]
            stats.fail(f"f{fid}: wrong records in {len(bad)} 64 KiB pieces of a {status} body "
                       f"({first}+{len(body)} of {length}), the first at offset {off}: {words}")
        if cut:
            if args.faults:
                stats.responses["faulted"] += 1
                writer.close()
                writer = None
                continue
            # The server may answer from its open-file cache, trusted for a second
            # (--open-file-cache-valid): a truncation shortly before the request counts too.
            if files.truncated_to(fid, sent_at - 2) is None:
                with files.lock:
                    last = files.truncations.get(fid, [(None, None)])[-1]
                ago = ("never" if last[0] is None
                       else f"{sent_at - last[0]:.2f} s before, to {last[1]}")
                stats.fail(f"f{fid}: {status} body cut ({cut}) at {len(body)} of {length} "
                           f"bytes; the file was last truncated {ago}")
            else:
                stats.cuts.append((fid, length - len(body),
                                   f"f{fid}: {status} body cut ({cut}) at {len(body)} of {length} "
                                   f"bytes"))
            stats.responses["cut"] += 1
            writer.close()
            writer = None
            continue
        stats.responses[str(status)] += 1
        served, last_done = served + 1, time.monotonic()
    if writer is not None:
        writer.close()


def sample(pid):
    """A process's anonymous memory (KiB: file pages it maps are the page cache's, not its own)
    and its open descriptors."""
    with open(f"/proc/{pid}/status") as f:
        rss = next(int(l.split()[1]) for l in f if l.startswith("RssAnon:"))
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


def sample_all(procs, samples):
    """One sample of each process still running into samples[name]."""
    for name, proc in procs.items():
        try:
            samples[name].append((time.monotonic(), *sample(proc.pid)))
        except (OSError, StopIteration):  # it has exited: the exit is checked on its own
            pass


async def main_async(args, port, files, stats, procs):
    deadline = time.monotonic() + args.duration
    rng = random.Random(args.seed)
    samples = {name: [] for name in procs}

    async def sampler():
        while time.monotonic() < deadline:
            sample_all(procs, samples)
            await asyncio.sleep(1)

    stop = threading.Event()

    def mutator():
        mrng = random.Random(args.seed + 1)
        files.rng = mrng
        while not stop.is_set():
            files.mutate()
            stop.wait(args.mutate_every)

    t = threading.Thread(target=mutator, daemon=True)
    t.start()
    tasks = [client(args, port, files, stats, deadline, random.Random(rng.random()))
             for _ in range(args.clients)]
    await asyncio.gather(sampler(), *tasks)
    stop.set()
    t.join()
    sample_all(procs, samples)
    return samples


def start(name, argv, faults, stats):
    """Starts `zcnet NAME` with stderr read by a thread into a list: (process, port it listens
    on, what it said, the reading thread)."""
    proc = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, **({"ZCNET_FAULTS": faults} if faults else {})))
    line = proc.stderr.readline()
    m = re.search(r"listening on port (\d+)", line)
    if not m:
        stop(name, proc, stats)
        sys.exit(f"zcnet {name} did not start: {line}{proc.stderr.read()}")
    said = []
    reader = threading.Thread(target=lambda: said.extend(proc.stderr), daemon=True)
    reader.start()
    return proc, int(m.group(1)), said, reader


def stop(name, proc, stats):
    """SIGTERM, then status 0 within 30 s (a graceful stop: no connection is left by then). A
    process that exited before is the caller's to report."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        stats.fail(f"zcnet {name} did not stop within 30 s of SIGTERM")
    if proc.returncode != 0:
        stats.fail(f"zcnet {name} exited with {proc.returncode}")


def access_log_summary(path):
    """The proxy's access log: connections, by how each ended and by the path of the bytes sent to
    the client, and the bytes delivered each way."""
    how, paths, up, down, n = {}, {}, 0, 0, 0
    if not os.path.exists(path):  # no connection was ever accepted
        return n, how, paths, up, down
    with open(path) as f:
        for line in f:
            m = re.search(r" up=(\d+)/\S+ down=(\d+)/(\S+) \d+ms (\S+)", line)
            if not m:
                continue
            n += 1
            up, down = up + int(m.group(1)), down + int(m.group(2))
            paths[m.group(3)] = paths.get(m.group(3), 0) + 1
            how[m.group(4)] = how.get(m.group(4), 0) + 1
    return n, how, paths, up, down


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--zcnet", default="build/release/zcnet")
    ap.add_argument("--duration", type=float, default=60, help="seconds (default 60)")
    ap.add_argument("--clients", type=int, default=1000, help="keep-alive clients (default 1000)")
    ap.add_argument("--files", type=int, default=24, help="files under the root (default 24)")
    ap.add_argument("--mutate-every", type=float, default=0.02,
                    help="seconds between two changes to a file (default 0.02)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--stall", type=float, default=30,
                    help="seconds a response may send nothing before it counts as a hang")
    ap.add_argument("--serve-args", default="", help="more flags for zcnet serve")
    ap.add_argument("--via-proxy", action="store_true",
                    help="put `zcnet proxy` (the same binary) in front of the server and connect "
                    "the clients to it; it is checked as the server is, and faulted too with "
                    "--faults (seed SEED+1)")
    ap.add_argument("--proxy-args", default="",
                    help="more flags for zcnet proxy (--workers, --max-connections, "
                    "--idle-timeout and --connect-timeout given here replace the soak's)")
    ap.add_argument("--no-memory-check", dest="memory_check", action="store_false",
                    help="do not hold the server's (and the proxy's) anonymous memory flat (a "
                    "sanitizer's own memory grows with the allocations it watches; LeakSanitizer "
                    "checks leaks at exit instead)")
    ap.add_argument("--faults", metavar="SEED:ONE_IN",
                    help="run the server (and the proxy, with SEED+1) with faults injected at its "
                    "syscall seam (a build with ZCNET_FAULTS: the asan and tsan presets); a "
                    "response cut short, a connection closed before one, and a 503 (EMFILE or "
                    "ENFILE made up for a file's open) are then allowed, every byte still checked")
    args = ap.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    proxy_faults = None
    if args.faults:
        seed, one_in = args.faults.split(":")
        proxy_faults = f"{int(seed) + 1}:{one_in}"  # faults of its own, not the server's
    stats = Stats()
    procs, said, readers = {}, {}, []
    with tempfile.TemporaryDirectory(prefix="zcnet-soak-") as root, \
            tempfile.TemporaryDirectory(prefix="zcnet-soak-log-") as logs:
        os.chmod(root, 0o755)
        files = Files(root, args.files, random.Random(args.seed))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        access_log = os.environ.get("ZCNET_SOAK_PROXY_ACCESS_LOG",
                                    os.path.join(logs, "proxy-access.log"))
        try:
            server, _, said["serve"], reader = start(
                "serve", [args.zcnet, "serve", "--root", root, "--listen", f"127.0.0.1:{port}",
                          "--workers", "2", "--max-connections", str(2 * args.clients + 100),
                          # A client's first request may leave seconds after the kernel
                          # finished its connect when a thousand clients share one Python
                          # thread: the default 10 s would close such connections.
                          "--header-timeout", "120"] + args.serve_args.split(),
                args.faults, stats)
            procs["serve"] = server
            readers.append(reader)
            target = port
            if args.via_proxy:
                if os.path.exists(access_log):
                    os.unlink(access_log)  # appended to: this run's connections only
                extra = args.proxy_args.split()
                flags = [("--workers", "2"), ("--max-connections", str(2 * args.clients + 100)),
                         # Generous for one Python thread serving every client: a connection
                         # may wait seconds for its next request.
                         ("--idle-timeout", "600"), ("--connect-timeout", "30")]
                proxy, target, said["proxy"], reader = start(
                    "proxy", [args.zcnet, "proxy", "--listen", "127.0.0.1:0", "--upstream",
                              f"127.0.0.1:{port}", "--access-log", access_log]
                    # --proxy-args may replace these (a flag given twice is refused).
                    + [x for flag, value in flags if flag not in extra for x in (flag, value)]
                    + extra, proxy_faults, stats)
                procs["proxy"] = proxy
                readers.append(reader)
            started = time.monotonic()
            samples = asyncio.run(main_async(args, target, files, stats, procs))
            took = time.monotonic() - started
            for name, proc in procs.items():
                if proc.poll() is not None:
                    stats.fail(f"zcnet {name} exited during the run with {proc.returncode}")
        finally:
            # The proxy first: with its clients gone it has nothing left to relay.
            for name in reversed(list(procs)):
                stop(name, procs[name], stats)
            for reader in readers:
                reader.join(10)  # what it said up to its exit (a sanitizer's report too)
        relayed = access_log_summary(access_log) if args.via_proxy else None

    # Everything each process said, for a closer look.
    for name, var in (("serve", "ZCNET_SOAK_SERVER_LOG"), ("proxy", "ZCNET_SOAK_PROXY_LOG")):
        if name in said and os.environ.get(var):
            with open(os.environ[var], "w") as f:
                f.writelines(said[name])
    # The server logs each transfer a truncation cut; both say when they start shutting down;
    # anything else they said is shown.
    cut_lines = [line for line in said["serve"] if "truncated while sent" in line]
    for name, lines in said.items():
        for line in [line for line in lines if line not in cut_lines
                     and "shutting down (a second signal stops at once)" not in line][:20]:
            print(f"zcnet {name} said:", line.rstrip())
    if args.via_proxy and not args.faults:
        # Through the proxy a cut is allowed only where the server made it: each one the clients
        # saw must be a transfer the server logged as cut by a truncation, with the same number
        # of bytes left unsent (the proxy relays every byte the server sent before its FIN).
        logged = {}
        for line in cut_lines:
            m = re.search(r"/f(\d+) .*truncated while sent: (\d+) of (\d+) bytes", line)
            if m:
                key = (int(m.group(1)), int(m.group(3)) - int(m.group(2)))
                logged[key] = logged.get(key, 0) + 1
        for fid, unsent, text in stats.cuts:
            if logged.get((fid, unsent), 0) > 0:
                logged[(fid, unsent)] -= 1
            else:
                stats.fail(f"{text}, {unsent} bytes short, a cut the server did not log: "
                           f"made by the proxy")
    held = {}
    for name, what in (("serve", "server"), ("proxy", "proxy")):
        if not samples.get(name):
            continue
        got = samples[name]
        warm = [s for s in got if s[0] - got[0][0] >= 0.2 * args.duration] or got
        rss0, fd0 = warm[0][1], warm[0][2]
        rss1, fd1 = got[-1][1], got[-1][2]
        peak_rss = max(s[1] for s in warm)
        if args.memory_check and peak_rss > rss0 * 1.25 + 8192:
            stats.fail(f"{what} anonymous memory grew from {rss0} to {peak_rss} KiB after the "
                       f"warm-up")
        if fd1 > fd0 + 64:
            stats.fail(f"{what} descriptors grew from {fd0} to {fd1} after the warm-up")
        held[name] = (rss0, rss1, peak_rss, fd0, fd1)
    rss0, rss1, peak_rss, fd0, fd1 = held.get("serve", (0, 0, 0, 0, 0))
    if relayed:
        n, how, paths, up, down = relayed
        prss0, prss1, ppeak, pfd0, pfd1 = held.get("proxy", (0, 0, 0, 0, 0))
        print(f"proxy: responses went via zcnet proxy: {n} connections relayed (ended: "
              + ", ".join(f"{k} {v}" for k, v in sorted(how.items()))
              + "; path to the clients: "
              + ", ".join(f"{k} {v}" for k, v in sorted(paths.items()))
              + f"), {down / 1e6:.1f} MB to the clients, {up / 1e6:.1f} MB to the server; "
              f"proxy anonymous memory {prss0} -> {prss1} KiB (peak {ppeak}), descriptors "
              f"{pfd0} -> {pfd1}", flush=True)
    r = stats.responses
    print(f"soak: {took:.0f} s, {args.clients} clients, {sum(r.values())} responses "
          f"(200: {r['200']}, 206: {r['206']}, 416: {r['416']}, cut after truncation: "
          f"{r['cut']}; with zeros past a truncated end: {stats.zeroed_responses}; cut or refused by an injected fault: {r['faulted']}), {stats.bytes / 1e6:.1f} MB verified; file changes: "
          + ", ".join(f"{k} {v}" for k, v in files.ops.items())
          + f"; transfers the server logged as cut by a truncation: {len(cut_lines)}"
          f"; server anonymous memory {rss0} -> {rss1} KiB (peak {peak_rss}), descriptors {fd0} -> {fd1}; "
          f"failures: {len(stats.failures)}", flush=True)
    for kind, n in sorted(stats.kinds().items(), key=lambda x: -x[1]):
        print(f"failures: {n} x {kind}", flush=True)
    if sum(r.values()) == 0:
        print("FAIL: no response completed", flush=True)
        return 1
    return 1 if stats.failures else 0


if __name__ == "__main__":
    sys.exit(main())
