"""The USP route with a raw WebSocket client: framing errors, request-id echo, idle sockets."""

from __future__ import annotations

import json
import logging
import struct
import time
from types import SimpleNamespace

import pytest
import websocket
from azure_sdk_fixtures import tone, wav_bytes
from flask_sock import ConnectionClosed

from speech_realtime.audio.output import AZURE_OUTPUT_FORMATS
from speech_realtime.options import Phrase
from speech_realtime.speech import SpeechService
from speech_realtime.usp.frames import binary_frame, parse, text_frame
from speech_realtime.usp.recognition import Mode, RecognitionMachine
from speech_realtime.web import sdk_setup, sdk_sockets
from speech_realtime.web.socket_loop import SocketLimits

RID = "0123456789ABCDEF0123456789abcdef"  # mixed case: echoed byte for byte
RECEIVE_LIMIT = 10.0


def connect(host: str, path: str) -> websocket.WebSocket:
    return websocket.create_connection(host + path, timeout=RECEIVE_LIMIT)


def wav_header() -> bytes:
    fmt = struct.pack("<HHIIHH", 1, 1, 16000, 32000, 2, 16)
    return b"RIFF\0\0\0\0WAVEfmt " + struct.pack("<I", 16) + fmt + b"data\0\0\0\0"


def messages_until_turn_end(ws: websocket.WebSocket) -> list:
    out = []
    while not out or out[-1].path != "turn.end":
        out.append(parse(ws.recv()))
    return out


def test_recognition_turn_echoes_the_request_id(sdk_host, upstream):
    ws = connect(
        sdk_host, "/speech/recognition/conversation/cognitiveservices/v1?language=en-US&format=detailed"
    )
    ws.send(text_frame("speech.context", RID, {"phraseDetection": {"mode": "CONVERSATION"}}))
    ws.send_binary(binary_frame("audio", RID, wav_header() + wav_bytes(tone(0.5))[44:], {"X-StreamId": "1"}))
    ws.send_binary(binary_frame("audio", RID, b"", {"X-StreamId": "1"}))
    messages = messages_until_turn_end(ws)
    assert messages[0].path == "turn.start"
    assert "speech.phrase" in [m.path for m in messages]
    for message in messages:
        head = ws_head(message)
        assert f"X-RequestId:{RID}" in head and head.startswith("Path:")
    phrase = next(m for m in messages if m.path == "speech.phrase").json()
    assert phrase["NBest"][0]["Display"] == "hello from the scripted server", phrase
    ws.close()


def ws_head(message) -> str:
    return "\r\n".join(f"{name}:{value}" for name, value in message.headers.items())


@pytest.mark.parametrize("frame", [b"\x00", b"\x00\x05Path:", "no headers at all"])
def test_malformed_frames_close_1007(sdk_host, upstream, frame):
    ws = connect(sdk_host, "/cognitiveservices/websocket/v1")
    (ws.send_binary if isinstance(frame, bytes) else ws.send)(frame)
    opcode, data = ws.recv_data(control_frame=True)
    assert opcode == websocket.ABNF.OPCODE_CLOSE
    assert struct.unpack(">H", data[:2])[0] == 1007 and data[2:]
    assert upstream.connections == 0


@pytest.mark.parametrize(
    "frame",
    [
        f"Path: audio\r\nX-RequestId: {RID}\r\n\r\nnot audio",
        binary_frame(
            "audio", RID, wav_header()[:22] + b"\0\0" + wav_header()[24:] + bytes(3200)
        ),  # 0 channels
        binary_frame("audio", RID, wav_header()[:16] + struct.pack("<I", 4000) + wav_header()[20:]),
        f"Path: speech.config\r\nX-RequestId: {RID}\r\n\r\n" + json.dumps({"context": "x"}),
        f"Path: speech.context\r\nX-RequestId: {RID}\r\n\r\n" + '{"a":' * 1000 + "1" + "}" * 1000,
    ],
    ids=["audio-in-text", "wav-0-channels", "wav-fmt-past-frame", "config-not-object", "context-nested"],
)
def test_invalid_recognition_input_closes_1007_before_any_session_and_logs_info(
    sdk_host, upstream, frame, caplog
):
    caplog.set_level(logging.INFO, logger="speech_realtime")
    ws = connect(sdk_host, "/speech/recognition/conversation/cognitiveservices/v1")
    (ws.send_binary if isinstance(frame, bytes) else ws.send)(frame)
    opcode, data = ws.recv_data(control_frame=True)
    assert opcode == websocket.ABNF.OPCODE_CLOSE and struct.unpack(">H", data[:2])[0] == 1007, data
    assert upstream.connections == 0
    records = [r for r in caplog.records if r.name.startswith("speech_realtime")]
    assert records and all(r.levelno == logging.INFO and r.exc_info is None for r in records)


def test_idle_socket_holds_no_upstream_session(sdk_host, upstream):
    ws = connect(sdk_host, "/tts/cognitiveservices/websocket/v1")
    ws.send(text_frame("speech.config", RID, {"context": {"system": {"name": "test"}}}))
    body = {"synthesis": {"audio": {"outputFormat": "raw-16khz-16bit-mono-pcm", "metadataOptions": {}}}}
    ws.send(text_frame("synthesis.context", RID, body))
    ws.ping()
    assert upstream.connections == 0
    ssml = "<speak version='1.0' xml:lang='en-US'><voice name='coral'>hello</voice></speak>"
    ws.send(text_frame("ssml", RID, ssml, "application/ssml+xml"))
    paths = []
    while "turn.end" not in paths:
        frame = ws.recv()
        paths.append(parse(frame).path)
        if paths[-1] == "response":
            assert json.loads(parse(frame).body)["audio"]["type"] == "inline"
    assert paths[:2] == ["turn.start", "response"] and "audio" in paths
    assert upstream.connections == 1
    ws.close()


MAGIC = {"audio": (b"ID3", b"\xff"), "ogg": (b"OggS",), "webm": (b"\x1a\x45\xdf\xa3",)}


def test_every_azure_output_format_on_one_socket(sdk_host, upstream):
    """Each format the audio layer produces, one synthesis after another on the same socket."""
    ws = connect(sdk_host, "/cognitiveservices/websocket/v1")
    ssml = "<speak version='1.0' xml:lang='en-US'><voice name='en-US-AriaNeural'>hello</voice></speak>"
    for index, name in enumerate(AZURE_OUTPUT_FORMATS):
        rid = f"{index:032x}"
        body = {"synthesis": {"audio": {"outputFormat": name, "metadataOptions": {}}}}
        ws.send(text_frame("synthesis.context", rid, body))
        ws.send(text_frame("ssml", rid, ssml, "application/ssml+xml"))
        audio = bytearray()
        while True:
            message = parse(ws.recv())
            assert message.request_id == rid
            if message.path == "turn.end":
                break
            if message.path == "audio":
                audio += message.body
        assert audio, name
        family = name.split("-")[0]
        if family in ("raw", "riff", "g722"):
            assert not audio.startswith(b"RIFF"), name  # the SDK writes RIFF headers itself
        else:
            assert audio.startswith(MAGIC[family]), name
    assert upstream.connections == len(AZURE_OUTPUT_FORMATS)
    ws.close()


@pytest.mark.parametrize(
    "path",
    [
        "/cognitiveservices/websocket/v1",
        "/tts/cognitiveservices/websocket/v1",
        "/speech/recognition/conversation/cognitiveservices/v1",
        "/speech/recognition/interactive/cognitiveservices/v1?language=en-US",
        "/speech/universal/v2",
        "/stt/speech/universal/v2",
    ],
)
def test_a_plain_get_on_an_sdk_path_is_an_azure_400_that_says_to_upgrade(client, upstream, path):
    answer = client.get(path)
    assert answer.status_code == 400 and answer.mimetype == "text/plain", answer.data
    assert b"WebSocket" in answer.data
    assert upstream.connections == 0


def close_code(ws: websocket.WebSocket) -> int:
    """The code of the close frame that ends the socket (other frames are skipped)."""
    while True:
        opcode, data = ws.recv_data(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            return struct.unpack(">H", data[:2])[0]


def start_synthesis(host: str) -> websocket.WebSocket:
    """A synthesis socket that has sent its SSML ("hello there", one voice)."""
    ws = connect(host, "/cognitiveservices/websocket/v1")
    ssml = "<speak version='1.0' xml:lang='en-US'><voice name='coral'>hello there</voice></speak>"
    ws.send(text_frame("ssml", RID, ssml, "application/ssml+xml"))
    return ws


def sdk_warnings(caplog) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("speech_realtime.web") and r.levelno >= logging.WARNING
    ]


def test_an_upstream_failure_mid_synthesis_is_one_warning(sdk_host, upstream, caplog):
    caplog.set_level(logging.INFO, logger="speech_realtime.web")
    upstream.reset(mode="close_before_done")
    ws = start_synthesis(sdk_host)
    assert close_code(ws) == 1011
    assert len(sdk_warnings(caplog)) == 1, caplog.text


def test_an_upstream_failure_mid_recognition_is_one_warning(sdk_host, upstream, caplog):
    caplog.set_level(logging.INFO, logger="speech_realtime.web")
    upstream.reset(mode="error_event")
    ws = connect(sdk_host, "/speech/recognition/interactive/cognitiveservices/v1?language=en-US")
    ws.send_binary(binary_frame("audio", RID, wav_header() + wav_bytes(tone(0.5))[44:], {"X-StreamId": "1"}))
    ws.send_binary(binary_frame("audio", RID, b"", {"X-StreamId": "1"}))
    messages = messages_until_turn_end(ws)
    assert json.loads(messages[-2].body)["RecognitionStatus"] == "Error"
    assert len(sdk_warnings(caplog)) == 1, caplog.text
    ws.close()


def test_a_client_hanging_up_mid_turn_is_not_a_warning(sdk_host, upstream, caplog):
    caplog.set_level(logging.INFO, logger="speech_realtime.web")
    upstream.reset(chunk_delay=1.0)
    ws = start_synthesis(sdk_host)
    assert parse(ws.recv()).path == "turn.start"
    ws.close()
    deadline = time.monotonic() + RECEIVE_LIMIT
    while "client closed the socket" not in caplog.text and time.monotonic() < deadline:
        time.sleep(0.02)
    assert "client closed the socket" in caplog.text
    assert sdk_warnings(caplog) == []


def test_a_stalled_upstream_mid_synthesis_is_one_warning(sdk_host, upstream, caplog):
    caplog.set_level(logging.INFO, logger="speech_realtime.web")
    upstream.reset(chunk_delay=30.0)
    ws = start_synthesis(sdk_host)
    assert close_code(ws) == 1011
    assert len(sdk_warnings(caplog)) == 1, caplog.text


def test_a_bug_in_the_synthesis_job_closes_1011_instead_of_hanging(sdk_host, upstream, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(SpeechService, "synthesize_events", broken)
    ws = start_synthesis(sdk_host)
    assert close_code(ws) == 1011


def test_a_bug_while_opening_a_recognition_closes_1011_instead_of_hanging(sdk_host, upstream, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(SpeechService, "recognition_stream", broken)
    ws = connect(sdk_host, "/speech/recognition/interactive/cognitiveservices/v1?language=en-US")
    ws.send_binary(binary_frame("audio", RID, wav_header() + bytes(3200), {"X-StreamId": "1"}))
    assert close_code(ws) == 1011


class _ScriptedWs:
    """A client that sends ``frames``, then is gone (a :class:`~speech_realtime.web.socket_loop.Wire`)."""

    def __init__(self, frames: list) -> None:
        self.frames = list(frames)
        self.sent: list = []

    def receive(self):
        if not self.frames:
            raise ConnectionClosed()
        return self.frames.pop(0)

    def send(self, frame) -> None:
        self.sent.append(frame)

    def close(self, code: int, reason: str) -> None:
        self.sent.append(("close", code))

    def ping(self) -> bool:
        return True

    def release(self, *, abort: bool) -> None:
        pass


class _ScriptedStream:
    def __init__(self, events: list) -> None:
        self.events = list(events)
        self.closed = False

    def poll(self, timeout: float):
        return self.events.pop(0) if self.events else None

    def push(self, pcm: bytes) -> None:
        pass

    def finish(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


def test_a_new_turn_never_gets_the_events_of_the_stream_it_replaces():
    """The old turn's pending phrase goes out under the old request id, before the new turn opens."""
    streams = [_ScriptedStream([]), _ScriptedStream([])]
    service = SimpleNamespace(recognition_stream=lambda *args, **kwargs: streams.pop(0))
    first = binary_frame("audio", RID, wav_header() + bytes(3200), {"X-StreamId": "1"})
    other = "f" * 32
    second = binary_frame("audio", other, wav_header() + bytes(3200), {"X-StreamId": "1"})
    old = streams[0]
    ws = _ScriptedWs([first, second])
    machine = RecognitionMachine(Mode.CONVERSATION, {})

    socket = sdk_sockets.RecognitionSocket(ws, machine, service, SocketLimits(10.0, 300.0, 10.0))
    real_receive = ws.receive

    def receive():
        frame = real_receive()
        if frame is second:
            old.events.append(Phrase("from the old turn", 0.0, 0.2))
        return frame

    ws.receive = receive
    socket.run()
    phrases = [parse(f) for f in ws.sent if isinstance(f, str) and parse(f).path == "speech.phrase"]
    texts = [(p.request_id, json.loads(p.body)["DisplayText"]) for p in phrases]
    assert texts == [(RID, "from the old turn")]
    assert old.closed


def test_a_frame_over_the_limit_closes_1009_without_buffering_it(sdk_host, upstream):
    ws = connect(sdk_host, "/speech/recognition/conversation/cognitiveservices/v1")
    ws.send_binary(binary_frame("audio", RID, bytes(sdk_setup.MAX_FRAME_BYTES + 1), {"X-StreamId": "1"}))
    assert close_code(ws) == 1009
    assert upstream.connections == 0
