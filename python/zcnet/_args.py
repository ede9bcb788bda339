"""Turns what callers pass (socket objects, file objects, paths, raw fds) into fds.

Every opener returns (fd, close) where close() undoes only what the opener did: a path is opened
here and closed after the call; a socket, file object or fd stays the caller's.
"""

from __future__ import annotations

import os
import socket
from typing import Any, Callable, Tuple, Union

FileArg = Union[int, str, "os.PathLike[str]", Any]
SockArg = Union[int, socket.socket, Any]


def _noop() -> None:
    return None


def socket_fd(sock: SockArg) -> int:
    """The fd of a socket object (anything with fileno()) or a raw fd."""
    if isinstance(sock, int):
        if sock < 0:
            raise ValueError(f"invalid socket fd {sock}")
        return sock
    if hasattr(sock, "fileno"):
        fd = sock.fileno()
        if fd < 0:
            raise ValueError("socket is closed")
        return int(fd)
    raise TypeError(f"expected a socket or an fd, got {type(sock).__name__}")


def open_file(file: FileArg, *, write: bool) -> Tuple[int, Callable[[], None]]:
    """(fd, close) for a path, a file object or a raw fd."""
    if isinstance(file, int):
        if file < 0:
            raise ValueError(f"invalid file fd {file}")
        return file, _noop
    if isinstance(file, (str, bytes, os.PathLike)):
        flags = (os.O_WRONLY | os.O_CREAT) if write else os.O_RDONLY
        fd = os.open(file, flags | os.O_CLOEXEC, 0o644)
        return fd, lambda: os.close(fd)
    if hasattr(file, "fileno"):
        if write and hasattr(file, "flush"):
            file.flush()  # bytes the file object buffered must land before ours (pwrite)
        return int(file.fileno()), _noop
    raise TypeError(f"expected a path, a file object or an fd, got {type(file).__name__}")
