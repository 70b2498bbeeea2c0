"""The engine's WebSocket server on loopback, on fake models: paths, dialects, and clients that misbehave."""

from __future__ import annotations

import json
import logging
import socket
import threading
import urllib.error
import urllib.request

import pytest
import websocket
from engine_client import EngineConnection
from engine_fixtures import user_text, wait_until

from speech_realtime.engine.server import EngineServer

PATHS = [
    ("/v1/realtime?model=local-echo", "ga"),
    ("/openai/v1/realtime?model=gpt-realtime", "ga"),
    ("/openai/realtime?api-version=2025-04-01-preview&deployment=gpt-4o-realtime-preview", "preview"),
]


def session_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("engine-sess_")]


@pytest.mark.parametrize(("path", "dialect"), PATHS)
def test_session_created_on_every_path_shape(fake_engine, path: str, dialect: str) -> None:
    with EngineConnection(fake_engine.url, path, dialect=dialect) as conn:
        session = conn.created["session"]
        assert session["id"].startswith("sess_")
        assert session["turn_detection" if dialect == "preview" else "audio"]


def test_openai_beta_header_selects_the_preview_dialect(fake_engine) -> None:
    ws = websocket.create_connection(
        fake_engine.url.replace("http", "ws") + PATHS[0][0], header={"OpenAI-Beta": "realtime=v1"}, timeout=5
    )
    try:
        ws.send('{"type": "session.update", "session": {"modalities": ["text"]}}')
        assert json.loads(ws.recv())["type"] == "session.created"
        assert json.loads(ws.recv())["type"] == "session.updated"
    finally:
        ws.close()


@pytest.mark.parametrize(
    "message",
    [b"\x00\xff binary", "[]", '{"type": "session.update", "session": {"audio": {"input": 5}}}'],
    ids=["binary", "array", "wrong-type"],
)
def test_a_bad_message_gets_an_error_and_the_socket_stays_open(fake_engine, message) -> None:
    with EngineConnection(fake_engine.url) as conn:
        if isinstance(message, bytes):
            conn.ws.send_binary(message)
        else:
            conn.send_raw(message)
        assert conn.expect("error")["error"]["type"] == "invalid_request_error"
        conn.send("input_audio_buffer.clear")
        conn.expect("input_audio_buffer.cleared")


def test_a_response_streams_and_the_next_event_is_handled_while_it_runs(fake_engine, fake_models) -> None:
    fake_models.gate = threading.Event()
    with EngineConnection(fake_engine.url) as conn:
        conn.send("conversation.item.create", item=user_text("One. Two. Three."))
        conn.send("response.create")
        conn.until("response.output_audio.delta")
        conn.send("response.cancel")
        fake_models.gate.set()
        done = conn.until("response.done")[-1]["response"]
    assert done["status"] == "cancelled"


@pytest.mark.parametrize("leave", ["close", "reset"])
def test_a_client_that_goes_away_mid_response_cancels_it_quietly(
    fake_engine, fake_models, caplog, monkeypatch, leave: str
) -> None:
    crashes: list[object] = []
    monkeypatch.setattr(threading, "excepthook", crashes.append)
    fake_models.gate = threading.Event()
    before = set(threading.enumerate())
    conn = EngineConnection(fake_engine.url)
    conn.send("conversation.item.create", item=user_text("One. Two. Three. Four."))
    conn.send("response.create")
    conn.until("response.output_audio.delta")
    assert session_threads()
    if leave == "close":
        conn.close()
    else:  # no close frame: the TCP connection just ends
        conn.ws.sock.shutdown(socket.SHUT_RDWR)
        conn.ws.sock.close()
    fake_models.gate.set()  # the model finishes its sentence; the session finds the client gone
    assert wait_until(lambda: fake_engine.open_sessions == 0 and set(threading.enumerate()) <= before)
    assert fake_models.synthesis_closed == 1
    assert not crashes
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text


def test_health_and_readiness(fake_engine) -> None:
    with urllib.request.urlopen(fake_engine.url + "/health", timeout=5) as answer:
        assert json.load(answer)["status"] == "ok"
    with urllib.request.urlopen(fake_engine.url + "/ready", timeout=5) as answer:
        assert json.load(answer)["status"] == "ready"


def test_a_message_over_the_limit_closes_the_socket_and_ends_its_session(fake_models, monkeypatch) -> None:
    """simple-websocket wakes the reader before it marks the socket closed when it refuses an
    oversized message; a session waiting without a timeout would then wait forever."""
    from speech_realtime.engine import server

    monkeypatch.setattr(server, "MAX_MESSAGE_BYTES", 4096)
    engine = server.EngineServer(models=fake_models).start()
    try:
        conn = EngineConnection(engine.url)
        conn.send("input_audio_buffer.append", audio="A" * 8192)
        with pytest.raises(websocket.WebSocketException):  # a close frame, then the end
            while True:
                assert conn.ws.recv_data()[0] != websocket.ABNF.OPCODE_TEXT
        conn.ws.shutdown()
        assert wait_until(lambda: engine.open_sessions == 0 and not session_threads())
    finally:
        engine.stop()


def _close_code(conn: EngineConnection) -> int:
    """The status of the close frame the engine sent next (skipping any other frames)."""
    while True:
        opcode, frame = conn.ws.recv_data_frame(True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            return int.from_bytes(frame.data[:2], "big")


def test_a_drain_refuses_new_sessions_closes_silent_ones_and_lets_those_in_flight_finish(
    fake_models,
) -> None:
    server = EngineServer(models=fake_models).start()
    fake_models.gate = threading.Event()
    silent = EngineConnection(server.url)  # a pool's pre-connected session: said nothing yet
    talking = EngineConnection(server.url)
    talking.send("conversation.item.create", item=user_text("One. Two. Three."))
    talking.send("response.create")
    talking.until("response.output_audio.delta")
    drain = threading.Thread(target=server.drain, args=(30,))
    drain.start()
    try:
        assert _close_code(silent) == 1001
        with pytest.raises(urllib.error.HTTPError) as ready:
            urllib.request.urlopen(server.url + "/ready", timeout=5)
        assert ready.value.code == 503 and json.load(ready.value)["status"] == "draining"
        with urllib.request.urlopen(server.url + "/health", timeout=5) as health:  # alive: no restart
            assert json.load(health)["status"] == "draining"
        with pytest.raises(websocket.WebSocketBadStatusException) as refused:
            EngineConnection(server.url)
        assert refused.value.status_code == 503
        assert drain.is_alive()  # the response in flight goes on
        fake_models.gate.set()
        assert talking.until("response.done")[-1]["response"]["status"] == "completed"
    finally:
        fake_models.gate.set()
        talking.close()
        drain.join(timeout=5)
    assert not drain.is_alive()  # the last session closed: the drain ended long before its 30 s
