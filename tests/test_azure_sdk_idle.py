"""Idle Azure SDK sockets: closed after the idle limit as the drain closes them, pinged while open,
and a client that vanished (no FIN, no pong) detected and its slot released."""

from __future__ import annotations

import dataclasses
import socket
import struct
import time
from collections.abc import Iterator

import numpy as np
import pytest
import websocket
from azure_sdk_fixtures import CLIENT_TIMEOUT, quiet, serve_ws, tone, wav_bytes, within
from conftest import API_KEY
from serve_process import SERVE, clean_environ, launch
from test_azure_sdk_socket import RID, connect, messages_until_turn_end, start_synthesis

from speech_realtime.config import Settings
from speech_realtime.usp.frames import parse, text_frame
from speech_realtime.web import create_app

IDLE = 0.5
RECOGNITION = "/speech/recognition/conversation/cognitiveservices/v1?language=en-US"
SYNTHESIS = "/cognitiveservices/websocket/v1"


def app_host(settings: Settings, **changes: float) -> Iterator[str]:
    changes.setdefault("client_timeout", CLIENT_TIMEOUT)
    yield from serve_ws(create_app(dataclasses.replace(settings, **changes)))


@pytest.fixture
def idle_host(settings: Settings) -> Iterator[str]:
    """The app with a short idle limit (pings far apart)."""
    yield from app_host(settings, sdk_idle_timeout=IDLE, sdk_ping_interval=60.0)


@pytest.fixture
def ping_host(settings: Settings) -> Iterator[str]:
    """The app pinging every 0.2 s (the idle limit far away)."""
    yield from app_host(settings, sdk_idle_timeout=60.0, sdk_ping_interval=0.2)


def close_frame(ws: websocket.WebSocket) -> tuple[int, str]:
    while True:
        opcode, data = ws.recv_data(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            return struct.unpack(">H", data[:2])[0], data[2:].decode()


def test_an_idle_recognition_socket_closes_1000_after_the_idle_limit(idle_host, upstream):
    ws = connect(idle_host, RECOGNITION)
    started = time.monotonic()
    code, reason = close_frame(ws)
    assert code == 1000 and "idle" in reason
    assert IDLE <= time.monotonic() - started < IDLE + 5
    assert upstream.connections == 0


def test_an_idle_synthesis_socket_closes_4000_counted_from_the_end_of_its_turn(idle_host, upstream):
    upstream.reset(chunk_delay=0.3)  # the turn outlasts the idle limit: it is not idle meanwhile
    ws = start_synthesis(idle_host)
    assert messages_until_turn_end(ws)[-1].path == "turn.end"
    ended = time.monotonic()
    code, reason = close_frame(ws)
    assert code == 4000 and "idle" in reason
    assert IDLE - 0.1 <= time.monotonic() - ended < IDLE + 5  # timed from the server's turn.end


def test_client_frames_keep_a_socket_open(idle_host, upstream):
    ws = connect(idle_host, SYNTHESIS)
    for _ in range(4):  # 0.8 s in all, each frame well within the limit
        ws.send(text_frame("speech.config", RID, {"context": {"system": {"name": "test"}}}))
        time.sleep(0.2)
    ws.send(text_frame("ssml", RID, "<speak version='1.0'>hi</speak>", "application/ssml+xml"))
    assert parse(ws.recv()).path == "turn.start"
    ws.close()


def test_an_open_socket_is_pinged(ping_host, upstream):
    ws = connect(ping_host, SYNTHESIS)
    opcode, _ = ws.recv_data(control_frame=True)
    assert opcode == websocket.ABNF.OPCODE_PING
    ws.pong(b"")
    opcode, _ = ws.recv_data(control_frame=True)
    assert opcode == websocket.ABNF.OPCODE_PING  # answered: the socket stays open
    ws.close()


def upgrade_and_vanish(address: str, path: str) -> socket.socket:
    """A client that upgrades, then neither reads nor writes again: a peer gone without FIN."""
    host, _, port = address.rpartition(":")
    raw = socket.create_connection((host, int(port)), timeout=10)
    raw.sendall(
        f"GET {path} HTTP/1.1\r\nHost: {address}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += raw.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return raw


def raw_frames(raw: socket.socket) -> Iterator[tuple[int, bytes]]:
    """The server's frames (opcode, payload) as a raw socket reads them (short, unmasked)."""
    while True:
        head = raw.recv(2, socket.MSG_WAITALL)
        if len(head) < 2:
            return
        size = head[1] & 0x7F
        yield head[0] & 0x0F, raw.recv(size, socket.MSG_WAITALL) if size else b""


def test_a_client_that_answers_no_ping_is_closed(ping_host, upstream):
    raw = upgrade_and_vanish(ping_host.removeprefix("ws://"), RECOGNITION)
    started = time.monotonic()
    opcodes = []
    for opcode, payload in raw_frames(raw):
        opcodes.append(opcode)
        if opcode == 0x8:
            assert struct.unpack(">H", payload[:2])[0] == 1000 and b"ping" in payload
            break
    assert opcodes == [0x9, 0x8]  # one ping, unanswered, then the close
    assert time.monotonic() - started < 5
    raw.close()


@pytest.fixture
def one_socket_server(upstream) -> Iterator[str]:
    """``speech-realtime serve`` allowing one WebSocket, pinging every 0.3 s: its address."""
    env = clean_environ()
    env.update(
        {
            "AZURE_OPENAI_ENDPOINT": upstream.url,
            "AZURE_OPENAI_KEY": API_KEY,
            "AZURE_OPENAI_REALTIME_DEPLOYMENT": "gpt-realtime-test",
            "SPEECH_MAX_WEBSOCKETS": "1",
            "SPEECH_SDK_PING_INTERVAL": "0.3",
        }
    )
    started = launch(SERVE, env)
    try:
        yield started.address
    finally:
        print("".join(started.log))  # shown when the test fails
        started.stop()


@pytest.mark.subprocess
def test_a_vanished_client_is_detected_and_its_slot_released(one_socket_server, upstream):
    gone = upgrade_and_vanish(one_socket_server, SYNTHESIS)
    try:
        with pytest.raises(websocket.WebSocketBadStatusException) as refused:
            connect(f"ws://{one_socket_server}", SYNTHESIS)  # the one slot is held
        assert refused.value.status_code == 503
        deadline = time.monotonic() + 10
        while True:  # no pong by the next ping (0.3 s after the first): closed, slot freed
            try:
                ws = connect(f"ws://{one_socket_server}", SYNTHESIS)
                break
            except websocket.WebSocketBadStatusException:
                assert time.monotonic() < deadline, "the vanished client's slot was never released"
                time.sleep(0.1)
        ws.send(text_frame("ssml", RID, "<speak version='1.0'>hi</speak>", "application/ssml+xml"))
        assert parse(ws.recv()).path == "turn.start"
        ws.close()
    finally:
        gone.close()


# -- the official SDK ------------------------------------------------------------------------------


def wait_for_log(caplog, text: str, limit: float = 10.0) -> None:
    deadline = time.monotonic() + limit
    while text not in caplog.text:
        assert time.monotonic() < deadline, f"never logged: {text}"
        time.sleep(0.05)


@pytest.mark.sdk
def test_the_sdk_synthesizes_and_recognizes_again_after_its_sockets_were_idle_closed(
    idle_host, upstream, caplog
):
    speechsdk = pytest.importorskip("azure.cognitiveservices.speech")
    reason = speechsdk.ResultReason
    caplog.set_level("INFO", logger="speech_realtime.web")
    config = speechsdk.SpeechConfig(host=idle_host)
    config.speech_recognition_language = "en-US"
    synthesizer = speechsdk.SpeechSynthesizer(config, audio_config=None)
    stream = speechsdk.audio.PushAudioInputStream()
    recognizer = speechsdk.SpeechRecognizer(config, audio_config=speechsdk.audio.AudioConfig(stream=stream))
    utterance = wav_bytes(np.concatenate([quiet(0.3), tone(0.5), quiet(1.0)]))[44:]
    for round_ in range(2):
        result = within(lambda: synthesizer.speak_text_async("hello there").get())
        assert result.reason == reason.SynthesizingAudioCompleted, round_
        stream.write(utterance)
        heard = within(recognizer.recognize_once_async().get)
        assert heard.reason == reason.RecognizedSpeech, (round_, heard.cancellation_details)
        wait_for_log(caplog, "closing 4000: idle")
        wait_for_log(caplog, "closing 1000: idle")
        caplog.clear()
    stream.close()


@pytest.mark.sdk
def test_the_sdk_answers_pings(ping_host, upstream, caplog):
    speechsdk = pytest.importorskip("azure.cognitiveservices.speech")
    caplog.set_level("DEBUG", logger="speech_realtime.web")
    synthesizer = speechsdk.SpeechSynthesizer(speechsdk.SpeechConfig(host=ping_host), audio_config=None)
    result = within(lambda: synthesizer.speak_text_async("hello there").get())
    assert result.reason == speechsdk.ResultReason.SynthesizingAudioCompleted
    caplog.clear()
    deadline = time.monotonic() + 10
    while caplog.text.count("azure sdk: ping sent") < 4:  # each one answered before the next
        assert time.monotonic() < deadline and "client is gone" not in caplog.text, caplog.text
        time.sleep(0.05)
    result = within(lambda: synthesizer.speak_text_async("hello again").get())
    assert result.reason == speechsdk.ResultReason.SynthesizingAudioCompleted
    assert "closing" not in caplog.text  # the same socket all along
