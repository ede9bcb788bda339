"""zcnet._zcnet (stub: nanobind stubgen, plus __buffer__). zcnet's C++ engine (use the zcnet package, not this module)"""

from collections.abc import Iterable, Sequence


def sendfile_fd(sock_fd: int, file_fd: int, offset: int, count: int | None, strategy: str, timeout: float | None) -> dict:
    """
    File range to a socket until every byte is sent; GIL released. Returns stats.
    """

def recv_into_file_fd(sock_fd: int, file_fd: int, offset: int, count: int | None, strategy: str, timeout: float | None) -> dict:
    """
    Socket bytes into a file at offset (count bytes, or until EOF); GIL released.
    """

def relay_fds(a_fd: int, b_fd: int, strategy: str, timeout: float | None) -> tuple[int, int]:
    """
    Both directions between two sockets until EOF; returns (a->b bytes, b->a bytes).
    """

class StepTransfer:
    """A transfer driven one nonblocking step at a time (zcnet.aio)."""

    @staticmethod
    def file_to_socket(file_fd: int, offset: int, count: int | None, sock_fd: int, strategy: str) -> StepTransfer:
        """File range to a nonblocking socket."""

    @staticmethod
    def socket_to_socket(src_fd: int, dst_fd: int, strategy: str) -> StepTransfer:
        """One direction between two nonblocking sockets, until EOF."""

    @staticmethod
    def socket_to_file(sock_fd: int, file_fd: int, offset: int, count: int | None, strategy: str) -> StepTransfer:
        """A nonblocking socket into a file at offset (count bytes or EOF)."""

    def step(self, budget: int) -> tuple[int, bool, int, bool]:
        """One nonblocking step: (bytes, done, wait_fd, wait_for_write)."""

    def close(self) -> None:
        """Release the pipe and buffers now."""

    @property
    def closed(self) -> bool:
        """True after close()."""

    @property
    def strategy(self) -> str:
        """The strategy running now."""

    @property
    def reason(self) -> str:
        """Why the selector chose it."""

    def stats(self) -> dict:
        """bytes, syscalls, bytes_copied_user, waits, ..."""

class Buffer:
    """A pool buffer; supports the buffer protocol without copies."""

    def release(self) -> None:
        """Give the buffer back to its pool now."""

    @property
    def released(self) -> bool:
        """True once back in the pool."""

    @property
    def capacity(self) -> int:
        """Bytes in the pool slot (>= len)."""

    def __len__(self) -> int:
        """Bytes the buffer exposes."""

    def __buffer__(self, flags: int, /) -> memoryview: ...

    def __enter__(self) -> Buffer:
        """Returns the buffer."""

    def __exit__(self, *args) -> None:
        """release()"""

class BufferPool:
    """Pre-allocated buffers in size classes."""

    def __init__(self, class_sizes: Sequence[int], buffers_per_class: int, max_buffers_per_class: int) -> None: ...

    def acquire(self, size: int) -> Buffer:
        """
        A buffer of `size` bytes (0: the whole class) from the smallest class that fits.
        """

    def stats(self) -> dict:
        """buffers, in_use, high_water, acquires, failures."""

class StaticServer:
    """zcnet's HTTP/1.1 static file server on its own loop threads."""

    def __init__(self, root: str, host: str, port: int, workers: int, strategy: str, max_connections: int, keepalive_timeout: float, grace: float, trace_file: str, trace_sample: str) -> None: ...

    def start(self) -> None:
        """Start the worker threads."""

    def shutdown(self) -> None:
        """Graceful stop (grace period for responses)."""

    def stop(self) -> None:
        """Immediate stop."""

    def join(self, timeout: float) -> bool:
        """Wait (GIL released) for every worker; False after timeout seconds."""

    @property
    def port(self) -> int:
        """The listening port."""

    @property
    def done_fd(self) -> int:
        """eventfd, readable once every worker ended."""

    @property
    def connections(self) -> int:
        """Connections open now."""

    def metrics(self) -> str:
        """The server's metrics in the Prometheus text format (what zcnet serve --metrics serves)."""

class Proxy:
    """zcnet's TCP proxy (zcnet::proxy) on its own loop threads."""

    def __init__(self, host: str, port: int, upstreams: str | Iterable[str | tuple[str] | tuple[str, int] | tuple[str, int, bool]], balance: str, workers: int, path: str, max_connections: int, connect_timeout: float, idle_timeout: float, grace: float, health_interval: float, health_path: str, send_proxy: str, mirror: str, trace_file: str, trace_sample: str) -> None: ...

    def start(self) -> None:
        """Start the worker threads."""

    def shutdown(self) -> None:
        """Graceful stop (grace period for open connections)."""

    def stop(self) -> None:
        """Immediate stop."""

    def join(self, timeout: float) -> bool:
        """Wait (GIL released) for every worker; False after timeout seconds."""

    def metrics(self) -> str:
        """The proxy's metrics in the Prometheus text format."""

    @property
    def port(self) -> int:
        """The listening port."""

    @property
    def done_fd(self) -> int:
        """eventfd, readable once every worker ended."""

    @property
    def connections(self) -> int:
        """Client connections open now."""

def process_metrics() -> str:
    """The process-wide families (syscall timing, process_*) in the Prometheus text format."""

def set_syscall_timing(on: bool) -> None:
    """Per-syscall timing histograms on or off (zcnet_syscall_duration_seconds)."""

def syscall_timing() -> bool:
    """Whether per-syscall timing is on."""
