"""zcnet.aio.start_proxy / zcnet.Proxy: the C++ TCP proxy (zcnet::proxy) between real asyncio
clients and real asyncio upstreams on loopback, every test bounded in time."""

from __future__ import annotations

import asyncio
import errno
import hashlib
import os
import re
import socket
import subprocess
import sys
import textwrap
import threading
from typing import Awaitable, Callable, List, Optional

import pytest

import zcnet
import zcnet.aio
from conftest import MiB, digest, open_fds

LIMIT = 60.0  # seconds any one test may take
CHUNK = 256 * 1024


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def bounded(coro: Awaitable[object]) -> object:
    return await asyncio.wait_for(coro, LIMIT)


class Upstream:
    """An asyncio TCP server on loopback that counts its connections and runs ``handle`` on each."""

    def __init__(self, handle: Callable[["Upstream", asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]):
        self.handle = handle
        self.connections = 0
        self.server: Optional[asyncio.base_events.Server] = None
        self.errors: List[BaseException] = []

    async def __aenter__(self) -> "Upstream":
        async def on_client(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            self.connections += 1
            try:
                await self.handle(self, r, w)
            except BaseException as e:  # reported by the test
                self.errors.append(e)
            finally:
                w.close()

        self.server = await asyncio.start_server(on_client, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        # Not server.wait_closed(): on Python >= 3.12 it also waits for open connections.

    @property
    def address(self) -> str:
        assert self.server is not None
        return "127.0.0.1:%d" % self.server.sockets[0].getsockname()[1]


async def echo(up: Upstream, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
    """Sends back what arrives, until EOF; records the hash and count of what it got."""
    h = hashlib.blake2b(digest_size=16)
    n = 0
    while True:
        data = await r.read(CHUNK)
        if not data:
            break
        h.update(data)
        n += len(data)
        w.write(data)
        await w.drain()
    up.got = (n, h.hexdigest())  # type: ignore[attr-defined]
    w.write_eof()
    await w.drain()


async def read_all(r: asyncio.StreamReader) -> bytes:
    parts = []
    while True:
        data = await r.read(CHUNK)
        if not data:
            return b"".join(parts)
        parts.append(data)


async def exchange(port: int, payload: bytes) -> bytes:
    """Connects through the proxy, writes ``payload`` while reading, half-closes, reads to EOF."""
    r, w = await asyncio.open_connection("127.0.0.1", port)
    try:

        async def send() -> None:
            view = memoryview(payload)
            for i in range(0, len(view), CHUNK):
                w.write(view[i : i + CHUNK])
                await w.drain()
            w.write_eof()

        sender = asyncio.ensure_future(send())
        got = await read_all(r)
        await sender
        return got
    finally:
        w.close()
        await w.wait_closed()


@pytest.mark.asyncio
@pytest.mark.parametrize("size", [1, 8 * MiB])
@pytest.mark.parametrize("path", ["auto", "copy", "uring-splice"])
async def test_proxy_relays_bytes_both_ways_byte_exact(size, path):
    async def body() -> None:
        payload = os.urandom(size)
        async with Upstream(echo) as up:
            async with await zcnet.aio.start_proxy([up.address], path=path, grace=1.0) as proxy:
                assert proxy.port > 0
                got = await exchange(proxy.port, payload)
                text = proxy.metrics()
            assert not up.errors
            if path == "uring-splice" and size > MiB:  # the bulk went through io_uring splices
                moved = re.findall(r'^zcnet_proxy_bytes_total\{[^}]*path="uring-splice"[^}]*\} (\d+)$',
                                   text, re.M)
                assert sum(int(m) for m in moved) > size, text
            assert up.got == (size, digest(payload))  # client -> upstream
            assert len(got) == size and digest(got) == digest(payload)  # upstream -> client

    await bounded(body())


@pytest.mark.asyncio
async def test_proxy_traces_each_connection(tmp_path):
    """trace_file: one span per relayed connection, with the bytes each way and how it ended."""
    import json

    async def body() -> None:
        payload = os.urandom(MiB + 3)
        trace = tmp_path / "spans.jsonl"
        async with Upstream(echo) as up:
            address = up.address
            async with await zcnet.aio.start_proxy(address, grace=1.0, trace_file=str(trace)) as proxy:
                got = await exchange(proxy.port, payload)
                assert digest(got) == digest(payload)
                spans: list = []
                for _ in range(500):  # the writer appends within its 50 ms tick
                    if trace.exists() and trace.read_text().endswith("\n"):
                        spans = [s for line in trace.read_text().splitlines()
                                 for s in json.loads(line)["resourceSpans"][0]["scopeSpans"][0]["spans"]]
                        if spans:
                            break
                    await asyncio.sleep(0.02)
        assert len(spans) == 1
        attrs = {a["key"]: a["value"] for a in spans[0]["attributes"]}
        assert spans[0]["name"] == "relay"
        assert attrs["zcnet.bytes_up"] == {"intValue": str(MiB + 3)}
        assert attrs["zcnet.bytes_down"] == {"intValue": str(MiB + 3)}
        assert attrs["zcnet.close"] == {"stringValue": "done"}
        assert attrs["server.address"] == {"stringValue": address}

    await bounded(body())


@pytest.mark.asyncio
async def test_proxy_two_workers_relay_byte_exact():
    async def body() -> None:
        payloads = [os.urandom(MiB + i) for i in range(6)]
        async with Upstream(echo) as up:
            async with await zcnet.aio.start_proxy(up.address, workers=2, grace=1.0) as proxy:
                got = await asyncio.gather(*(exchange(proxy.port, p) for p in payloads))
            assert not up.errors and up.connections == len(payloads)
            assert [digest(g) for g in got] == [digest(p) for p in payloads]

    await bounded(body())


@pytest.mark.asyncio
async def test_proxy_passes_half_close_through():
    """The client shuts down its write side; the upstream sees EOF, then still sends its reply,
    which the client receives."""
    request = os.urandom(100_000)
    reply = os.urandom(3 * MiB + 5)

    async def answer_after_eof(up: Upstream, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        got = await read_all(r)  # to EOF: the client's half-close reached the upstream
        up.got = digest(got)  # type: ignore[attr-defined]
        w.write(reply)
        await w.drain()
        w.write_eof()

    async def body() -> None:
        async with Upstream(answer_after_eof) as up:
            async with await zcnet.aio.start_proxy([up.address], grace=1.0) as proxy:
                r, w = await asyncio.open_connection("127.0.0.1", proxy.port)
                try:
                    w.write(request)
                    await w.drain()
                    w.write_eof()
                    got = await read_all(r)
                finally:
                    w.close()
            assert not up.errors
            assert up.got == digest(request)
            assert len(got) == len(reply) and digest(got) == digest(reply)

    await bounded(body())


def named(name: bytes):
    async def handle(up: Upstream, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await r.read(1)
        w.write(name)
        await w.drain()

    return handle


async def ask(port: int) -> bytes:
    r, w = await asyncio.open_connection("127.0.0.1", port)
    try:
        w.write(b"?")
        await w.drain()
        return await read_all(r)
    finally:
        w.close()


@pytest.mark.asyncio
async def test_proxy_roundrobin_alternates_between_upstreams():
    async def body() -> None:
        async with Upstream(named(b"A")) as a, Upstream(named(b"B")) as b:
            async with await zcnet.aio.start_proxy(
                [a.address, b.address], balance="roundrobin", grace=1.0
            ) as proxy:
                answers = [await ask(proxy.port) for _ in range(8)]
            assert not a.errors and not b.errors
            assert a.connections == 4 and b.connections == 4
            assert set(answers) == {b"A", b"B"}
            assert all(x != y for x, y in zip(answers, answers[1:])), answers

    await bounded(body())


@pytest.mark.asyncio
async def test_proxy_weighted_upstream_tuples():
    async def body() -> None:
        async with Upstream(named(b"A")) as a, Upstream(named(b"B")) as b:
            ups = [(a.address, 3, False), (b.address, 1)]
            async with await zcnet.aio.start_proxy(ups, grace=1.0) as proxy:
                answers = [await ask(proxy.port) for _ in range(8)]
            assert answers.count(b"A") == 6 and answers.count(b"B") == 2
            assert a.connections == 6 and b.connections == 2

    await bounded(body())


@pytest.mark.asyncio
async def test_proxy_retries_past_an_upstream_that_is_down():
    async def body() -> None:
        down = "127.0.0.1:%d" % closed_port()
        async with Upstream(echo) as up:
            async with await zcnet.aio.start_proxy([down, up.address], grace=1.0) as proxy:
                for i in range(6):
                    payload = os.urandom(1000 + i)
                    got = await exchange(proxy.port, payload)
                    assert got == payload, i
                text = proxy.metrics()
            assert not up.errors and up.connections == 6
            errors = re.search(
                r'^zcnet_proxy_upstream_connect_errors_total\{[^}]*upstream="%s"[^}]*\} (\d+)$'
                % re.escape(down),
                text,
                re.M,
            )
            assert errors and int(errors.group(1)) >= 1, text

    await bounded(body())


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"balance": "nope"}, ValueError, r"unknown balance 'nope'"),
        ({"path": "nope"}, ValueError, r"unknown path 'nope'"),
        ({"send_proxy": "v3"}, ValueError, r"unknown send_proxy 'v3'"),
        ({"connect_timeout": 0}, ValueError, r"connect_timeout must be > 0"),
        ({"grace": -1.0}, ValueError, r"grace must be >= 0"),
        ({"upstreams": []}, OSError, r"has no upstream"),
        ({"upstreams": ["no-port"]}, OSError, r"'no-port' is not HOST:PORT"),
        ({"upstreams": [("127.0.0.1:1", 0)]}, OSError, r"weight 0 is not in 1\.\.256"),
        ({"upstreams": [42]}, TypeError, r"'HOST:PORT' string"),
        ({"mirror": "udp:x"}, OSError, r"neither tcp:HOST:PORT nor file:PATH"),
        ({"max_connections": 0}, OSError, r"max_connections must be at least 1"),
    ],
)
async def test_proxy_bad_arguments_raise_clearly(kwargs, error, message):
    args = {"upstreams": ["127.0.0.1:1"], **kwargs}
    with pytest.raises(error, match=message) as info:
        await bounded(zcnet.aio.start_proxy(**args))
    if error is OSError:
        assert info.value.errno == errno.EINVAL


@pytest.mark.asyncio
async def test_proxy_metrics_count_upstream_connections():
    async def body() -> None:
        async with Upstream(echo) as up:
            async with await zcnet.aio.start_proxy([up.address], grace=1.0) as proxy:
                assert "zcnet_proxy_upstream_connections_total" in proxy.metrics()
                for _ in range(3):
                    assert await exchange(proxy.port, b"hello") == b"hello"
                text = proxy.metrics()
            line = re.search(
                r'^zcnet_proxy_upstream_connections_total\{[^}]*upstream="%s"[^}]*\} (\d+)$'
                % re.escape(up.address),
                text,
                re.M,
            )
            assert line and int(line.group(1)) == 3, text
            assert re.search(r"^zcnet_proxy_accepted_total(\{\})? 3$", text, re.M), text

    await bounded(body())


@pytest.mark.asyncio
async def test_proxy_abort_ends_open_connections():
    async def hold(up: Upstream, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await read_all(r)

    async def body() -> None:
        async with Upstream(hold) as up:
            proxy = await zcnet.aio.start_proxy([up.address], grace=30.0)
            r, w = await asyncio.open_connection("127.0.0.1", proxy.port)
            try:
                w.write(b"x")
                await w.drain()
                while up.connections == 0:
                    await asyncio.sleep(0.01)
                assert proxy.connections == 1
                proxy.abort()
                await proxy.wait_closed()  # long before the 30 s grace
                # Ended with no byte: a FIN, or a reset when the abort came before the proxy
                # had read the client's byte (a socket closed with unread data resets).
                try:
                    assert await read_all(r) == b""
                except ConnectionResetError:
                    pass
            finally:
                w.close()

    await bounded(body())


def test_blocking_proxy_context_manager():
    """zcnet.Proxy, the blocking handle start_proxy wraps, against a threaded echo upstream."""
    with socket.create_server(("127.0.0.1", 0)) as listener:

        def serve_one() -> None:
            conn, _ = listener.accept()
            with conn:
                while True:
                    data = conn.recv(CHUNK)
                    if not data:
                        break
                    conn.sendall(data)

        t = threading.Thread(target=serve_one, daemon=True)
        t.start()
        address = "127.0.0.1:%d" % listener.getsockname()[1]
        with zcnet.Proxy([address], grace=1.0) as proxy:
            with socket.create_connection(("127.0.0.1", proxy.port), timeout=LIMIT) as c:
                c.sendall(b"ping")
                c.shutdown(socket.SHUT_WR)
                got = b""
                while True:
                    data = c.recv(CHUNK)
                    if not data:
                        break
                    got += data
            assert got == b"ping"
        assert proxy.join(0.0)
        t.join(LIMIT)
        assert not t.is_alive()


@pytest.mark.asyncio
@pytest.mark.parametrize("ending", ["close", "abort"])
async def test_proxy_leaves_no_fd_open(ending):
    async def body() -> None:
        async with Upstream(echo) as up:
            before = open_fds()
            proxy = await zcnet.aio.start_proxy([up.address], workers=2, grace=1.0)
            for _ in range(3):
                assert await exchange(proxy.port, b"x" * 1000) == b"x" * 1000
            proxy.close() if ending == "close" else proxy.abort()
            await proxy.wait_closed()
            del proxy  # its done_fd (an eventfd) lives as long as the handle
            # The upstream's side of each connection closes on the asyncio loop's next turns.
            for _ in range(200):
                if open_fds() <= before:
                    break
                await asyncio.sleep(0.01)
            assert open_fds() <= before

    await bounded(body())


def test_proxy_dropped_while_running_exits_cleanly():
    """A running proxy garbage-collected with a connection open: stopped and joined, no abort."""
    code = textwrap.dedent(
        """
        import socket, threading, time, zcnet
        upstream = socket.create_server(("127.0.0.1", 0))
        held = []
        threading.Thread(target=lambda: held.append(upstream.accept()), daemon=True).start()
        proxy = zcnet.Proxy(["127.0.0.1:%d" % upstream.getsockname()[1]], grace=30.0).start()
        client = socket.create_connection(("127.0.0.1", proxy.port))
        while not held:
            time.sleep(0.01)
        del proxy
        client.settimeout(10)
        assert client.recv(1) == b""
        print("dropped", flush=True)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=LIMIT)
    assert out.returncode == 0, out.stderr
    assert "dropped" in out.stdout
