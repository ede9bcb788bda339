"""zcnet: zero-copy network I/O for Python.

Blocking calls (this module) release the GIL for every system call; ``zcnet.aio`` drives the same
engine from the running asyncio loop. Failures raise OSError subclasses carrying the errno
(BrokenPipeError, ConnectionResetError, TimeoutError, ...; a source file that ended before its
stated length raises OSError with errno ENODATA), with a message naming the operation and the
file or peer.
"""

from __future__ import annotations

import errno as _errno
import re as _re
import weakref as _weakref
from typing import Any, Dict, Iterable, Optional, Sequence, Tuple, TypeVar, Union

from . import _zcnet
from ._args import FileArg, SockArg, open_file, socket_fd

__version__: str = _zcnet.__version__

__all__ = [
    "sendfile",
    "recv_into_file",
    "relay",
    "BufferPool",
    "Buffer",
    "serve",
    "StaticServer",
    "Proxy",
    "last_stats",
    "metrics",
    "parse_metrics",
    "set_syscall_timing",
    "STRATEGIES",
    "ENODATA",
    "aio",
]

#: Strategy names accepted by ``strategy=`` ("auto": the engine's selector decides).
STRATEGIES: Tuple[str, ...] = (
    "auto",
    "read-write",
    "mmap",
    "sendfile",
    "splice",
    "tee",
    "msg-zerocopy",
    "uring-send",
    "uring-send-zc",
    "uring-splice",
)

#: errno of a source that ended before its stated length (a file truncated mid-transfer).
ENODATA: int = _errno.ENODATA

Buffer = _zcnet.Buffer

_last: Dict[str, Any] = {}


def last_stats() -> Dict[str, Any]:
    """Stats of the last blocking transfer on any thread: bytes, syscalls, strategy, elapsed_s..."""
    return dict(_last)


def _file_transfer(
    call: Any,
    sock: SockArg,
    file: FileArg,
    write: bool,
    offset: int,
    count: Optional[int],
    strategy: str,
    timeout: Optional[float],
) -> int:
    """One blocking socket<->file transfer through ``call`` (a _zcnet *_fd function)."""
    if offset < 0 or (count is not None and count < 0):
        raise ValueError("offset and count must be >= 0")
    sfd = socket_fd(sock)
    ffd, close = open_file(file, write=write)
    try:
        stats = call(sfd, ffd, offset, count, strategy, timeout)
    finally:
        close()
    _last.clear()
    _last.update(stats)
    return int(stats["bytes"])


def sendfile(
    sock: SockArg,
    file: FileArg,
    offset: int = 0,
    count: Optional[int] = None,
    *,
    strategy: str = "auto",
    timeout: Optional[float] = None,
) -> int:
    """Send ``count`` bytes of ``file`` from ``offset`` (None: to its end) to ``sock``.

    ``sock``: a connected socket object or fd, blocking or nonblocking (a nonblocking one is
    polled with the GIL released). ``file``: a path, a file object or an fd; its position is
    neither used nor moved. ``strategy``: one of STRATEGIES. ``timeout``: seconds without progress
    before TimeoutError (None: wait forever). Returns the bytes sent. Ctrl-C interrupts it.
    """
    return _file_transfer(_zcnet.sendfile_fd, sock, file, False, offset, count, strategy, timeout)


def recv_into_file(
    sock: SockArg,
    file: FileArg,
    offset: int = 0,
    count: Optional[int] = None,
    *,
    strategy: str = "auto",
    timeout: Optional[float] = None,
) -> int:
    """Write what arrives on ``sock`` into ``file`` at ``offset`` onwards, with no user-space copy
    where the kernel allows (splice through a pipe).

    Stops after ``count`` bytes, or at EOF when ``count`` is None; a peer that closes before
    ``count`` bytes raises OSError(ENODATA). A path is created if missing (not truncated).
    Returns the bytes written.
    """
    return _file_transfer(
        _zcnet.recv_into_file_fd, sock, file, True, offset, count, strategy, timeout
    )


def relay(
    src_sock: SockArg,
    dst_sock: SockArg,
    *,
    strategy: str = "auto",
    timeout: Optional[float] = None,
) -> Tuple[int, int]:
    """Move bytes both ways between two connected sockets (splice, no user-space copy) until
    each direction has reached EOF; a finished direction is half-closed (shutdown SHUT_WR) so
    the other end sees its EOF. Returns (bytes src->dst, bytes dst->src).
    """
    return _zcnet.relay_fds(socket_fd(src_sock), socket_fd(dst_sock), strategy, timeout)


class BufferPool:
    """Pre-allocated buffers in size classes, shared with the C++ engine's pool type.

    ``acquire(n)`` returns a Buffer of n bytes (from the smallest class that holds n) that
    supports the buffer protocol without copies: ``memoryview(buf)``, ``sock.recv_into(buf)``,
    ``f.readinto(buf)``. The buffer returns to the pool on ``buf.release()``, at the end of a
    ``with`` block, or when garbage-collected; releasing it while a memoryview still exports it
    raises BufferError.
    """

    def __init__(
        self,
        class_sizes: Sequence[int] = (4096, 65536, 256 * 1024, 1024 * 1024),
        buffers_per_class: int = 8,
        max_buffers_per_class: int = 64,
    ) -> None:
        self._pool = _zcnet.BufferPool(list(class_sizes), buffers_per_class, max_buffers_per_class)

    def acquire(self, size: int = 0) -> "Buffer":
        """A buffer of ``size`` bytes (0: the whole class); ENOBUFS when the pool is exhausted."""
        if size < 0:
            raise ValueError("size must be >= 0")
        return self._pool.acquire(size)

    def stats(self) -> Dict[str, int]:
        """buffers, in_use, high_water, acquires, failures."""
        return dict(self._pool.stats())


_Handle = TypeVar("_Handle", bound="_LoopThreadsHandle")


class _LoopThreadsHandle:
    """What StaticServer and Proxy share: C++ work on zcnet loop threads of its own (``_impl``),
    started, stopped and waited for the same way."""

    _impl: Any
    _grace: float

    def _register(self) -> None:
        _handles.add(self)

    @property
    def port(self) -> int:
        """The port it listens on (the ephemeral one when port=0 was asked)."""
        return int(self._impl.port)

    @property
    def connections(self) -> int:
        """Client connections open now."""
        return int(self._impl.connections)

    @property
    def done_fd(self) -> int:
        """An eventfd that turns readable once every worker has ended."""
        return int(self._impl.done_fd)

    def start(self: _Handle) -> _Handle:
        """Start the worker threads; returns self."""
        self._impl.start()
        return self

    def shutdown(self) -> None:
        """Graceful stop: no new connections; open ones go on for up to ``grace`` s."""
        self._impl.shutdown()

    def stop(self) -> None:
        """Immediate stop."""
        self._impl.stop()

    def join(self, timeout: Optional[float] = None) -> bool:
        """Wait (GIL released) until every worker has ended; False if ``timeout`` s passed."""
        if timeout is not None:
            return bool(self._impl.join(timeout))
        while not self._impl.join(0.1):
            pass
        return True

    def __enter__(self: _Handle) -> _Handle:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        if not self.join(self._grace + 1.0):
            self.stop()
            self.join()


class StaticServer(_LoopThreadsHandle):
    """zcnet's HTTP/1.1 static file server (GET, HEAD, ranges) running on its own zcnet loop
    threads, one SO_REUSEPORT listener per worker. Use as a context manager, or start() /
    shutdown() (responses in flight finish within ``grace``) / join().

    ``trace_file`` (a path, or "-" for standard output) records a span per request and one per
    body sent as OTLP/HTTP JSON lines, as ``zcnet serve --trace-file`` does; ``trace_sample``
    picks the new traces recorded (always, never, ratio:P, rate:N).
    """

    def __init__(
        self,
        root: str,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        workers: int = 1,
        strategy: str = "auto",
        max_connections: int = 10000,
        keepalive_timeout: float = 75.0,
        grace: float = 10.0,
        trace_file: str = "",
        trace_sample: str = "always",
    ) -> None:
        self._grace = grace
        self._impl = _zcnet.StaticServer(
            str(root),
            host,
            port,
            workers,
            strategy,
            max_connections,
            keepalive_timeout,
            grace,
            str(trace_file),
            trace_sample,
        )
        self._register()

    def metrics(self) -> str:
        """The server's metrics (requests by status, bytes by strategy, connections, request
        durations, trace spans written and dropped) in the Prometheus text format."""
        return str(self._impl.metrics())


#: An upstream of a Proxy: "HOST:PORT", or (address, weight, backup) (weight and backup optional).
Upstream = Union[str, Tuple[str], Tuple[str, int], Tuple[str, int, bool]]


class Proxy(_LoopThreadsHandle):
    """zcnet's TCP proxy (the gateway ``zcnet proxy`` runs) on its own zcnet loop threads, one
    SO_REUSEPORT listener per worker: each accepted connection is relayed to one of
    ``upstreams`` (picked by ``balance``), both directions by splice where the kernel allows.
    Use as a context manager, or start() / shutdown() / join(). See zcnet.aio.start_proxy for
    the arguments.
    """

    def __init__(
        self,
        upstreams: Union[str, Iterable[Upstream]],
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        balance: str = "roundrobin",
        workers: int = 1,
        path: str = "auto",
        max_connections: int = 10000,
        connect_timeout: float = 5.0,
        idle_timeout: float = 300.0,
        grace: float = 10.0,
        health_interval: float = 0.0,
        health_path: str = "",
        send_proxy: str = "none",
        mirror: str = "",
        trace_file: str = "",
        trace_sample: str = "always",
    ) -> None:
        self._grace = grace
        self._impl = _zcnet.Proxy(
            host,
            port,
            upstreams,
            balance,
            workers,
            path,
            max_connections,
            connect_timeout,
            idle_timeout,
            grace,
            health_interval,
            health_path,
            send_proxy,
            mirror,
            str(trace_file),
            trace_sample,
        )
        self._register()

    def metrics(self) -> str:
        """The proxy's metrics (connections, bytes by upstream and data path, upstream health,
        connect errors and retries, mirror bytes, pipes) in the Prometheus text format."""
        return str(self._impl.metrics())


#: Every StaticServer and Proxy made in this process and not yet collected: what metrics() sums.
_handles: "_weakref.WeakSet[_LoopThreadsHandle]" = _weakref.WeakSet()

#: A sample's labels: (name, value) pairs sorted by name; () for a sample without labels.
Labels = Tuple[Tuple[str, str], ...]

_SAMPLE = _re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$')
_LABEL = _re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
_UNESCAPE = {"\\": "\\", '"': '"', "n": "\n"}


def parse_metrics(text: str) -> Dict[str, Dict[Labels, float]]:
    """Prometheus text (0.0.4) as a dict: sample name -> {labels: value}. A histogram's samples
    appear under their own names (``x_bucket`` with its ``le`` label, ``x_sum``, ``x_count``).
    Raises ValueError on a line that is not a comment, a blank or a sample."""
    out: Dict[str, Dict[Labels, float]] = {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if not m:
            raise ValueError(f"metrics line {n}: not a sample: {line[:80]!r}")
        name, labels, value = m.groups()
        pairs = []
        for k, v in _LABEL.findall(labels or ""):
            pairs.append((k, _re.sub(r"\\(.)", lambda e: _UNESCAPE.get(e.group(1), e.group(0)), v)))
        out.setdefault(name, {})[tuple(sorted(pairs))] = float(value)
    return out


def _process_wide(name: str) -> bool:
    return name.startswith("process_") or name.startswith("zcnet_syscall_")


def metrics() -> Dict[str, Dict[Labels, float]]:
    """The counters of this process as a dict (see parse_metrics): every StaticServer and Proxy
    made in it, samples of the same name and labels summed (open connections of two servers
    add up), plus the process-wide families once (process_* and the per-syscall timing
    histograms, zcnet_syscall_*). The same families ``zcnet serve --metrics`` and
    ``zcnet proxy --metrics`` serve. Takes each server's scrape lock briefly (GIL released)."""
    total = parse_metrics(_zcnet.process_metrics())
    for h in list(_handles):
        for name, samples in parse_metrics(h.metrics()).items():
            if _process_wide(name):
                continue
            into = total.setdefault(name, {})
            for labels, value in samples.items():
                into[labels] = into.get(labels, 0.0) + value
    return total


def set_syscall_timing(on: bool) -> None:
    """Switches the per-syscall timing histograms (zcnet_syscall_duration_seconds) on or off for
    the whole process: while on, every synchronous syscall zcnet makes is timed (two clock
    reads); while off it costs one load. io_uring operations are not timed."""
    _zcnet.set_syscall_timing(bool(on))


def serve(
    root: str,
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    workers: int = 1,
    strategy: str = "auto",
    max_connections: int = 10000,
    keepalive_timeout: float = 75.0,
    grace: float = 10.0,
    ready: Optional[Any] = None,
) -> None:
    """Serve ``root`` over HTTP/1.1 until Ctrl-C (KeyboardInterrupt: graceful shutdown within
    ``grace`` s, a second Ctrl-C stops at once; the KeyboardInterrupt is then re-raised).
    ``ready(port)`` is called once listening (useful with port=0).
    """
    server = StaticServer(
        root,
        host,
        port,
        workers=workers,
        strategy=strategy,
        max_connections=max_connections,
        keepalive_timeout=keepalive_timeout,
        grace=grace,
    ).start()
    try:
        if ready is not None:
            ready(server.port)
        while not server._impl.join(0.1):  # 100 ms slices: Python signal handlers run between
            pass
    except BaseException:
        server.shutdown()
        try:
            while not server._impl.join(0.1):
                pass
        except BaseException:
            server.stop()
            server._impl.join(3600.0)
        raise


# A plain ``import zcnet`` makes ``zcnet.aio`` reachable as an attribute too.
from . import aio  # noqa: E402
