"""Streamed answers on a real server: a failed stream is visibly truncated, a gone client frees it."""

from __future__ import annotations

import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Blueprint
from loopback import serve as serve_app
from realtime_server import audio_for

from speech_realtime.config import Settings
from speech_realtime.errors import Saturated, UpstreamError
from speech_realtime.web import create_app
from speech_realtime.web.errors import ErrorInfo
from speech_realtime.web.streaming import audio_response, sse_response

STREAM = "/api/speech-realtime/synthesize/stream"
TEXT = "A sentence long enough to arrive in several chunks."


@dataclass
class Reply:
    status: int
    body: bytes
    complete: bool  # the terminating chunk arrived


def parse_chunked(raw: bytes) -> Reply:
    """A raw HTTP/1.1 answer read to EOF: status, de-chunked body, and whether it ended properly."""
    head, _, rest = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    assert b"transfer-encoding: chunked" in head.lower()
    body = bytearray()
    while True:
        size_line, sep, rest = rest.partition(b"\r\n")
        if not sep:
            return Reply(status, bytes(body), False)
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            return Reply(status, bytes(body), rest.startswith(b"\r\n"))
        if len(rest) < size + 2:
            return Reply(status, bytes(body + rest[:size]), False)
        body += rest[:size]
        rest = rest[size + 2 :]


def request_bytes(address: str, path: str, body: bytes) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body


def exchange(address: str, path: str, body: bytes, timeout: float = 5) -> bytes:
    """Send one request on a raw socket and read until the server closes (``timeout`` per read)."""
    host, port = address.split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(request_bytes(address, path, body))
        received = bytearray()
        while data := sock.recv(65536):
            received += data
    return bytes(received)


def serve(app) -> Iterator[str]:
    """``host:port`` of ``app`` on a loopback server while the generator runs."""
    with serve_app(app) as base:
        yield base.removeprefix("http://")


@pytest.fixture
def served(app) -> Iterator[str]:
    """The reference app over the scripted upstream, on a real werkzeug server."""
    yield from serve(app)


def test_a_complete_stream_ends_with_the_terminating_chunk(served, upstream) -> None:
    reply = parse_chunked(exchange(served, STREAM, b'{"text": "%s"}' % TEXT.encode()))
    assert reply.status == 200
    assert reply.complete
    assert reply.body == b"".join(audio_for(TEXT, 4, 2))


def test_a_stream_failing_after_its_first_bytes_drops_the_connection(served, upstream, caplog) -> None:
    upstream.reset(mode="close_before_done")
    with caplog.at_level(logging.WARNING):
        reply = parse_chunked(exchange(served, STREAM, b'{"text": "%s"}' % TEXT.encode()))
    assert reply.status == 200
    assert not reply.complete
    assert 0 < len(reply.body) < len(b"".join(audio_for(TEXT, 4, 2)))
    logged = [r for r in caplog.records if r.name.startswith("speech_realtime")]
    assert [r.levelname for r in logged] == ["WARNING"]  # once, by the web layer
    assert "stream aborted" in logged[0].getMessage()


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
@pytest.mark.parametrize(("mode", "exit_code"), [("ok", 0), ("close_before_done", 18)])
def test_curl_sees_a_truncated_stream(served, upstream, mode, exit_code) -> None:
    upstream.reset(mode=mode)
    curl = subprocess.run(
        [
            *("curl", "-sS", "-o", "/dev/null", "--max-time", "10"),
            *("-H", "Content-Type: application/json", "-d", f'{{"text": "{TEXT}"}}'),
            f"http://{served}{STREAM}",
        ],
        capture_output=True,
        timeout=20,
    )
    assert curl.returncode == exit_code, curl.stderr


class EndlessService:
    """A fake service whose stream never ends by itself and reports when it is closed."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.closed = threading.Event()

    def synthesize_stream(self, text, options) -> Iterator[bytes]:
        def chunks() -> Iterator[bytes]:
            try:
                while True:
                    self.started.set()
                    yield bytes(32768)
                    self.closed.wait(0.002)  # pace the producer; returns at once when closed
            finally:
                self.closed.set()

        self.stream = chunks()  # held here, so only an explicit close() can end it
        return self.stream


def test_a_client_that_goes_away_closes_the_services_stream(settings) -> None:
    service = EndlessService()
    for address in serve(create_app(settings, service=service)):
        host, port = address.split(":")
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.sendall(request_bytes(address, STREAM, b'{"text": "Hello."}'))
            assert sock.recv(65536)
            assert service.started.wait(5)
        assert service.closed.wait(5), "the stream was not closed after the client left"


def test_a_client_that_goes_away_frees_the_upstream_session_at_once(settings, upstream) -> None:
    upstream.reset(chunks=400, chunk_delay=0.05)  # a 20 s reading, far past this test
    app = create_app(settings.with_changes(max_sessions=1, request_timeout=30))
    service = app.extensions["speech"]

    def slot_free() -> bool:
        try:
            with service.hold():
                return True
        except Saturated:
            return False

    for address in serve(app):
        host, port = address.split(":")
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.sendall(request_bytes(address, STREAM, b'{"text": "Hello."}'))
            assert b"200 OK" in sock.recv(65536)
            assert not slot_free(), "the stream should hold the only session slot"
        deadline = time.monotonic() + 5
        while not slot_free():
            assert time.monotonic() < deadline, "the session was not released after the client left"
            time.sleep(0.02)  # polling, bounded by the deadline above


# -- the helpers on their own (test client) ---------------------------------------------------


def failing(items: list, exc: Exception) -> Iterator:
    yield from items
    raise exc


@pytest.fixture
def helper_client(settings):
    """An app with routes that stream from generators the tests choose."""
    app = create_app(settings)
    blueprint = Blueprint("streams", __name__)
    app.config["SOURCE"] = None

    @blueprint.post("/t/audio")
    def audio():
        return audio_response(app.config["SOURCE"], "audio/pcm", {"X-Extra": "1"})

    @blueprint.post("/t/sse")
    def events():
        return sse_response(app.config["SOURCE"])

    @blueprint.post("/t/sse-with-errors")
    def events_with_errors():
        def on_error(info: ErrorInfo) -> dict:
            return {"type": "error", "error": {"code": info.code, "message": info.message}}

        return sse_response(app.config["SOURCE"], on_error=on_error)

    app.register_blueprint(blueprint)
    return app, app.test_client()


def test_sse_frames_each_event_as_a_data_line(helper_client) -> None:
    app, client = helper_client
    app.config["SOURCE"] = iter([{"type": "a", "n": 1}, {"type": "done"}])
    response = client.post("/t/sse")
    assert response.mimetype == "text/event-stream"
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.data == b'data: {"type":"a","n":1}\n\ndata: {"type":"done"}\n\n'


def test_sse_failure_after_the_first_event_becomes_the_familys_error_event(helper_client) -> None:
    app, client = helper_client
    app.config["SOURCE"] = failing([{"type": "a"}], UpstreamError("upstream broke"))
    response = client.post("/t/sse-with-errors")
    assert response.status_code == 200
    assert response.data.endswith(
        b'data: {"type":"error","error":{"code":"upstream_error","message":"upstream broke"}}\n\n'
    )


def test_a_failure_before_the_first_item_is_an_ordinary_error_answer(helper_client) -> None:
    app, client = helper_client
    for path in ("/t/audio", "/t/sse"):
        app.config["SOURCE"] = failing([], UpstreamError("refused"))
        response = client.post(path)
        assert response.status_code == 502
        assert response.json == {"error": {"code": "upstream_error", "message": "refused"}}


def test_an_empty_stream_is_an_empty_answer(helper_client) -> None:
    app, client = helper_client
    app.config["SOURCE"] = iter([])
    response = client.post("/t/audio")
    assert response.status_code == 200
    assert response.data == b""
    assert response.headers["X-Extra"] == "1"


# -- under gunicorn, the production server -----------------------------------------------------


class FailingService:
    """Two chunks, then an upstream failure."""

    def synthesize_stream(self, text, options) -> Iterator[bytes]:
        yield b"x" * 1000
        yield b"y" * 1000
        raise UpstreamError("upstream closed mid-stream")


def failing_app():
    """The app gunicorn loads in the test below (``test_web_streaming:failing_app()``)."""
    return create_app(Settings.from_mapping({}), service=FailingService())


@pytest.mark.subprocess
@pytest.mark.parametrize("worker", ["sync", "gthread"])
def test_under_gunicorn_a_failed_stream_drops_the_connection(worker) -> None:
    gunicorn = Path(sys.executable).with_name("gunicorn")
    # --preload: the app is imported before gunicorn says where it listens, so a slow import on
    # a busy machine is not mistaken for a server that never answers.
    command = [str(gunicorn), "-k", worker, "--preload", "-b", "127.0.0.1:0"]
    command += ["--chdir", str(Path(__file__).parent)]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    with subprocess.Popen(
        [*command, "test_web_streaming:failing_app()"], stderr=subprocess.PIPE, text=True, env=env
    ) as server:
        try:
            address = None
            for line in iter(server.stderr.readline, ""):  # gunicorn logs its address first
                if match := re.search(r"Listening at: http://([\d.]+:\d+)", line):
                    address = match.group(1)
                    break
            assert address, "gunicorn did not start"
            reply = parse_chunked(exchange(address, STREAM, b'{"text": "Hello."}', timeout=20))
            assert reply.status == 200
            assert reply.body == b"x" * 1000 + b"y" * 1000
            assert not reply.complete
        finally:
            server.terminate()
            log = server.communicate(timeout=10)[1]
    assert log.count("stream aborted after its first bytes") == 1
    assert "Traceback" not in log


class ClosableSource:
    """An iterable (not an iterator) that records being closed."""

    def __init__(self, items: list, fail: Exception | None = None) -> None:
        self.items = items
        self.fail = fail
        self.closed = 0

    def __iter__(self) -> Iterator:
        yield from self.items
        if self.fail:
            raise self.fail

    def close(self) -> None:
        self.closed += 1


@pytest.mark.parametrize(
    ("items", "fail", "status"),
    [([b"a", b"b"], None, 200), ([], None, 200), ([], UpstreamError("refused"), 502)],
    ids=["complete", "empty", "failed-before-first"],
)
def test_the_producer_is_closed_once_however_the_answer_ends(helper_client, items, fail, status) -> None:
    app, client = helper_client
    source = ClosableSource(items, fail)
    app.config["SOURCE"] = source
    response = client.post("/t/audio")
    assert response.status_code == status
    if status == 200:
        assert response.data == b"".join(items)
    response.close()
    assert source.closed == 1
