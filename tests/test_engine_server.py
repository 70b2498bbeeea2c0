"""The engine's WebSocket server on loopback, on fake models: paths, dialects, and clients that misbehave."""

from __future__ import annotations

import json
import logging
import socket
import threading

import pytest
import websocket
from engine_client import EngineConnection
from engine_fixtures import user_text, wait_until

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


def test_health(fake_engine) -> None:
    import urllib.request

    with urllib.request.urlopen(fake_engine.url + "/health", timeout=5) as answer:
        assert json.load(answer)["status"] == "ok"


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
