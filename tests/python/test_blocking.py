"""zcnet's blocking calls: byte-exact transfers, fd kinds, errors with their errno, GIL release."""

from __future__ import annotations

import errno
import os
import socket
import subprocess
import sys
import threading
import time

import pytest

import zcnet
from conftest import MiB, HashingReceiver, file_digest, open_fds, tcp_pair

SIZES = [0, 1, 4095, 65536, 128 * 1024 + 1, MiB + 7, 8 * MiB + 3]


@pytest.mark.parametrize("size", SIZES)
def test_sendfile_sizes_arrive_byte_exact(make_file, pair, size):
    path = make_file(size)
    client, server = pair
    rx = HashingReceiver(server)
    rx.start()
    sent = zcnet.sendfile(client, path)
    client.shutdown(socket.SHUT_WR)
    assert sent == size
    assert rx.result() == (size, file_digest(path))


@pytest.mark.parametrize("strategy", ["read-write", "sendfile", "splice", "mmap"])
def test_sendfile_forced_strategy_arrives_byte_exact(make_file, pair, strategy):
    path = make_file(3 * MiB + 11)
    client, server = pair
    rx = HashingReceiver(server)
    rx.start()
    assert zcnet.sendfile(client, path, strategy=strategy) == 3 * MiB + 11
    assert zcnet.last_stats()["bytes"] == 3 * MiB + 11
    client.shutdown(socket.SHUT_WR)
    assert rx.result() == (3 * MiB + 11, file_digest(path))


def test_sendfile_unknown_strategy_is_value_error(make_file, pair):
    with pytest.raises(ValueError, match="unknown strategy"):
        zcnet.sendfile(pair[0], make_file(10), strategy="carrier-pigeon")


@pytest.mark.parametrize("kind", ["path", "file object", "fd", "socket fd"])
def test_sendfile_accepts_paths_file_objects_and_fds(make_file, pair, kind):
    path = make_file(200_000)
    client, server = pair
    rx = HashingReceiver(server)
    rx.start()
    with open(path, "rb") as f:
        if kind == "path":
            sent = zcnet.sendfile(client, path)
        elif kind == "file object":
            sent = zcnet.sendfile(client, f)
            assert f.tell() == 0  # the file position is neither used nor moved
        elif kind == "fd":
            sent = zcnet.sendfile(client, f.fileno())
        else:
            sent = zcnet.sendfile(client.fileno(), path)
    client.shutdown(socket.SHUT_WR)
    assert sent == 200_000
    assert rx.result() == (200_000, file_digest(path))


def test_sendfile_offset_and_count_send_that_range(make_file, pair):
    path = make_file(MiB)
    client, server = pair
    rx = HashingReceiver(server)
    rx.start()
    assert zcnet.sendfile(client, path, offset=1000, count=300_000) == 300_000
    client.shutdown(socket.SHUT_WR)
    assert rx.result() == (300_000, file_digest(path, 1000, 300_000))


def test_sendfile_on_nonblocking_socket_polls_until_done(make_file, pair):
    # socket.sendfile refuses nonblocking sockets; zcnet polls them with the GIL released.
    path = make_file(16 * MiB + 5)
    client, server = pair
    client.setblocking(False)
    rx = HashingReceiver(server, delay_per_read=0.0005)
    rx.start()
    assert zcnet.sendfile(client, path) == 16 * MiB + 5
    stats = zcnet.last_stats()
    assert stats["waits"] > 0
    # The slow reader kept it waiting for room: that time is part of the transfer's, not more.
    assert 0 < stats["waited_s"] <= stats["elapsed_s"]
    client.shutdown(socket.SHUT_WR)
    assert rx.result() == (16 * MiB + 5, file_digest(path))


def test_sendfile_to_reset_peer_raises_broken_pipe_or_reset(make_file):
    path = make_file(64 * MiB)
    client, server = tcp_pair()
    try:
        # RST on close: SO_LINGER with a zero timeout.
        server.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        threading.Timer(0.2, server.close).start()
        with pytest.raises((BrokenPipeError, ConnectionResetError)) as info:
            zcnet.sendfile(client, path)
        assert info.value.errno in (errno.EPIPE, errno.ECONNRESET)
        assert "peer" in str(info.value) or "127.0.0.1" in str(info.value)
    finally:
        client.close()
        server.close()


def test_sendfile_count_beyond_file_end_raises_enodata(make_file, pair):
    path = make_file(100_000)
    client, server = pair
    rx = HashingReceiver(server)
    rx.start()
    with pytest.raises(OSError) as info:
        zcnet.sendfile(client, path, count=200_000)
    assert info.value.errno == errno.ENODATA
    assert path in str(info.value)


def test_sendfile_file_truncated_mid_transfer_raises_enodata(make_file, pair):
    path = make_file(32 * MiB)
    client, server = pair
    rx = HashingReceiver(server, delay_per_read=0.002, bufsize=64 * 1024)
    rx.start()
    threading.Timer(0.1, lambda: os.truncate(path, MiB)).start()
    with pytest.raises(OSError) as info:
        zcnet.sendfile(client, path, count=32 * MiB)
    assert info.value.errno == errno.ENODATA


def test_sendfile_silent_peer_times_out(make_file, pair):
    path = make_file(64 * MiB)
    client, _server = pair  # never reads
    with pytest.raises(TimeoutError):
        zcnet.sendfile(client, path, timeout=0.3)


def test_sendfile_missing_path_raises_file_not_found(pair, tmp_path):
    with pytest.raises(FileNotFoundError):
        zcnet.sendfile(pair[0], str(tmp_path / "nope"))


def test_gil_is_released_while_a_transfer_waits_on_a_slow_reader(make_file, pair):
    path = make_file(8 * MiB)
    client, server = pair
    rx = HashingReceiver(server, delay_per_read=0.01, bufsize=128 * 1024)
    rx.start()
    ticks = 0
    stop = threading.Event()

    def count() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1

    counter = threading.Thread(target=count)
    counter.start()
    try:
        ticks_before = ticks
        zcnet.sendfile(client, path)
        ticks_during = ticks - ticks_before
    finally:
        stop.set()
        counter.join()
    client.shutdown(socket.SHUT_WR)
    assert rx.result() == (8 * MiB, file_digest(path))
    # With the GIL held the counter could not have moved at all while sendfile ran.
    assert ticks_during > 1000


@pytest.mark.parametrize("size", [0, 1, 65536, MiB + 3, 9 * MiB])
def test_recv_into_file_writes_every_byte(make_file, tmp_path, pair, size):
    src = make_file(size)
    dst = str(tmp_path / "dst.bin")
    client, server = pair
    sender = threading.Thread(target=lambda: (zcnet.sendfile(client, src), client.shutdown(socket.SHUT_WR)))
    sender.start()
    assert zcnet.recv_into_file(server, dst) == size
    sender.join()
    assert os.path.getsize(dst) == size
    assert file_digest(dst) == file_digest(src)


def test_recv_into_file_with_count_and_offset(make_file, tmp_path, pair):
    src = make_file(MiB)
    dst = str(tmp_path / "dst.bin")
    client, server = pair
    client.sendall(open(src, "rb").read())
    assert zcnet.recv_into_file(server, dst, offset=4096, count=500_000) == 500_000
    with open(dst, "rb") as f:
        data = f.read()
    assert data[:4096] == b"\0" * 4096
    assert data[4096:] == open(src, "rb").read(500_000)


def test_recv_into_file_peer_closing_early_raises_enodata(tmp_path, pair):
    client, server = pair
    client.sendall(b"x" * 1000)
    client.close()
    with pytest.raises(OSError) as info:
        zcnet.recv_into_file(server, str(tmp_path / "d"), count=5000)
    assert info.value.errno == errno.ENODATA


def test_relay_moves_both_directions_until_eof(make_file):
    up = make_file(5 * MiB + 1)
    down = make_file(3 * MiB + 7)
    a_client, a_server = tcp_pair()
    b_client, b_server = tcp_pair()
    socks = [a_client, a_server, b_client, b_server]
    try:
        rx_up = HashingReceiver(b_client)
        rx_down = HashingReceiver(a_client)
        rx_up.start()
        rx_down.start()

        def send(sock, path):
            zcnet.sendfile(sock, path)
            sock.shutdown(socket.SHUT_WR)

        senders = [threading.Thread(target=send, args=(a_client, up)),
                   threading.Thread(target=send, args=(b_client, down))]
        for s in senders:
            s.start()
        assert zcnet.relay(a_server, b_server, timeout=30) == (5 * MiB + 1, 3 * MiB + 7)
        for s in senders:
            s.join()
        assert rx_up.result() == (5 * MiB + 1, file_digest(up))
        assert rx_down.result() == (3 * MiB + 7, file_digest(down))
    finally:
        for s in socks:
            s.close()


def test_no_fd_leak_after_1000_transfers(make_file):
    path = make_file(70_000)
    client, server = tcp_pair()
    try:
        rx = HashingReceiver(server)
        rx.start()
        zcnet.sendfile(client, path)  # warm up: engine, pools, pipes
        before = open_fds()
        for _ in range(1000):
            zcnet.sendfile(client, path)
        after = open_fds()
        client.shutdown(socket.SHUT_WR)
        assert rx.result()[0] == 1001 * 70_000
        assert after == before
    finally:
        client.close()
        server.close()


def test_buffer_pool_buffers_are_zero_copy_views(pair):
    pool = zcnet.BufferPool()
    buf = pool.acquire(65536)
    assert len(buf) == 65536 and buf.capacity >= 65536
    view = memoryview(buf)
    view[:5] = b"hello"
    assert bytes(memoryview(buf)[:5]) == b"hello"  # the same memory, not a copy
    client, server = pair
    client.sendall(b"abcdefgh")
    n = server.recv_into(buf)
    assert bytes(view[:n]) == b"abcdefgh"
    with pytest.raises(BufferError):
        buf.release()  # a memoryview still exports it
    view.release()
    assert pool.stats()["in_use"] == 1
    buf.release()
    assert buf.released and pool.stats()["in_use"] == 0
    with pytest.raises(ValueError):
        memoryview(buf)


def test_buffer_pool_returns_buffers_on_with_exit_and_gc():
    pool = zcnet.BufferPool(class_sizes=[4096], buffers_per_class=2, max_buffers_per_class=2)
    with pool.acquire(100) as b:
        assert len(b) == 100
        assert pool.stats()["in_use"] == 1
    assert pool.stats()["in_use"] == 0
    bufs = [pool.acquire(4096), pool.acquire(4096)]
    with pytest.raises(OSError) as info:
        pool.acquire(4096)
    assert info.value.errno == errno.ENOBUFS
    del bufs
    assert pool.stats()["in_use"] == 0
    assert len(pool.acquire(0)) == 4096


def test_import_zcnet_makes_aio_an_attribute():
    # A fresh interpreter: this test process has imported zcnet.aio already.
    code = "import zcnet, sys; sys.stdout.write(zcnet.aio.sendfile.__module__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "zcnet.aio"
