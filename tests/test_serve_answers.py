"""The answers ``serve`` gives before any route runs, over real sockets: each in the envelope of
the family its path belongs to (OpenAI's on /v1, Azure's plain text on Azure paths, the
reference's elsewhere), and OPTIONS as 204 with Allow."""

from __future__ import annotations

import base64
import json
import os
import socket
from collections.abc import Iterator

import pytest
from conftest import API_KEY
from serve_process import SERVE, Started, clean_environ, launch

pytestmark = pytest.mark.subprocess


@pytest.fixture(scope="module")
def served() -> Iterator[Started]:
    env = clean_environ()
    env.update(
        {
            "AZURE_OPENAI_ENDPOINT": "http://127.0.0.1:9",  # never reached by these requests
            "AZURE_OPENAI_KEY": API_KEY,
            "SPEECH_MAX_WEBSOCKETS": "1",
            "SPEECH_CLIENT_TIMEOUT": "1",
        }
    )
    started = launch(SERVE, env)
    try:
        yield started
    finally:
        started.stop()


def exchange(served: Started, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    with socket.create_connection(("127.0.0.1", served.port), timeout=8) as conn:
        conn.sendall(raw)
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
            if b"\r\n\r\n" in data and b"Connection: close" not in data.partition(b"\r\n\r\n")[0]:
                break
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v for k, v in (line.split(": ", 1) for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def huge_header(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: {'x' * 9000}\r\n\r\n".encode()


def test_headers_too_large_on_v1_is_openais_envelope(served: Started) -> None:
    status, headers, body = exchange(served, huge_header("/v1/audio/speech"))
    assert status == 431 and headers["content-type"] == "application/json"
    error = json.loads(body)["error"]
    assert error["type"] == "invalid_request_error" and error["code"] == "headers_too_large"


def test_headers_too_large_on_an_azure_path_is_azures_plain_body(served: Started) -> None:
    status, headers, body = exchange(served, huge_header("/cognitiveservices/v1"))
    assert status == 431 and headers["content-type"].startswith("text/plain")
    assert not body.startswith(b"{")


def test_a_late_request_on_v1_is_a_408_in_openais_envelope(served: Started) -> None:
    status, _, body = exchange(served, b"POST /v1/audio/speech HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    assert status == 408 and json.loads(body)["error"]["code"] == "request_timeout"


def test_a_websocket_beyond_the_budget_is_refused_in_azures_shape(served: Started) -> None:
    def upgrade() -> bytes:
        key = base64.b64encode(os.urandom(16)).decode()
        return (
            "GET /cognitiveservices/websocket/v1 HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            "X-ConnectionId: 0123456789abcdef0123456789abcdef\r\n\r\n"
        ).encode()

    with socket.create_connection(("127.0.0.1", served.port), timeout=8) as first:
        first.sendall(upgrade())
        assert first.recv(4096).startswith(b"HTTP/1.1 101")
        status, headers, body = exchange(served, upgrade())
    assert status == 503 and headers["retry-after"] == "1"
    assert headers["content-type"].startswith("text/plain") and b"WebSocket" in body


def test_options_is_204_with_allow(served: Started) -> None:
    status, headers, body = exchange(
        served, b"OPTIONS /v1/audio/speech HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    assert status == 204 and "POST" in headers["allow"] and body == b""
    assert "content-type" not in headers
