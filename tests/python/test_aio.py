"""zcnet.aio under the default asyncio loop and under uvloop (conftest's event_loop_policy)."""

from __future__ import annotations

import asyncio
import hashlib
import socket

import pytest

import zcnet
import zcnet.aio
from conftest import MiB, file_digest, open_fds, tcp_pair

pytestmark = pytest.mark.asyncio


async def read_all(reader: asyncio.StreamReader) -> tuple:
    h = hashlib.blake2b(digest_size=16)
    n = 0
    while True:
        data = await reader.read(256 * 1024)
        if not data:
            return n, h.hexdigest()
        h.update(data)
        n += len(data)


async def sock_read_all(sock: socket.socket) -> tuple:
    loop = asyncio.get_running_loop()
    h = hashlib.blake2b(digest_size=16)
    n = 0
    while True:
        data = await loop.sock_recv(sock, 256 * 1024)
        if not data:
            return n, h.hexdigest()
        h.update(data)
        n += len(data)


def nonblocking_pair():
    a, b = tcp_pair()
    a.setblocking(False)
    b.setblocking(False)
    return a, b


@pytest.mark.parametrize("size", [0, 1, 65536, MiB + 7, 8 * MiB + 3])
async def test_aio_sendfile_on_a_socket_is_byte_exact(make_file, size):
    path = make_file(size)
    a, b = nonblocking_pair()
    try:
        rx = asyncio.ensure_future(sock_read_all(b))
        assert await zcnet.aio.sendfile(a, path) == size
        a.shutdown(socket.SHUT_WR)
        assert await rx == (size, file_digest(path))
    finally:
        a.close()
        b.close()


async def test_aio_sendfile_refuses_a_blocking_socket(make_file, pair):
    with pytest.raises(ValueError, match="nonblocking"):
        await zcnet.aio.sendfile(pair[0], make_file(10))


async def test_aio_sendfile_on_a_stream_writer_follows_buffered_bytes(make_file):
    path = make_file(3 * MiB + 1)
    got = asyncio.get_running_loop().create_future()

    async def handle(reader, writer):
        got.set_result(await read_all(reader))
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        head = b"H" * 300_000
        writer.write(head)  # buffered in the transport: must leave before the file
        assert await zcnet.aio.sendfile(writer, path, offset=5, count=2 * MiB) == 2 * MiB
        writer.write(b"tail")
        await writer.drain()
        writer.close()
        n, digest = await got
        expected = hashlib.blake2b(digest_size=16)
        expected.update(head)
        with open(path, "rb") as f:
            f.seek(5)
            expected.update(f.read(2 * MiB))
        expected.update(b"tail")
        assert (n, digest) == (300_000 + 2 * MiB + 4, expected.hexdigest())
    finally:
        server.close()
        await server.wait_closed()


async def test_aio_sendfile_reset_peer_raises(make_file):
    path = make_file(64 * MiB)
    a, b = nonblocking_pair()
    try:
        b.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        asyncio.get_running_loop().call_later(0.1, b.close)
        with pytest.raises((BrokenPipeError, ConnectionResetError)):
            await zcnet.aio.sendfile(a, path)
    finally:
        a.close()
        b.close()


async def test_aio_cancelled_transfers_leak_no_fd(make_file):
    path = make_file(64 * MiB)
    before = open_fds()
    for strategy in ["auto", "splice", "read-write"]:
        a, b = nonblocking_pair()
        task = asyncio.ensure_future(zcnet.aio.sendfile(a, path, strategy=strategy))
        await asyncio.sleep(0.05)  # the peer never reads: the transfer waits on a full socket
        assert not task.done()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        a.close()
        b.close()
    # Splice's pipe is pooled or closed, never leaked; our file and dup fds are closed.
    assert open_fds() <= before + 2  # the engine's pipe pool may keep an idle pipe


async def test_aio_cancelled_relay_leaks_no_fd():
    before = open_fds()
    pairs = [tcp_pair(), tcp_pair()]
    for s in (pairs[0][1], pairs[1][1]):
        s.setblocking(False)
    task = asyncio.ensure_future(zcnet.aio.relay(pairs[0][1], pairs[1][1]))
    pairs[0][0].sendall(b"x" * 100_000)
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for p in pairs:
        for s in p:
            s.close()
    assert open_fds() <= before + 2


async def test_aio_relay_both_directions(make_file):
    up, down = make_file(4 * MiB + 1), make_file(MiB + 9)
    a_client, a_server = nonblocking_pair()
    b_client, b_server = nonblocking_pair()
    try:
        async def send(sock, path):
            await zcnet.aio.sendfile(sock, path)
            sock.shutdown(socket.SHUT_WR)

        relay = asyncio.ensure_future(zcnet.aio.relay(a_server, b_server))
        results = await asyncio.gather(
            send(a_client, up), send(b_client, down), sock_read_all(b_client), sock_read_all(a_client)
        )
        assert results[2] == (4 * MiB + 1, file_digest(up))
        assert results[3] == (MiB + 9, file_digest(down))
        assert await relay == (4 * MiB + 1, MiB + 9)
    finally:
        for s in (a_client, a_server, b_client, b_server):
            s.close()


async def test_aio_recv_into_file(make_file, tmp_path):
    src = make_file(5 * MiB + 5)
    dst = str(tmp_path / "out.bin")
    a, b = nonblocking_pair()
    try:
        async def send():
            await zcnet.aio.sendfile(a, src)
            a.shutdown(socket.SHUT_WR)

        sender = asyncio.ensure_future(send())
        assert await zcnet.aio.recv_into_file(b, dst) == 5 * MiB + 5
        await sender
        assert file_digest(dst) == file_digest(src)
    finally:
        a.close()
        b.close()


async def test_aio_1000_concurrent_transfers_are_byte_exact(make_file):
    path = make_file(256 * 1024 + 3)
    expected = (256 * 1024 + 3, file_digest(path))
    done = 0

    async def handle(reader, writer):
        nonlocal done
        await zcnet.aio.sendfile(writer, path)
        writer.close()
        done += 1

    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=2048)
    port = server.sockets[0].getsockname()[1]
    before = open_fds()

    async def client():
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        result = await read_all(reader)
        writer.close()
        return result

    try:
        results = await asyncio.gather(*(client() for _ in range(1000)))
        assert results == [expected] * 1000
        assert done == 1000
    finally:
        server.close()
        await server.wait_closed()
    await asyncio.sleep(0.05)
    assert open_fds() <= before + 2
