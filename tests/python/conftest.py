"""Shared fixtures: real files with random bytes, real loopback TCP pairs, hashing receivers."""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import threading
from typing import Callable, Iterator, List, Optional, Tuple

import pytest

MiB = 1024 * 1024


def digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def file_digest(path: str, offset: int = 0, count: Optional[int] = None) -> str:
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        f.seek(offset)
        left = count
        while left is None or left > 0:
            chunk = f.read(MiB if left is None else min(MiB, left))
            if not chunk:
                break
            h.update(chunk)
            if left is not None:
                left -= len(chunk)
    return h.hexdigest()


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def tcp_pair() -> Tuple[socket.socket, socket.socket]:
    """(client, server-side) of one loopback TCP connection, both blocking."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
    return client, server


class HashingReceiver(threading.Thread):
    """Reads a socket to EOF (optionally slowly) and hashes what it got."""

    def __init__(self, sock: socket.socket, delay_per_read: float = 0.0, bufsize: int = 256 * 1024):
        super().__init__(daemon=True)
        self.sock = sock
        self.delay = delay_per_read
        self.bufsize = bufsize
        self.hash = hashlib.blake2b(digest_size=16)
        self.count = 0
        self.error: Optional[BaseException] = None

    def run(self) -> None:
        import time

        try:
            while True:
                data = self.sock.recv(self.bufsize)
                if not data:
                    return
                self.hash.update(data)
                self.count += len(data)
                if self.delay:
                    time.sleep(self.delay)
        except BaseException as e:  # reported by the test
            self.error = e

    def result(self, timeout: float = 60.0) -> Tuple[int, str]:
        self.join(timeout)
        assert not self.is_alive(), "receiver did not finish"
        if self.error is not None:
            raise self.error
        return self.count, self.hash.hexdigest()


@pytest.fixture
def make_file(tmp_path) -> Iterator[Callable[[int], str]]:
    """make_file(size) -> path of a file holding `size` random bytes."""
    made: List[str] = []

    def make(size: int, name: Optional[str] = None) -> str:
        path = str(tmp_path / (name or f"src-{size}-{len(made)}.bin"))
        with open(path, "wb") as f:
            left = size
            while left > 0:
                n = min(left, 4 * MiB)
                f.write(os.urandom(n))
                left -= n
        made.append(path)
        return path

    yield make


@pytest.fixture
def pair() -> Iterator[Tuple[socket.socket, socket.socket]]:
    a, b = tcp_pair()
    try:
        yield a, b
    finally:
        a.close()
        b.close()


def pytest_asyncio_loop_factories(config, item):
    """Every pytest-asyncio test runs under the default loop and under uvloop (pytest-asyncio
    >= 1.4 parametrizes a test over these factories)."""
    factories = {"asyncio": asyncio.new_event_loop}
    try:
        import uvloop

        factories["uvloop"] = uvloop.new_event_loop
    except ImportError:
        pass
    return factories
