"""A complete drain of ``speech-realtime serve`` on SIGTERM, SIGINT and SIGQUIT alike.

``serve`` runs over the scripted upstream. Per signal: a synthesis in flight completes, a
connection made after the signal is refused at once, an idle keep-alive connection is closed,
a WebSocket peer that never answers (a raw Speech SDK upgrade that then reads nothing) does
not hold the drain, and the process exits well within the graceful timeout. Every wait has a
time limit; the figures themselves come from scripts/bench_frontends.py --only drain.
"""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest
import requests
from conftest import API_KEY
from serve_process import SERVE, Started, clean_environ, launch

pytestmark = pytest.mark.subprocess

#: SPEECH_GRACEFUL_TIMEOUT of these servers; every bound below is well inside it.
GRACEFUL = 20
#: How long after the signal the process may take to exit (the in-flight synthesis takes ~2 s,
#: the silent WebSocket is aborted after the SDK sockets' 5 s drain plus 1 s).
EXIT_LIMIT = 10.0
SYNTHESIS_PATH = "/cognitiveservices/websocket/v1"


@pytest.fixture
def served(upstream) -> Iterator[Started]:
    env = clean_environ()
    env.update(
        {
            "AZURE_OPENAI_ENDPOINT": upstream.url,
            "AZURE_OPENAI_KEY": API_KEY,
            "AZURE_OPENAI_REALTIME_DEPLOYMENT": "gpt-realtime-test",
            "SPEECH_GRACEFUL_TIMEOUT": str(GRACEFUL),
        }
    )
    started = launch(SERVE, env)
    try:
        yield started
    finally:
        print("".join(started.log))  # shown when the test fails
        if started.process.poll() is None:
            started.process.kill()
        started.process.wait(timeout=10)


def silent_websocket(port: int) -> socket.socket:
    """A Speech SDK synthesis socket whose peer completes the upgrade, then never reads again."""
    conn = socket.create_connection(("127.0.0.1", port), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    conn.sendall(
        (
            f"GET {SYNTHESIS_PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            "X-ConnectionId: 0123456789abcdef0123456789abcdef\r\n\r\n"
        ).encode()
    )
    assert conn.recv(4096).startswith(b"HTTP/1.1 101"), "the upgrade was refused"
    return conn


def idle_keep_alive(port: int) -> socket.socket:
    conn = socket.create_connection(("127.0.0.1", port), timeout=5)
    conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert conn.recv(65536).startswith(b"HTTP/1.1 200")
    return conn


def closed_within(conn: socket.socket, limit: float) -> bool:
    """Whether the server closes ``conn`` within ``limit`` seconds (whatever it sends first)."""
    conn.settimeout(limit)
    deadline = time.monotonic() + limit
    try:
        while time.monotonic() < deadline:
            if not conn.recv(65536):
                return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return False


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGQUIT])
def test_a_drain(served: Started, upstream, signum: int) -> None:
    upstream.reset(chunks=6, chunk_delay=0.3)  # a synthesis takes about 2 s
    base = f"http://{served.address}"
    silent = silent_websocket(served.port)
    idle = idle_keep_alive(served.port)
    partial = socket.create_connection(("127.0.0.1", served.port), timeout=5)
    partial.sendall(b"GET /v1/audio/voices HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # not finished
    result: dict[str, object] = {}

    def synthesize() -> None:
        response = requests.post(
            f"{base}/api/speech-realtime/synthesize", json={"text": "hello there"}, timeout=EXIT_LIMIT
        )
        result["status"], result["bytes"] = response.status_code, len(response.content)

    flight = threading.Thread(target=synthesize)
    flight.start()
    deadline = time.monotonic() + 5
    while not upstream.client_events("response.create") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert upstream.client_events("response.create"), "the synthesis never started"

    sent_at = time.monotonic()
    served.process.send_signal(signum)
    time.sleep(0.3)
    refused_at = time.monotonic()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", served.port), timeout=3).close()
    assert time.monotonic() - refused_at < 2, "a connection after the signal was left hanging"
    assert closed_within(idle, 2), "the idle keep-alive connection stayed open"
    answer = partial.recv(65536)  # a request accepted but not started: 503, in its family's shape
    assert answer.startswith(b"HTTP/1.1 503") and b"Retry-After: 1" in answer, answer
    assert b"invalid_request_error" not in answer and b'"type"' in answer  # OpenAI's envelope
    partial.close()

    flight.join(EXIT_LIMIT)
    assert result.get("status") == 200 and result["bytes"], result
    try:
        code = served.process.wait(timeout=EXIT_LIMIT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"serve did not exit within {EXIT_LIMIT} s of signal {signum}")
    exited = time.monotonic() - sent_at
    print(f"signal {signum}: serve exited with {code} {exited:.2f} s after it")
    assert closed_within(silent, 1), "the silent WebSocket peer's socket was never closed"
    assert exited < EXIT_LIMIT
    silent.close()
    idle.close()


def _children(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, timeout=5)
    return [int(child) for child in found.stdout.split()]


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_a_worker_whose_parent_died_drains_the_same_way(served: Started) -> None:
    idle = idle_keep_alive(served.port)  # answered: the worker is up
    workers = _children(served.process.pid)
    assert workers, "no worker process"
    served.process.kill()  # the arbiter dies without a word to its workers
    served.process.wait(timeout=5)
    deadline = time.monotonic() + EXIT_LIMIT
    while not all(_gone(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(_gone(pid) for pid in workers), "the orphaned worker is still running"
    assert closed_within(idle, 1)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", served.port), timeout=3).close()
    idle.close()


@pytest.mark.models
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGQUIT])
def test_the_engine_child_exits_with_serve(signum: int) -> None:
    """serve on the offline engine (real models): the engine's process is gone after a drain."""
    started = launch(SERVE, clean_environ(), watchdog=180)
    try:
        engines = [
            pid
            for pid in _children(started.process.pid)
            if b"engine" in open(f"/proc/{pid}/cmdline", "rb").read()  # noqa: SIM115
        ]
        assert engines, "no engine child"
        started.process.send_signal(signum)
        started.process.wait(timeout=EXIT_LIMIT)
        deadline = time.monotonic() + 5
        while not all(_gone(pid) for pid in engines) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert all(_gone(pid) for pid in engines), "the engine child outlived serve"
    finally:
        if started.process.poll() is None:
            started.process.kill()
        started.process.wait(timeout=10)
