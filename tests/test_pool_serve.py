"""``speech-realtime serve`` with SPEECH_POOL_SIZE for real: the pool fills in the worker (never
in the master), requests take pooled sessions (Server-Timing says so), and SIGTERM drains it."""

from __future__ import annotations

import http.client
import json
import time

import pytest
from conftest import API_KEY
from engine_fixtures import wait_until
from serve_process import SERVE, clean_environ, launch

pytestmark = pytest.mark.subprocess


def call(port: int, method: str, path: str, body: dict | None = None) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    data = json.dumps(body).encode() if body is not None else None
    conn.request(method, path, data, {"Content-Type": "application/json"} if body else {})
    response = conn.getresponse()
    response.body = response.read()  # type: ignore[attr-defined]
    conn.close()
    return response


def idle(port: int) -> float:
    text = call(port, "GET", "/metrics").body.decode()  # type: ignore[attr-defined]
    for line in text.splitlines():
        if line.startswith("speech_pool_idle_sessions"):
            return float(line.split()[-1])
    return 0.0


def test_the_worker_fills_the_pool_requests_take_it_and_sigterm_drains_it(upstream) -> None:
    env = {
        **clean_environ(),
        "AZURE_OPENAI_ENDPOINT": upstream.url + "/",
        "AZURE_OPENAI_KEY": API_KEY,
        "SPEECH_POOL_SIZE": "3",
    }
    server = launch(SERVE, env)
    try:
        assert wait_until(lambda: upstream.connections == 3, 20), "the worker did not fill the pool"
        assert wait_until(lambda: idle(server.port) == 3, 10)
        answer = call(server.port, "POST", "/api/speech-realtime/synthesize", {"text": "Hello there."})
        assert answer.status == 200
        assert "upstream connect (pooled)" in answer.getheader("Server-Timing", "")
        assert wait_until(lambda: upstream.connections == 4, 10), "no replacement was opened"
        started = time.monotonic()
    finally:
        server.stop()
    assert time.monotonic() - started < 15
    assert upstream.connections == 4  # nothing opened while draining
    assert "Traceback" not in "".join(server.log)
