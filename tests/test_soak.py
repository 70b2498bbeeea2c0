"""Soak: failures and abandoned streams leave nothing behind; the breaker opens and closes under load.

The app runs in this process behind a real loopback server (tests/loopback.py), so every thread
and socket it, its upstream connections and the scripted upstream hold are this process's own:
after 1,000 failed requests and 300 streams dropped after their first chunk, the thread count
and the open file descriptors come back to where they were (a small constant slack).
"""

from __future__ import annotations

import http.client
import json
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest
from loopback import serve
from prometheus_client import REGISTRY

from speech_realtime.web import create_app

STREAM = "/api/speech-realtime/synthesize/stream"
FAULT_CYCLES = 1000
ABANDONED_STREAMS = 300
SLACK = 3
#: Quick failures, each a different path through the service: refused handshakes (401, 404),
#: a 5xx retried once, a frame that is not JSON, a socket closed mid-response.
FAULTS = [
    {"handshake_status": 401},
    {"handshake_status": 404},
    {"handshake_status": 500},
    {"mode": "malformed"},
    {"mode": "close_before_done"},
]


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` passes; whether it held."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def post(base: str, path: str, body: dict) -> tuple[int, bytes]:
    """One request on its own connection (closed after), under a time limit."""
    url = urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def abandon_stream(base: str) -> None:
    """Read the first chunk of a streamed reading, then close the socket mid-way."""
    url = urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        body = json.dumps({"text": "Hello there, this is a reading that is abandoned mid-way."})
        conn.request("POST", STREAM, body, {"Content-Type": "application/json"})
        response = conn.getresponse()
        assert response.status == 200
        assert response.read1(1024)  # the first bytes of audio
        response.close()
    finally:
        conn.close()


def synthesize(base: str) -> int:
    return post(base, "/api/speech-realtime/synthesize", {"text": "Hello."})[0]


@pytest.fixture
def soak_settings(settings):
    """Short deadlines, and a breaker that stays closed through the fault cycles."""
    return settings.with_changes(request_timeout=2, receive_timeout=1, breaker_failures=1_000_000)


def test_faults_and_abandoned_streams_leak_no_threads_or_descriptors(soak_settings, upstream) -> None:
    app = create_app(soak_settings)
    with serve(app) as base:  # warm up whatever is made once (pools, loggers, metrics)
        assert synthesize(base) == 200
        abandon_stream(base)
    assert wait_until(lambda: upstream.connections == 2)
    threads, fds = threading.active_count(), open_fds()

    with serve(app) as base:
        statuses: dict[int, int] = {}
        for cycle in range(FAULT_CYCLES):
            upstream.reset(**FAULTS[cycle % len(FAULTS)])
            status = synthesize(base)
            statuses[status] = statuses.get(status, 0) + 1
        assert statuses == {502: FAULT_CYCLES}

        upstream.reset(chunks=40, chunk_delay=0.002)  # a long reading, still running when dropped
        for _ in range(ABANDONED_STREAMS):
            abandon_stream(base)

    settled = wait_until(lambda: threading.active_count() <= threads and open_fds() <= fds + SLACK)
    assert settled, (threading.active_count(), threads, open_fds(), fds)


def breaker_open() -> float:
    return REGISTRY.get_sample_value("speech_upstream_breaker_open") or 0.0


def transitions(state: str) -> float:
    return REGISTRY.get_sample_value("speech_upstream_breaker_transitions_total", {"state": state}) or 0.0


def test_the_breaker_opens_and_closes_under_load(settings, upstream) -> None:
    # A cool-down long enough that the breaker is still open when the load is over, on a busy machine.
    breaker = settings.with_changes(breaker_failures=5, breaker_cooldown=2, request_timeout=2)
    opened, closed = transitions("open"), transitions("closed")
    with serve(create_app(breaker)) as base, ThreadPoolExecutor(8) as pool:
        upstream.reset(handshake_status=500)
        failing = list(pool.map(lambda _: synthesize(base), range(64)))
        assert set(failing) <= {502, 503} and 503 in failing  # failures, then fast refusals
        assert breaker_open() == 1 and transitions("open") > opened
        connections = upstream.connections
        assert synthesize(base) == 503 and upstream.connections == connections  # no connection

        upstream.reset()
        assert wait_until(lambda: synthesize(base) == 200, timeout=10)  # the probe after the cool-down
        healthy = list(pool.map(lambda _: synthesize(base), range(64)))
        assert healthy == [200] * 64
        assert breaker_open() == 0 and transitions("closed") > closed
