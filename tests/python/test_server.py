"""zcnet.StaticServer / zcnet.serve / zcnet.aio.start_static_server: the C++ HTTP server."""

from __future__ import annotations

import asyncio
import http.client
import os
import signal
import subprocess
import sys
import textwrap

import pytest

import zcnet
import zcnet.aio
from conftest import MiB, digest, file_digest


def get(port: int, path: str):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_static_server_serves_files_byte_exact(tmp_path):
    body = os.urandom(MiB + 17)
    (tmp_path / "a.bin").write_bytes(body)
    with zcnet.StaticServer(str(tmp_path), port=0, grace=1.0) as server:
        assert server.port > 0
        status, got = get(server.port, "/a.bin")
        assert status == 200 and digest(got) == digest(body)
        assert get(server.port, "/missing")[0] == 404


def test_static_server_missing_root_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        zcnet.StaticServer(str(tmp_path / "nope"))


def test_serve_stops_on_ctrl_c(tmp_path):
    (tmp_path / "x.txt").write_bytes(b"hello")
    code = textwrap.dedent(
        """
        import sys, zcnet
        try:
            zcnet.serve(sys.argv[1], port=0, grace=1.0, ready=lambda p: print(p, flush=True))
        except KeyboardInterrupt:
            print("interrupted", flush=True)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        port = int(proc.stdout.readline())
        assert get(port, "/x.txt") == (200, b"hello")
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=15)
        assert "interrupted" in out
        assert proc.returncode == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.asyncio
async def test_aio_start_static_server_serves_and_closes(tmp_path):
    body = os.urandom(300_000)
    (tmp_path / "b.bin").write_bytes(body)
    server = await zcnet.aio.start_static_server(str(tmp_path), grace=1.0)
    loop = asyncio.get_running_loop()
    # http.client in an executor so the asyncio loop stays free while it waits for the answer.
    status, got = await loop.run_in_executor(None, get, server.port, "/b.bin")
    assert status == 200 and got == body
    server.close()
    await asyncio.wait_for(server.wait_closed(), 15)


@pytest.mark.asyncio
async def test_aio_static_server_abort_then_wait_closed(tmp_path):
    """abort() (stop at once, with a keep-alive connection open) and wait_closed() ends: the
    workers' end is signalled even though their tasks never finish."""
    (tmp_path / "c.txt").write_bytes(b"c")
    server = await zcnet.aio.start_static_server(str(tmp_path), grace=30.0)
    r, w = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        w.write(b"GET /c.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        await w.drain()
        assert (await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 15)).startswith(b"HTTP/1.1 200")
        server.abort()
        await asyncio.wait_for(server.wait_closed(), 15)  # long before the 30 s grace
    finally:
        w.close()


def test_static_server_dropped_while_running_exits_cleanly(tmp_path):
    """A running server garbage-collected with a connection open is stopped and joined; the
    process goes on (the loops' "stopped before the task ended" is not fatal)."""
    code = textwrap.dedent(
        """
        import socket, sys, time, zcnet
        server = zcnet.StaticServer(sys.argv[1], grace=30.0).start()
        client = socket.create_connection(("127.0.0.1", server.port))
        time.sleep(0.2)
        del server
        print("dropped", flush=True)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 0, out.stderr
    assert "dropped" in out.stdout


def read_spans(path, want, timeout=10.0):
    """Every span in the OTLP-JSON lines file, once it holds at least ``want`` of them."""
    import json
    import time

    deadline = time.monotonic() + timeout
    while True:
        spans = []
        if path.exists():
            for line in path.read_text().splitlines():
                for rs in json.loads(line)["resourceSpans"]:
                    for ss in rs["scopeSpans"]:
                        spans.extend(ss["spans"])
        if len(spans) >= want or time.monotonic() > deadline:
            return spans
        time.sleep(0.02)


def test_static_server_traces_requests_as_children_of_the_callers_span(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    body = os.urandom(3 * MiB)
    (root / "t.bin").write_bytes(body)
    trace = tmp_path / "spans.jsonl"
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    with zcnet.StaticServer(str(root), grace=1.0, trace_file=str(trace)) as server:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        conn.request("GET", "/t.bin", headers={"traceparent": parent})
        resp = conn.getresponse()
        assert resp.status == 200 and digest(resp.read()) == digest(body)
        conn.close()
        spans = read_spans(trace, 2)
        assert 'zcnet_trace_spans_total{outcome="written"} 2' in server.metrics()
    assert len(spans) == 2
    by_name = {s["name"]: s for s in spans}
    request, transfer = by_name["GET"], by_name["transfer"]
    assert request["traceId"] == transfer["traceId"] == "0af7651916cd43dd8448eb211c80319c"
    assert request["parentSpanId"] == "b7ad6b7169203331"
    assert transfer["parentSpanId"] == request["spanId"]
    attrs = {a["key"]: a["value"] for a in transfer["attributes"]}
    assert attrs["zcnet.body_bytes"] == {"intValue": str(3 * MiB)}


def test_static_server_bad_trace_sample_raises(tmp_path):
    with pytest.raises(Exception, match="ratio:7"):
        zcnet.StaticServer(str(tmp_path), trace_file=str(tmp_path / "t"), trace_sample="ratio:7")


def test_metrics_dict_sums_every_server_and_adds_the_process_families(tmp_path):
    body = os.urandom(100_000)
    (tmp_path / "m.bin").write_bytes(body)
    with zcnet.StaticServer(str(tmp_path), grace=1.0) as a, zcnet.StaticServer(
        str(tmp_path), grace=1.0
    ) as b:
        for port, n in ((a.port, 2), (b.port, 3)):
            for _ in range(n):
                status, got = get(port, "/m.bin")
                assert status == 200 and digest(got) == digest(body)
        assert get(a.port, "/missing")[0] == 404
        own_a = zcnet.parse_metrics(a.metrics())
        own_b = zcnet.parse_metrics(b.metrics())
        m = zcnet.metrics()
    ok = (("status", "200"),)
    assert own_a["zcnet_http_requests_total"][ok] == 2
    assert own_b["zcnet_http_requests_total"][ok] == 3
    assert m["zcnet_http_requests_total"][ok] >= 5  # and any other server still alive here
    assert m["zcnet_http_requests_total"][(("status", "404"),)] >= 1
    # Process-wide families appear once, not once per server.
    assert m["process_resident_memory_bytes"][()] == pytest.approx(
        own_a["process_resident_memory_bytes"][()], rel=0.5
    )
    assert m["zcnet_syscall_timing_enabled"][()] in (0.0, 1.0)


def test_syscall_timing_switch_fills_the_histograms(tmp_path):
    (tmp_path / "s.bin").write_bytes(os.urandom(300_000))

    def counted():
        m = zcnet.metrics()
        return sum(m.get("zcnet_syscall_duration_seconds_count", {}).values())

    with zcnet.StaticServer(str(tmp_path), grace=1.0) as server:
        zcnet.set_syscall_timing(True)
        try:
            before = counted()
            assert zcnet.metrics()["zcnet_syscall_timing_enabled"][()] == 1
            assert get(server.port, "/s.bin")[0] == 200
            during = counted()
        finally:
            zcnet.set_syscall_timing(False)
        assert get(server.port, "/s.bin")[0] == 200
        after = counted()
    assert during > before
    assert after == during
    assert zcnet.metrics()["zcnet_syscall_timing_enabled"][()] == 0


def test_parse_metrics_reads_labels_escapes_and_refuses_garbage():
    text = (
        "# HELP x A counter.\n# TYPE x counter\n"
        'x{a="1",b="q\\"uote\\\\n"} 3\n'
        "y 4.5\n"
        'h_bucket{le="+Inf"} 7\n'
    )
    m = zcnet.parse_metrics(text)
    assert m["x"][(("a", "1"), ("b", 'q"uote\\n'))] == 3
    assert m["y"][()] == 4.5
    assert m["h_bucket"][(("le", "+Inf"),)] == 7
    with pytest.raises(ValueError, match="line 2"):
        zcnet.parse_metrics("y 1\nnot a sample line at all\n")
