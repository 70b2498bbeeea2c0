"""Slow senders (slowloris) cost no thread: requests are collected in the worker's poller.

The small app of test_web_server.py runs with 16 threads and a one-second client timeout; 40
clients that send their headers or body a byte at a time, reconnecting whenever they are
answered 408 or dropped, outnumber the threads. The cheap route still answers at once, where it
used to wait for a thread behind the senders (up to their hold time of one second each).
The figures for 200 senders against serve are in docs/concurrency.md (bench_concurrency.py).
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_web_server import CLIENT_TIMEOUT, Server, start_server

pytestmark = pytest.mark.subprocess

SENDERS = 40
HEADERS = b"GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: " + b"p" * 64 + b"\r\n\r\n"
BODY = b"POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 64\r\n\r\n" + b"b" * 64


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    yield from start_server(tmp_path)


def slow_sender(server: Server, request: bytes, stop: threading.Event) -> None:
    """Send ``request`` a byte every 50 ms; start over on a new connection when dropped."""
    while not stop.is_set():
        try:
            with server.connect() as conn:
                for byte in request[:-1]:  # never the last byte: the request never completes
                    if stop.wait(0.05):
                        return
                    conn.send(bytes([byte]))
        except OSError:
            continue


def test_slow_senders_leave_the_cheap_route_answering_at_once(server: Server) -> None:
    stop = threading.Event()
    senders = [
        threading.Thread(target=slow_sender, args=(server, HEADERS if n % 2 else BODY, stop), daemon=True)
        for n in range(SENDERS)
    ]
    for sender in senders:
        sender.start()
    try:
        time.sleep(CLIENT_TIMEOUT * 1.5)  # every sender connected, some answered 408 and back
        timings = []
        for _ in range(10):
            started = time.monotonic()
            assert server.ping() == {"ok": True}
            timings.append(time.monotonic() - started)
            time.sleep(0.1)
    finally:
        stop.set()
        for sender in senders:
            sender.join(5)
    print(
        f"/ping with {SENDERS} slow senders: median {statistics.median(timings) * 1000:.1f} ms, "
        f"max {max(timings) * 1000:.1f} ms"
    )
    # Each sender holds its connection for the client timeout; a ping queued behind them for a
    # thread would take about that long.
    assert statistics.median(timings) < CLIENT_TIMEOUT / 4


def test_pipelined_requests_read_ahead_in_the_poller_are_all_answered(server: Server) -> None:
    body = b"a" * 20000  # read in pieces no larger than what is left of it
    upload = b"POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 20000\r\n\r\n" + body
    ping = b"GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    last = b"GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    with server.connect() as conn:
        conn.sendall(upload + ping + upload + last)  # one packet: all four read at once
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    assert data.count(b"HTTP/1.1 200") == 4, data
    assert data.count(b'{"bytes":20000}') == 2
