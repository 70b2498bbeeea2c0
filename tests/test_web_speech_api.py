"""The four endpoints end to end against the scripted Realtime server.

Tests where the two Realtime dialects differ on the wire run in both (``BOTH_DIALECTS``).
"""

from __future__ import annotations

import base64
import io
import time

import pytest
from conftest import API_KEY, PREVIEW_VERSION
from openai_types import validate_client_event
from realtime_server import audio_for

from speech_realtime.web import create_app

PCM_1S = bytes(48000)
NESTED_JSON = "[" * 100_000 + "]" * 100_000
BOTH_DIALECTS = pytest.mark.parametrize("dialect", ["ga", "preview"])


def recognize_body(audio: bytes = PCM_1S, **extra) -> dict:
    return {"audioData": base64.b64encode(audio).decode(), **extra}


@BOTH_DIALECTS
def test_recognize_returns_the_transcript(client, upstream, dialect) -> None:
    response = client.post("/api/speech-realtime/recognize", json=recognize_body())
    assert response.status_code == 200, response.json
    assert response.json["text"] == "hello from the scripted server"
    assert response.json["duration"] == 1.0
    assert [e["type"] for e in upstream.client_events()] == [
        "session.update",
        "input_audio_buffer.append",
        "input_audio_buffer.commit",
    ]
    assert base64.b64decode(upstream.client_events("input_audio_buffer.append")[0]["audio"]) == PCM_1S


@BOTH_DIALECTS
def test_recognize_g711_goes_upstream_as_g711(client, upstream, dialect) -> None:
    response = client.post(
        "/api/speech-realtime/recognize", json=recognize_body(bytes(8000), format="g711_ulaw")
    )
    assert response.status_code == 200, response.json
    session = upstream.client_events("session.update")[0]["session"]
    fmt = session["audio"]["input"]["format"] if dialect == "ga" else session["input_audio_format"]
    assert fmt in ({"type": "audio/pcmu"}, "g711_ulaw")


@BOTH_DIALECTS
def test_synthesize_returns_all_the_pcm(client, upstream, dialect) -> None:
    text = "Testing Azure OpenAI Realtime API"
    response = client.post("/api/speech-realtime/synthesize", json={"text": text, "voiceName": "alloy"})
    assert response.status_code == 200, response.json
    assert response.mimetype == "audio/pcm"
    assert response.data == b"".join(audio_for(text, 4, 2))
    assert response.headers["Content-Length"] == str(len(response.data))
    assert response.headers["X-Speech-Verbatim"] == "true"
    assert response.headers["X-Speech-Attempts"] == "1"
    types = [e["type"] for e in upstream.client_events()]
    assert types == ["session.update", "conversation.item.create", "response.create"]


@BOTH_DIALECTS
def test_azure_voice_names_map_to_real_voices(client, upstream, dialect) -> None:
    response = client.post(
        "/api/speech-realtime/synthesize", json={"text": "Hi there.", "voiceName": "en-US-AriaNeural"}
    )
    assert response.status_code == 200
    assert response.headers["X-Speech-Voice"] == "coral"
    session = upstream.client_events("session.update")[0]["session"]
    voice = session["audio"]["output"]["voice"] if dialect == "ga" else session["voice"]
    assert voice == "coral"


def test_synthesize_retries_once_when_the_model_answers(client, upstream) -> None:
    upstream.script.mode = "answer_once"
    text = "Please read this sentence exactly as it is written."
    response = client.post("/api/speech-realtime/synthesize", json={"text": text})
    assert response.status_code == 200
    assert response.headers["X-Speech-Attempts"] == "2"
    assert response.headers["X-Speech-Verbatim"] == "true"
    assert response.data == b"".join(audio_for(text, 4, 2))
    assert len(upstream.client_events("response.create")) == 2


def test_synthesize_reports_a_persistent_mismatch(client, upstream) -> None:
    upstream.script.mode = "answer_always"
    response = client.post("/api/speech-realtime/synthesize", json={"text": "Read only this sentence."})
    assert response.status_code == 200
    assert response.headers["X-Speech-Verbatim"] == "false"
    stats = client.get("/api/speech-realtime/info").json["stats"]
    assert stats == {"tts_retries": 1, "tts_mismatches": 1}


@BOTH_DIALECTS
def test_stream_returns_every_chunk(client, upstream, dialect) -> None:
    text = "Hello, world!"
    response = client.post("/api/speech-realtime/synthesize/stream", json={"text": text, "voiceName": "nova"})
    assert response.status_code == 200
    assert response.is_streamed
    assert response.data == b"".join(audio_for(text, 4, 2))


def test_g711_output_is_asked_of_the_upstream(client, upstream) -> None:
    response = client.post("/api/speech-realtime/synthesize", json={"text": "Hello.", "format": "alaw"})
    assert response.status_code == 200
    assert response.mimetype == "audio/x-alaw-basic"
    assert response.headers["X-Audio-Sample-Rate"] == "8000"
    assert response.data == b"".join(audio_for("Hello.", 4, 1))


@BOTH_DIALECTS
def test_every_client_event_validates_against_the_openai_union(client, upstream, dialect) -> None:
    client.post("/api/speech-realtime/recognize", json=recognize_body(language="en"))
    upstream.script.mode = "answer_once"
    client.post("/api/speech-realtime/synthesize", json={"text": "Validate every event we send."})
    client.post("/api/speech-realtime/synthesize/stream", json={"text": "And the stream too."})
    events = upstream.client_events()
    assert len(events) >= 10
    for event in events:
        validate_client_event(dialect, event)


@BOTH_DIALECTS
def test_handshake_carries_the_key_in_a_header_and_the_right_path(client, upstream, dialect) -> None:
    client.post("/api/speech-realtime/synthesize", json={"text": "Hi."})
    handshake = upstream.handshakes[0]
    assert handshake["Api-Key"] == API_KEY
    if dialect == "ga":
        assert handshake["path"] == "/openai/v1/realtime?model=gpt-realtime-test"
        assert "Openai-Beta" not in handshake
    else:
        assert (
            handshake["path"]
            == f"/openai/realtime?api-version={PREVIEW_VERSION}&deployment=gpt-realtime-test"
        )
        assert handshake["Openai-Beta"] == "realtime=v1"


@BOTH_DIALECTS
def test_info_describes_backend_and_real_voices(client, dialect) -> None:
    info = client.get("/api/speech-realtime/info").json
    assert info["service"] == "Azure OpenAI Realtime API"
    assert info["model"] == "gpt-realtime-test"
    assert info["backend"] == "azure"
    assert info["protocol"] == dialect
    assert info["features"] == {"stt": True, "tts": True, "streaming": True, "realtimeAudio": True}
    assert "marin" in info["voices"] if dialect == "ga" else "marin" not in info["voices"]
    assert not {"nova", "onyx", "fable"} & set(info["voices"])
    assert info["voiceAliases"]["JasonNeural"] == "verse"
    assert API_KEY not in str(info)


# -- upstream failures: each maps to its status within the deadline + 1 s ----------------------

FAILURES = [
    ({"handshake_status": 401}, 502, "upstream_auth"),
    ({"handshake_status": 403}, 502, "upstream_auth"),
    ({"handshake_status": 404}, 502, "upstream_config"),
    ({"handshake_status": 429, "retry_after": "7"}, 429, "rate_limited"),
    ({"handshake_status": 500}, 502, "upstream_error"),
    ({"mode": "error_event"}, 502, "upstream_error"),
    ({"mode": "rate_limit_event"}, 429, "rate_limited"),
    ({"mode": "close_before_done"}, 502, "upstream_error"),
    ({"mode": "silence"}, 504, "upstream_timeout"),
    ({"mode": "malformed"}, 502, "upstream_error"),
    ({"mode": "content_filter"}, 422, "content_filter"),
    ({"mode": "failed"}, 502, "upstream_error"),
]


def scripted_client(settings, script: dict):
    """A client, and its settings; a silent upstream gets a short deadline (the 504 is the point)."""
    if script.get("mode") == "silence":
        settings = settings.with_changes(request_timeout=0.5)
    return create_app(settings).test_client(), settings


@pytest.mark.parametrize(("script", "status", "code"), FAILURES)
def test_synthesize_failures_map_to_their_status(upstream, settings, script, status, code) -> None:
    client, settings = scripted_client(settings, script)
    upstream.reset(**script)
    started = time.monotonic()
    response = client.post("/api/speech-realtime/synthesize", json={"text": "Hello."})
    assert time.monotonic() - started < settings.request_timeout + 1
    assert response.status_code == status, response.json
    assert response.json["error"]["code"] == code
    if status == 429:
        assert response.headers["Retry-After"] == script.get("retry_after", "1")
    assert API_KEY not in response.get_data(as_text=True)


STT_FAILURES = [
    ({"handshake_status": 401}, 502),
    ({"handshake_status": 404}, 502),
    ({"handshake_status": 429, "retry_after": "3"}, 429),
    ({"mode": "error_event"}, 502),
    ({"mode": "transcription_failed"}, 502),
    ({"mode": "close_before_done"}, 502),
    ({"mode": "silence"}, 504),
    ({"mode": "malformed"}, 502),
]


@pytest.mark.parametrize(("script", "status"), STT_FAILURES)
def test_recognize_failures_map_to_their_status(upstream, settings, script, status) -> None:
    client, settings = scripted_client(settings, script)
    upstream.reset(**script)
    started = time.monotonic()
    response = client.post("/api/speech-realtime/recognize", json=recognize_body())
    assert time.monotonic() - started < settings.request_timeout + 1
    assert response.status_code == status, response.json
    assert response.json["error"]["message"]


BEFORE_FIRST_BYTE = [f for f in FAILURES if f[0].get("mode") != "close_before_done"]


@pytest.mark.parametrize(("script", "status", "code"), BEFORE_FIRST_BYTE)
def test_stream_failures_before_the_first_byte_are_json_errors(
    upstream, settings, script, status, code
) -> None:
    client, _ = scripted_client(settings, script)
    upstream.reset(**script)
    response = client.post("/api/speech-realtime/synthesize/stream", json={"text": "Hello."})
    assert response.status_code == status
    assert response.json["error"]["code"] == code


def test_stream_failure_after_first_bytes_never_ends_the_body_normally(client, upstream) -> None:
    upstream.reset(mode="close_before_done")
    text = "A sentence long enough to arrive in several chunks."
    response = client.post("/api/speech-realtime/synthesize/stream", json={"text": text})
    assert response.status_code == 200
    received = bytearray()
    with pytest.raises(ConnectionError):  # no socket to drop under the test client: it raises
        for chunk in response.response:
            received += chunk
    assert 0 < len(received) < len(b"".join(audio_for(text, 4, 2)))
    response.close()
    assert client.get("/api/speech-realtime/info").json["stats"]["streams_aborted"] == 1


# -- bad input: 400/415/413 naming the problem, and no upstream connection --------------------

BAD_RECOGNIZE = [
    ({"data": "{not json", "content_type": "application/json"}, 400, "invalid_json"),
    ({"data": "[1, 2]", "content_type": "application/json"}, 400, "invalid_json"),
    ({"data": "audioData=x", "content_type": "text/plain"}, 415, "unsupported_media_type"),
    ({"json": {}}, 400, "missing_field"),
    ({"json": {"audioData": 12}}, 400, "invalid_field"),
    ({"json": {"audioData": "not base64 !!"}}, 400, "invalid_base64"),
    ({"json": recognize_body(bytes(4801))}, 400, "invalid_audio"),
    ({"json": recognize_body(bytes(4700))}, 400, "audio_too_short"),
    ({"json": recognize_body(b"")}, 400, "audio_too_short"),
    ({"json": recognize_body(format="wma")}, 400, "invalid_format"),
    ({"json": recognize_body(sampleRate=500)}, 400, "invalid_sample_rate"),
    ({"json": recognize_body(language=5)}, 400, "invalid_field"),
    ({"json": recognize_body(language="x" * 10_000)}, 400, "invalid_language"),
    ({"json": recognize_body(channels=0)}, 400, "invalid_channels"),
    ({"json": recognize_body(channels="two")}, 400, "invalid_field"),
    ({"data": NESTED_JSON, "content_type": "application/json"}, 400, "invalid_json"),
    ({"data": PCM_1S, "content_type": "audio/pcm; rate=24000; channels=0"}, 400, "invalid_channels"),
    ({"data": {"file": (io.BytesIO(PCM_1S), "a.pcm"), "channels": "0"}}, 400, "invalid_channels"),
]


@pytest.mark.parametrize(("request_args", "status", "code"), BAD_RECOGNIZE)
def test_bad_recognize_input_never_reaches_upstream(client, upstream, request_args, status, code) -> None:
    response = client.post("/api/speech-realtime/recognize", **request_args)
    assert response.status_code == status
    assert response.json["error"]["code"] == code
    assert response.json["error"]["message"]
    assert upstream.connections == 0


BAD_SYNTHESIZE = [
    ({"data": "{", "content_type": "application/json"}, 400, "invalid_json"),
    ({"data": "text=hi", "content_type": "application/x-www-form-urlencoded"}, 415, "unsupported_media_type"),
    ({"json": {"voiceName": "alloy"}}, 400, "missing_field"),
    ({"json": {"text": ""}}, 400, "empty_text"),
    ({"json": {"text": "   \n\t "}}, 400, "empty_text"),
    ({"json": {"text": "x" * 4097}}, 400, "text_too_long"),
    ({"json": {"text": ["a"]}}, 400, "invalid_field"),
    ({"json": {"text": "Hi.", "voiceName": "nobody"}}, 400, "invalid_voice"),
    ({"json": {"text": "Hi.", "format": "wma"}}, 400, "invalid_format"),
    ({"data": NESTED_JSON, "content_type": "application/json"}, 400, "invalid_json"),
]


@pytest.mark.parametrize("path", ["/synthesize", "/synthesize/stream"])
@pytest.mark.parametrize(("request_args", "status", "code"), BAD_SYNTHESIZE)
def test_bad_synthesize_input_never_reaches_upstream(
    client, upstream, path, request_args, status, code
) -> None:
    response = client.post("/api/speech-realtime" + path, **request_args)
    assert response.status_code == status
    assert response.json["error"]["code"] == code
    assert upstream.connections == 0


def test_unknown_voice_lists_the_valid_names(client) -> None:
    response = client.post("/api/speech-realtime/synthesize", json={"text": "Hi.", "voiceName": "nobody"})
    message = response.json["error"]["message"]
    assert "alloy" in message
    assert "JennyNeural" in message


def test_text_at_the_limit_is_accepted(settings, upstream) -> None:
    # The scripted reading of 4096 characters takes about 2 s on a loaded machine: this test
    # is about the limit, not the deadline, so it gets a generous one.
    client = create_app(settings.with_changes(request_timeout=30)).test_client()
    response = client.post("/api/speech-realtime/synthesize", json={"text": ("word " * 820)[:4095] + "."})
    assert response.status_code == 200


def test_base64_with_line_breaks_and_data_url_prefix_is_accepted(client, upstream) -> None:
    encoded = base64.encodebytes(PCM_1S).decode()
    assert "\n" in encoded
    response = client.post(
        "/api/speech-realtime/recognize", json={"audioData": "data:audio/pcm;base64," + encoded}
    )
    assert response.status_code == 200
