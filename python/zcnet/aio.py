"""zcnet.aio: the zcnet engine driven by the running asyncio loop (default loop or uvloop).

A transfer is stepped nonblockingly (GIL released inside each step); when a step would block on
an fd, the coroutine waits on it through loop.add_reader / loop.add_writer and steps again when
the callback fires. No thread per transfer. Cancelling the awaiting task removes the callback and
closes the transfer at once, giving its pipe and buffers back (a pipe that still holds bytes is
closed rather than pooled).
"""

from __future__ import annotations

import asyncio
import os
import socket
from typing import TYPE_CHECKING, Any, Iterable, Optional, Tuple, TypeVar, Union

from . import _zcnet
from ._args import FileArg, open_file, socket_fd

if TYPE_CHECKING:
    from . import Upstream

__all__ = [
    "sendfile",
    "relay",
    "recv_into_file",
    "start_static_server",
    "AsyncStaticServer",
    "start_proxy",
    "AsyncProxy",
]

# Bytes per step: a bound on how long one transfer holds the loop between other callbacks.
STEP_BUDGET = 4 * 1024 * 1024

SockOrTransport = Union[socket.socket, asyncio.BaseTransport, asyncio.StreamWriter, int, Any]


def _wake(fut: "asyncio.Future[None]") -> None:
    if not fut.done():
        fut.set_result(None)


class _Driver:
    """Steps one transfer from the loop's reader/writer callbacks, the way loop.sock_sendall
    does: the callback itself steps again (no task wake-up per readiness event), and the fd stays
    registered while the transfer keeps waiting on the same fd and direction.
    """

    __slots__ = ("loop", "t", "fut", "total", "reg")

    def __init__(self, loop: asyncio.AbstractEventLoop, t: Any) -> None:
        self.loop = loop
        self.t = t
        self.fut: "asyncio.Future[int]" = loop.create_future()
        self.total = 0
        self.reg: Optional[Tuple[int, bool]] = None  # (fd, for_write) registered now

    def unregister(self) -> None:
        if self.reg is not None:
            fd, for_write = self.reg
            self.reg = None
            if for_write:
                self.loop.remove_writer(fd)
            else:
                self.loop.remove_reader(fd)

    def run(self) -> None:
        if self.fut.done():  # cancelled, or a stale call_soon
            return
        try:
            moved, done, fd, for_write = self.t.step(STEP_BUDGET)
        except Exception as e:
            self.unregister()
            self.fut.set_exception(e)
            return
        self.total += moved
        if done:
            self.unregister()
            self.fut.set_result(self.total)
        elif fd < 0:  # budget used up: let other callbacks run first
            self.unregister()
            self.loop.call_soon(self.run)
        elif self.reg != (fd, for_write):
            self.unregister()
            if for_write:
                self.loop.add_writer(fd, self.run)
            else:
                self.loop.add_reader(fd, self.run)
            self.reg = (fd, for_write)


async def _drive(t: Any) -> int:
    """Steps ``t`` until done; returns the bytes it moved. Closes ``t`` however it ends."""
    d = _Driver(asyncio.get_running_loop(), t)
    try:
        d.run()
        return await d.fut
    finally:
        d.unregister()
        t.close()


class _Endpoint:
    """A nonblocking socket fd for the engine, from a socket, a transport or a StreamWriter.

    A transport's socket is already registered with the loop, which refuses a second reader or
    writer on that fd; the engine gets a dup() of it instead (epoll keys registrations by fd
    number and open file, so the dup is a separate registration; it is removed before the dup is
    closed). The transport's write buffer is flushed first so our bytes follow its bytes.
    """

    def __init__(self, obj: SockOrTransport) -> None:
        self.obj = obj
        self.fd = -1
        self._dup = -1
        self.transport: Optional[asyncio.BaseTransport] = None

    async def open(self, *, pause_reading: bool) -> int:
        obj = self.obj
        if isinstance(obj, asyncio.StreamWriter):
            obj = obj.transport
        if isinstance(obj, socket.socket) or isinstance(obj, int):
            return self._open_socket(obj)
        if hasattr(obj, "get_extra_info"):  # a transport (uvloop's are not BaseTransport subclasses)
            self.transport = obj
            sock = obj.get_extra_info("socket")
            if sock is None:
                raise TypeError("transport has no socket")
            if obj.is_closing():
                raise ConnectionResetError("transport is closing")
            if pause_reading and hasattr(obj, "pause_reading"):
                obj.pause_reading()  # type: ignore[attr-defined]
            await _flush(obj)
            self._dup = os.dup(sock.fileno())
            self.fd = self._dup
            return self.fd
        return self._open_socket(obj)

    def _open_socket(self, obj: Any) -> int:
        fd = socket_fd(obj)
        if os.get_blocking(fd):
            raise ValueError("zcnet.aio needs a nonblocking socket (sock.setblocking(False))")
        self.fd = fd
        return fd

    def close(self, *, resume_reading: bool) -> None:
        if self._dup >= 0:
            os.close(self._dup)
            self._dup = -1
        t = self.transport
        if resume_reading and t is not None and not t.is_closing() and hasattr(t, "resume_reading"):
            t.resume_reading()  # type: ignore[attr-defined]


async def _flush(transport: asyncio.BaseTransport) -> None:
    """Waits until the transport has handed every buffered byte to the kernel."""
    get_size = getattr(transport, "get_write_buffer_size", None)
    delay = 0.0005
    while get_size is not None and get_size() > 0:
        if transport.is_closing():
            raise ConnectionResetError("transport closed while flushing")
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.02)


async def _file_transfer(
    sock: SockOrTransport,
    file: FileArg,
    into_file: bool,
    offset: int,
    count: Optional[int],
    strategy: str,
) -> int:
    """file -> socket (into_file False) or socket -> file, driven by the running loop. Reading
    from a transport is paused while its socket feeds the file."""
    if offset < 0 or (count is not None and count < 0):
        raise ValueError("offset and count must be >= 0")
    ep = _Endpoint(sock)
    ffd, close_file = open_file(file, write=into_file)
    try:
        sfd = await ep.open(pause_reading=into_file)
        if into_file:
            t = _zcnet.StepTransfer.socket_to_file(sfd, ffd, offset, count, strategy)
        else:
            t = _zcnet.StepTransfer.file_to_socket(ffd, offset, count, sfd, strategy)
        return await _drive(t)
    finally:
        ep.close(resume_reading=into_file)
        close_file()


async def sendfile(
    sock: SockOrTransport,
    file: FileArg,
    offset: int = 0,
    count: Optional[int] = None,
    *,
    strategy: str = "auto",
) -> int:
    """Send ``count`` bytes of ``file`` from ``offset`` (None: to its end) on ``sock``: a
    nonblocking socket, an fd, an asyncio transport or a StreamWriter. Returns the bytes sent.
    """
    return await _file_transfer(sock, file, False, offset, count, strategy)


async def recv_into_file(
    sock: SockOrTransport,
    file: FileArg,
    offset: int = 0,
    count: Optional[int] = None,
    *,
    strategy: str = "auto",
) -> int:
    """Write what arrives on ``sock`` into ``file`` at ``offset`` (``count`` bytes, or until
    EOF). A transport's reading is paused meanwhile. Returns the bytes written.
    """
    return await _file_transfer(sock, file, True, offset, count, strategy)


async def _one_way(src: int, dst: int, strategy: str) -> int:
    moved = await _drive(_zcnet.StepTransfer.socket_to_socket(src, dst, strategy))
    try:
        with socket.socket(fileno=os.dup(dst)) as s:
            s.shutdown(socket.SHUT_WR)
    except OSError:
        pass  # the peer is already gone: nothing left to tell it
    return moved


async def relay(a: SockOrTransport, b: SockOrTransport, *, strategy: str = "auto") -> Tuple[int, int]:
    """Move bytes both ways between ``a`` and ``b`` (splice, no user-space copy) until each
    direction reaches EOF, half-closing each finished direction. Returns (a->b, b->a) bytes.
    Cancelling it (or an error in one direction) ends both directions.
    """
    ea, eb = _Endpoint(a), _Endpoint(b)
    try:
        fa = await ea.open(pause_reading=True)
        fb = await eb.open(pause_reading=True)
        ab = asyncio.ensure_future(_one_way(fa, fb, strategy))
        ba = asyncio.ensure_future(_one_way(fb, fa, strategy))
        try:
            n_ab, n_ba = await asyncio.gather(ab, ba)
        finally:
            for task in (ab, ba):
                task.cancel()
            await asyncio.gather(ab, ba, return_exceptions=True)
        return n_ab, n_ba
    finally:
        ea.close(resume_reading=True)
        eb.close(resume_reading=True)


_AsyncH = TypeVar("_AsyncH", bound="_AsyncHandle")


class _AsyncHandle:
    """A started zcnet.StaticServer or zcnet.Proxy awaited from asyncio: ``close()`` starts a
    graceful shutdown, ``await wait_closed()`` waits on its completion eventfd (registered with
    loop.add_reader), ``async with`` does both.
    """

    def __init__(self, impl: Any) -> None:
        self._impl = impl

    @property
    def port(self) -> int:
        """The port it listens on."""
        return int(self._impl.port)

    @property
    def connections(self) -> int:
        """Client connections open now."""
        return int(self._impl.connections)

    def close(self) -> None:
        """Stop accepting; open connections go on within the grace period."""
        self._impl.shutdown()

    def abort(self) -> None:
        """Stop at once (open connections are closed)."""
        self._impl.stop()

    async def wait_closed(self) -> None:
        """Wait until every worker has ended (no thread blocked: an eventfd on the loop)."""
        loop = asyncio.get_running_loop()
        fd = self._impl.done_fd
        fut = loop.create_future()
        loop.add_reader(fd, _wake, fut)
        try:
            if not self._impl.join(0.0):
                await fut
        finally:
            loop.remove_reader(fd)
        self._impl.join(3600.0)

    async def __aenter__(self: _AsyncH) -> _AsyncH:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()
        await self.wait_closed()


class AsyncStaticServer(_AsyncHandle):
    """A started zcnet.StaticServer awaited from asyncio (see start_static_server); ``metrics()``
    gives its Prometheus text."""

    def metrics(self) -> str:
        """The server's metrics in the Prometheus text format (what ``zcnet serve --metrics``
        serves)."""
        return str(self._impl.metrics())


async def start_static_server(
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
) -> AsyncStaticServer:
    """Start zcnet's C++ HTTP/1.1 static file server (the one ``zcnet serve`` runs) for
    ``root`` on ``workers`` zcnet loop threads of its own, and return a handle the asyncio code
    can close and await. The HTTP parsing and every response body stay in C++.
    ``trace_file`` and ``trace_sample`` are zcnet.StaticServer's.
    """
    from . import StaticServer

    server = StaticServer(
        root,
        host,
        port,
        workers=workers,
        strategy=strategy,
        max_connections=max_connections,
        keepalive_timeout=keepalive_timeout,
        grace=grace,
        trace_file=trace_file,
        trace_sample=trace_sample,
    ).start()
    return AsyncStaticServer(server)


class AsyncProxy(_AsyncHandle):
    """A started zcnet.Proxy awaited from asyncio (see start_proxy); ``metrics()`` gives its
    Prometheus text."""

    def metrics(self) -> str:
        """The proxy's metrics in the Prometheus text format (what ``zcnet proxy --metrics``
        serves): connections, bytes by upstream, direction and data path, upstream health,
        connect errors and retries, mirror bytes, pipes in use."""
        return str(self._impl.metrics())


async def start_proxy(
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
) -> AsyncProxy:
    """Start zcnet's C++ TCP proxy (the gateway ``zcnet proxy`` runs) on ``host``:``port``
    (port 0: an ephemeral one, see ``.port``) on ``workers`` zcnet loop threads of its own, and
    return a handle the asyncio code can close and await. Every accepted connection is relayed
    to one upstream; each direction moves socket -> pipe -> socket by splice where the kernel
    allows (the bytes never reach Python, nor user space), and a half-close or a reset passes
    through.

    ``upstreams``: "HOST:PORT" strings, or (address, weight, backup) tuples (weight 1..256, the
    share of connections under roundrobin and source; a backup upstream is used only while
    every other one is down); a single string is one upstream. ``balance``: "roundrobin"
    (weighted), "leastconn" or "source" (client address hash). ``workers``: loop threads (0: one
    per CPU). ``path``: "auto" (splice where possible, else copy), "splice", "uring-splice" (each
    splice an io_uring operation; the loops then run on io_uring) or "copy".
    ``max_connections``: client connections over every worker; beyond it new ones are closed.
    ``connect_timeout``: seconds per upstream connect attempt (a failed connect is retried on
    another upstream, up to 3 attempts, before any client byte went out). ``idle_timeout``:
    seconds with no byte either way before a connection is closed. ``grace``: seconds open
    connections may go on after close(). ``health_interval``: seconds between active checks of
    each upstream (0: none; failed connects still mark an upstream down for a while);
    ``health_path``: check by HTTP GET of this path instead of a TCP connect. ``send_proxy``:
    "none", "v1" or "v2" (a PROXY protocol header to the upstream first). ``mirror``: "" (none),
    "tcp:HOST:PORT" or "file:PATH", receiving a copy of every client -> upstream byte.
    ``trace_file``: "" (none), a path or "-" (standard output) receiving a span per connection as
    OTLP/HTTP JSON lines, sampled by ``trace_sample`` (as ``zcnet proxy --trace-sample``).

    A bad name raises ValueError (TypeError for a malformed upstream); what the proxy itself
    rejects (no upstream, an address that does not resolve, a weight out of range, a mirror it
    cannot open, splice unavailable) raises OSError with the errno and a message, as does a
    port that cannot be listened on.
    """
    from . import Proxy

    proxy = Proxy(
        upstreams,
        host,
        port,
        balance=balance,
        workers=workers,
        path=path,
        max_connections=max_connections,
        connect_timeout=connect_timeout,
        idle_timeout=idle_timeout,
        grace=grace,
        health_interval=health_interval,
        health_path=health_path,
        send_proxy=send_proxy,
        mirror=mirror,
        trace_file=trace_file,
        trace_sample=trace_sample,
    ).start()
    return AsyncProxy(proxy)
