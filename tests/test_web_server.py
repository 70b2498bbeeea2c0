"""The gunicorn server of web/server.py: slow, idle, stalled and long-lived clients, and JSON errors.

The server tests run a small app under :func:`speech_realtime.web.server.serve` in a child
process on 127.0.0.1:0, with a one-second client timeout, and drive it with raw sockets.
"""

from __future__ import annotations

import base64
import json
import socket
import struct
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import websocket
from serve_process import ROOT, clean_environ, launch

from speech_realtime.config import Settings
from speech_realtime.web.server import SpeechServer, SpeechWorker, server_options, thread_budget
from speech_realtime.web.wire_errors import error_bytes

CLIENT_TIMEOUT = 1.0
#: Every wait in these tests gives up after this long, so a server that hangs fails the test.
LIMIT = 8.0

APP = """
import sys
from pathlib import Path

from flask import Flask, Response, jsonify, request
from flask_sock import Sock

from speech_realtime.config import Settings
from speech_realtime.errors import SpeechError
from speech_realtime.web.server import serve

settings = Settings.from_mapping(
    {"SPEECH_CLIENT_TIMEOUT": sys.argv[1], "SPEECH_MAX_SESSIONS": "4", "SPEECH_MAX_WEBSOCKETS": sys.argv[2]}
)
closed = Path(sys.argv[3])
app = Flask(__name__)
sock = Sock(app)


@app.errorhandler(SpeechError)
def speech_error(exc):
    return jsonify({"error": {"code": exc.code, "message": exc.message}}), exc.status


@app.get("/ping")
def ping():
    return {"ok": True}


@app.post("/upload")
def upload():
    return {"bytes": len(request.get_data())}


class Endless:
    def __iter__(self):
        while True:
            yield b"x" * 65536

    def close(self):
        closed.write_text("closed")


@app.get("/big")
def big():
    return b"b" * (8 * 1024 * 1024)


@app.get("/endless")
def endless():
    return Response(Endless(), mimetype="application/octet-stream")


@sock.route("/ws")
def echo(ws):
    while True:
        ws.send(ws.receive())


@sock.route("/ws-frames")
def frames(ws):
    ws.send(bytes(range(256)) * 4096)  # 1 MiB: a slow reader takes it in over many send timeouts
    ws.send(b"end")


@sock.route("/ws-flood")
def flood(ws):
    try:
        while True:
            ws.send(b"x" * 65536)
    finally:
        closed.write_text("closed")


serve(app, settings, host="127.0.0.1", port=0)
"""


@dataclass
class Server:
    port: int
    closed: Path
    home: Path
    log: list[str]

    def connect(self, rcvbuf: int | None = None) -> socket.socket:
        conn = socket.socket()
        if rcvbuf:
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        conn.settimeout(LIMIT)
        conn.connect(("127.0.0.1", self.port))
        return conn

    def ping(self) -> dict:
        """GET /ping on a fresh connection, within :data:`LIMIT`."""
        with self.connect() as conn:
            conn.sendall(b"GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            status, _, body = read_response(conn)
        assert status == 200
        return json.loads(body)


def read_response(conn: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of one ``Connection: close`` answer."""
    data = b""
    while chunk := conn.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, body


def start_server(tmp_path: Path, max_websockets: int = 4) -> Iterator[Server]:
    script = tmp_path / "app.py"
    script.write_text(APP)
    home = tmp_path / "home"
    home.mkdir()
    env = clean_environ()
    env.pop("XDG_RUNTIME_DIR", None)
    env.update(HOME=str(home), PYTHONPATH=str(ROOT))
    closed = tmp_path / "closed"
    started = launch(
        [sys.executable, str(script), str(CLIENT_TIMEOUT), str(max_websockets), str(closed)], env
    )
    try:
        yield Server(started.port, closed, home, started.log)
    finally:
        started.stop()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    yield from start_server(tmp_path)


# -- configuration (no processes) ----------------------------------------------------------------


def test_the_thread_budget_covers_every_session_and_websocket_plus_headroom() -> None:
    settings = Settings.from_mapping({"SPEECH_MAX_SESSIONS": "32", "SPEECH_MAX_WEBSOCKETS": "64"})
    assert thread_budget(settings) == 32 + 64 + 8
    options = server_options(settings, host="127.0.0.1", port=0)
    assert options["threads"] == thread_budget(settings)
    assert SpeechServer(lambda *_: [], options, settings).cfg.worker_class is SpeechWorker
    assert server_options(settings, host="127.0.0.1", port=0, threads=3)["threads"] == 3


def test_no_instance_has_a_control_socket_another_could_delete() -> None:
    options = server_options(Settings(), host="127.0.0.1", port=0)
    assert options["control_socket_disable"] is True


def test_gunicorn_level_answers_are_json_and_close_the_connection() -> None:
    raw = error_bytes(431, "headers_too_large", "too many headers", {"Retry-After": "1"})
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
    assert b"Content-Type: application/json" in head
    assert b"Connection: close" in head
    assert b"Retry-After: 1" in head
    assert json.loads(body) == {"error": {"code": "headers_too_large", "message": "too many headers"}}


# -- the server under slow, idle and stalled clients ----------------------------------------------

pytestmark_subprocess = pytest.mark.subprocess


@pytestmark_subprocess
def test_idle_connections_cost_no_thread(server: Server) -> None:
    idle = [server.connect() for _ in range(50)]  # far more than the 18 threads
    try:
        started = time.monotonic()
        assert server.ping() == {"ok": True}
        assert time.monotonic() - started < CLIENT_TIMEOUT
    finally:
        for conn in idle:
            conn.close()


@pytestmark_subprocess
def test_a_connection_that_sends_nothing_is_closed_after_the_client_timeout(server: Server) -> None:
    with server.connect() as conn:
        started = time.monotonic()
        assert conn.recv(1) == b""
        assert CLIENT_TIMEOUT * 0.8 < time.monotonic() - started < LIMIT


def trickle(conn: socket.socket, data: bytes, stop: threading.Event) -> threading.Thread:
    """Send ``data`` one byte every 0.1 s from a thread (a client on a very slow link)."""

    def run() -> None:
        for byte in data:
            if stop.wait(0.1):
                return
            try:
                conn.send(bytes([byte]))
            except OSError:
                return

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@pytestmark_subprocess
def test_headers_sent_too_slowly_are_answered_408_json(server: Server) -> None:
    stop = threading.Event()
    with server.connect() as conn:
        trickle(conn, b"GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 200 + b"\r\n\r\n", stop)
        try:
            status, headers, body = read_response(conn)
        finally:
            stop.set()
    assert status == 408
    assert headers["content-type"] == "application/json"
    assert json.loads(body)["error"]["code"] == "request_timeout"


@pytestmark_subprocess
def test_a_body_sent_too_slowly_is_answered_408_json_by_the_app(server: Server) -> None:
    stop = threading.Event()
    with server.connect() as conn:
        conn.sendall(b"POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n")
        trickle(conn, b"b" * 1000, stop)
        try:
            status, _, body = read_response(conn)
        finally:
            stop.set()
    assert status == 408
    assert json.loads(body)["error"] == {
        "code": "request_timeout",
        "message": f"the request did not arrive in time (client timeout {CLIENT_TIMEOUT:g} s)",
    }


@pytestmark_subprocess
def test_a_large_upload_that_stalls_is_answered_408_after_the_client_timeout(server: Server) -> None:
    with server.connect() as conn:
        # 1 MiB earns 16 s beyond the client timeout, but a stall may last only the timeout
        conn.sendall(b"POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 67108864\r\n\r\n")
        conn.sendall(b"b" * (1024 * 1024))
        status, _, body = read_response(conn)
    assert status == 408
    assert json.loads(body)["error"]["code"] == "request_timeout"


@pytestmark_subprocess
def test_a_body_at_a_normal_rate_is_read_in_full(server: Server) -> None:
    body = b"b" * (4 * 1024 * 1024)
    with server.connect() as conn:
        conn.sendall(
            b"POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        status, _, answer = read_response(conn)
    assert status == 200
    assert json.loads(answer) == {"bytes": len(body)}


@pytestmark_subprocess
def test_a_reader_that_stalls_is_dropped_and_its_response_closed(server: Server) -> None:
    with server.connect(rcvbuf=4096) as conn:
        conn.sendall(b"GET /endless HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        deadline = time.monotonic() + LIMIT
        while not server.closed.exists() and time.monotonic() < deadline:
            threading.Event().wait(0.05)
        assert server.closed.exists(), "the response iterable was never closed"
        assert server.ping() == {"ok": True}


@pytestmark_subprocess
def test_a_slow_but_steady_reader_gets_the_whole_answer(server: Server) -> None:
    received = 0
    with server.connect(rcvbuf=65536) as conn:
        conn.sendall(b"GET /big HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        started = time.monotonic()
        pace = threading.Event()
        while chunk := conn.recv(65536):
            received += len(chunk)
            pace.wait(0.01)  # a client on a slow link: about 5 MB/s at most
    assert received > 8 * 1024 * 1024
    assert time.monotonic() - started > CLIENT_TIMEOUT


@pytestmark_subprocess
@pytest.mark.parametrize(
    ("request_head", "status"),
    [
        (b"NOT A REQUEST\r\n\r\n", 400),
        (b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
        (b"GET /ping HTTP/1.1\r\nHost: x\r\n" + b"X-Big: " + b"a" * 9000 + b"\r\n\r\n", 431),
        (b"GET /ping HTTP/1.1\r\n" + b"".join(b"X-%d: a\r\n" % i for i in range(120)) + b"\r\n", 431),
    ],
    ids=["bad-request-line", "uri-too-long", "header-too-large", "too-many-headers"],
)
def test_gunicorns_own_errors_are_json(server: Server, request_head: bytes, status: int) -> None:
    with server.connect() as conn:
        conn.sendall(request_head)
        answer_status, headers, body = read_response(conn)
    assert answer_status == status
    assert headers["content-type"] == "application/json"
    error = json.loads(body)["error"]
    assert set(error) == {"code", "message"}
    assert "<html>" not in error["message"]


@pytestmark_subprocess
def test_a_websocket_client_that_stops_reading_is_given_up_on(server: Server) -> None:
    stalled = websocket.WebSocket()
    stalled.sock_opt.sockopt = ((socket.SOL_SOCKET, socket.SO_RCVBUF, 4096),)
    stalled.connect(f"ws://127.0.0.1:{server.port}/ws-flood", timeout=LIMIT)
    try:
        deadline = time.monotonic() + LIMIT
        while not server.closed.exists() and time.monotonic() < deadline:
            threading.Event().wait(0.05)
        assert server.closed.exists(), "the server still waits to send to a client that stopped reading"
        assert server.ping() == {"ok": True}  # the log is written by now
        stalls = [line for line in server.log if "read nothing" in line]
        assert len(stalls) == 1 and "/ws-flood" in stalls[0], server.log
        assert not [line for line in server.log if "Traceback" in line or "ERROR" in line], server.log
    finally:
        stalled.shutdown()


def websocket_messages(data: bytes) -> list[bytes]:
    """The payloads of the unmasked frames a server sent; fails on a frame that is cut short."""
    messages = []
    while data:
        length, start = data[1] & 0x7F, 2
        if length == 126:
            (length,), start = struct.unpack(">H", data[2:4]), 4
        elif length == 127:
            (length,), start = struct.unpack(">Q", data[2:10]), 10
        assert len(data) >= start + length, "a frame was cut short"
        messages.append(data[start : start + length])
        data = data[start + length :]
    return messages


@pytestmark_subprocess
def test_a_slow_websocket_reader_gets_every_frame_whole(server: Server) -> None:
    with server.connect(rcvbuf=4096) as conn:
        key = base64.b64encode(bytes(16)).decode()
        conn.sendall(
            f"GET /ws-frames HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        data = b""
        pace = threading.Event()
        while chunk := conn.recv(16384):  # about 400 KB/s in bursts: slow, never stopped
            data += chunk
            if len(data) % 65536 < len(chunk):
                pace.wait(0.15)
    head, _, frames = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101")
    messages = websocket_messages(frames)
    assert messages[0] == bytes(range(256)) * 4096 and messages[1] == b"end"


@pytestmark_subprocess
def test_no_control_socket_is_created_under_home(server: Server) -> None:
    server.ping()
    assert not (server.home / ".gunicorn").exists()


@pytestmark_subprocess
def test_64_idle_websockets_leave_rest_answering_and_the_next_upgrade_gets_503(tmp_path: Path) -> None:
    for server in start_server(tmp_path, max_websockets=64):
        sockets = [
            websocket.create_connection(f"ws://127.0.0.1:{server.port}/ws", timeout=LIMIT) for _ in range(64)
        ]
        try:
            assert server.ping() == {"ok": True}
            sockets[-1].send("still here")
            assert sockets[-1].recv() == "still here"
            with pytest.raises(websocket.WebSocketBadStatusException) as refused:
                websocket.create_connection(f"ws://127.0.0.1:{server.port}/ws", timeout=LIMIT)
            assert refused.value.status_code == 503
            assert json.loads(refused.value.resp_body)["error"]["code"] == "saturated"
            sockets.pop().close()
            replacement = websocket.create_connection(f"ws://127.0.0.1:{server.port}/ws", timeout=LIMIT)
            replacement.send("hi")
            assert replacement.recv() == "hi"
            sockets.append(replacement)
        finally:
            for ws in sockets:
                ws.close()


def test_a_signal_before_the_worker_has_its_app_is_harmless() -> None:
    """SIGTERM may reach a worker still booting (signal handlers are set before the app is
    loaded): the drain's shutdown signal must not fail there."""
    worker = SpeechWorker.__new__(SpeechWorker)
    worker._signal_shutdown()  # no app yet: nothing to tell, and no AttributeError
