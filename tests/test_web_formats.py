"""Every input path and output format through the HTTP API, against the scripted server."""

from __future__ import annotations

import base64
import io
import time

import numpy as np
import pytest
from media import encode_file, signal
from realtime_server import audio_for

from speech_realtime.audio import float_to_pcm16, input_to_wire, pcm16_to_float, resample, ulaw_encode
from speech_realtime.audio.wav import write_wav

SPEECH = signal(1.5, 16000)
PCM16_16K = float_to_pcm16(SPEECH)


def appended(upstream) -> bytes:
    return b"".join(base64.b64decode(e["audio"]) for e in upstream.client_events("input_audio_buffer.append"))


def session_input_format(upstream, dialect: str) -> object:
    session = upstream.client_events("session.update")[0]["session"]
    return session["audio"]["input"]["format"] if dialect == "ga" else session["input_audio_format"]


RAW_BODIES = [
    ("audio/wav", lambda: write_wav(PCM16_16K, 16000)),
    ("audio/x-wav", lambda: write_wav(PCM16_16K, 16000)),
    ("audio/pcm;rate=16000", lambda: PCM16_16K),
    ("audio/L16;rate=16000", lambda: np.frombuffer(PCM16_16K, "<i2").astype(">i2").tobytes()),
    ("audio/mpeg", lambda: encode_file("mp3", "libmp3lame", SPEECH, 16000)),
    ("audio/ogg", lambda: encode_file("ogg", "libopus", resample(SPEECH, 16000, 48000), 48000)),
    ("audio/flac", lambda: encode_file("flac", "flac", SPEECH, 16000)),
    ("audio/webm", lambda: encode_file("webm", "libopus", resample(SPEECH, 16000, 48000), 48000)),
    ("audio/mp4", lambda: encode_file("ipod", "aac", SPEECH, 16000)),
    ("application/octet-stream", lambda: encode_file("flac", "flac", SPEECH, 16000)),
]


@pytest.mark.parametrize(("content_type", "make"), RAW_BODIES)
def test_raw_audio_bodies_are_recognized_as_pcm16_24k(client, upstream, dialect, content_type, make) -> None:
    response = client.post(
        "/api/speech-realtime/recognize?language=en", data=make(), content_type=content_type
    )
    assert response.status_code == 200, response.json
    assert response.json["text"] == "hello from the scripted server"
    assert response.json["language"] == "en"
    assert abs(response.json["duration"] - 1.5) < 0.1
    assert session_input_format(upstream, dialect) in ({"type": "audio/pcm", "rate": 24000}, "pcm16")
    sent = pcm16_to_float(appended(upstream))
    assert abs(len(sent) / 24000 - 1.5) < 0.1


def test_mulaw_body_goes_upstream_as_g711_byte_for_byte(client, upstream, dialect) -> None:
    mulaw = ulaw_encode(float_to_pcm16(signal(1.0, 8000)))
    response = client.post("/api/speech-realtime/recognize", data=mulaw, content_type="audio/basic")
    assert response.status_code == 200
    assert appended(upstream) == mulaw
    assert session_input_format(upstream, dialect) in ({"type": "audio/pcmu"}, "g711_ulaw")


def test_the_content_decides_not_the_label(client, upstream) -> None:
    wav = write_wav(PCM16_16K, 16000)
    response = client.post("/api/speech-realtime/recognize", data=wav, content_type="audio/mpeg")
    assert response.status_code == 200
    assert abs(response.json["duration"] - 1.5) < 0.01


@pytest.mark.parametrize(
    ("filename", "mimetype", "make"),
    [
        ("memo.wav", "audio/wav", lambda: write_wav(PCM16_16K, 16000)),
        ("memo.mp3", "application/octet-stream", lambda: encode_file("mp3", "libmp3lame", SPEECH, 16000)),
        ("memo.m4a", "audio/x-m4a", lambda: encode_file("ipod", "aac", SPEECH, 16000)),
    ],
)
def test_multipart_uploads(client, upstream, filename, mimetype, make) -> None:
    data = {"file": (io.BytesIO(make()), filename, mimetype), "language": "en"}
    response = client.post("/api/speech-realtime/recognize", data=data, content_type="multipart/form-data")
    assert response.status_code == 200, response.json
    assert response.json["language"] == "en"


def test_multipart_raw_pcm_needs_its_format_and_rate(client, upstream) -> None:
    data = {"file": (io.BytesIO(PCM16_16K), "memo.raw"), "format": "pcm16", "sampleRate": "16000"}
    response = client.post("/api/speech-realtime/recognize", data=data, content_type="multipart/form-data")
    assert response.status_code == 200, response.json
    assert abs(response.json["duration"] - 1.5) < 0.01


@pytest.mark.parametrize(
    ("body", "duration"),
    [
        ({"format": "wav"}, None),
        ({"format": "pcm16", "sampleRate": 16000}, None),
        ({"format": "mp3"}, "mp3"),
    ],
)
def test_json_base64_in_other_formats(client, upstream, body, duration) -> None:
    audio = (
        encode_file("mp3", "libmp3lame", SPEECH, 16000)
        if duration
        else (write_wav(PCM16_16K, 16000) if body["format"] == "wav" else PCM16_16K)
    )
    response = client.post(
        "/api/speech-realtime/recognize", json={"audioData": base64.b64encode(audio).decode(), **body}
    )
    assert response.status_code == 200, response.json
    assert abs(response.json["duration"] - 1.5) < 0.1


BAD = [
    (
        {
            "data": b"RIFF\xff\xff\x00\x00WAVEfmt \x10\x00\x00\x00" + b"\x01\x00" * 8,
            "content_type": "audio/wav",
        },
        400,
    ),
    ({"data": write_wav(PCM16_16K, 16000)[:30], "content_type": "audio/wav"}, 400),
    ({"data": b"", "content_type": "audio/wav"}, 400),
    ({"data": b"<html>not audio</html>", "content_type": "audio/mpeg"}, 415),
    ({"data": b"<html>not audio</html>", "content_type": "application/octet-stream"}, 415),
    ({"data": b"<html>not audio</html>", "content_type": "audio/x-unknown"}, 415),
    ({"data": PCM16_16K[:-1], "content_type": "audio/pcm;rate=16000"}, 400),
    ({"data": PCM16_16K, "content_type": "audio/pcm;rate=fast"}, 400),
    ({"data": PCM16_16K, "content_type": "audio/pcm;rate=5"}, 400),
    ({"data": PCM16_16K, "content_type": "audio/pcm;channels=99"}, 400),
    ({"json": {"audioData": "AAAA" * 10 + "!!junk!!"}}, 400),
    ({"json": {"audioData": base64.b64encode(b"just text").decode(), "format": "mp3"}}, 415),
    ({"data": {"language": "en"}, "content_type": "multipart/form-data"}, 400),
    ({"data": b"x", "content_type": "image/png"}, 415),
]


@pytest.mark.parametrize(("request_args", "status"), BAD)
def test_bad_audio_is_a_json_error_and_never_reaches_upstream(client, upstream, request_args, status) -> None:
    response = client.post("/api/speech-realtime/recognize", **request_args)
    assert response.status_code == status, response.json
    assert response.json["error"]["message"]
    assert upstream.connections == 0


TEXT = "Format conversion test sentence."


def scripted_pcm(text: str = TEXT) -> np.ndarray:
    return pcm16_to_float(b"".join(audio_for(text, 4, 2)))


@pytest.mark.parametrize(
    ("body", "mime", "rate"),
    [
        ({}, "audio/pcm", 24000),
        ({"format": "pcm", "sampleRate": 16000}, "audio/pcm", 16000),
        ({"format": "wav"}, "audio/wav", 24000),
        ({"format": "wav", "sampleRate": 8000}, "audio/wav", 8000),
        ({"format": "mulaw"}, "audio/basic", 8000),
        ({"format": "alaw", "sampleRate": 16000}, "audio/x-alaw-basic", 16000),
        ({"format": "mp3"}, "audio/mpeg", 24000),
        ({"format": "mp3", "sampleRate": 44100}, "audio/mpeg", 44100),
        ({"format": "opus"}, "audio/ogg", 48000),
        ({"format": "flac", "sampleRate": 48000}, "audio/flac", 48000),
        ({"format": "aac"}, "audio/aac", 24000),
    ],
)
@pytest.mark.parametrize("path", ["/synthesize", "/synthesize/stream"])
def test_output_formats(client, upstream, path, body, mime, rate) -> None:
    response = client.post("/api/speech-realtime" + path, json={"text": TEXT, **body})
    assert response.status_code == 200, response.json
    assert response.mimetype == mime
    assert response.headers["X-Audio-Sample-Rate"] == str(rate)
    expected_seconds = len(scripted_pcm()) / 24000 if response.mimetype not in ("audio/basic",) else None
    label = {"audio/pcm": "pcm16", "audio/basic": "g711_ulaw", "audio/x-alaw-basic": "g711_alaw"}.get(mime)
    decoded = input_to_wire(response.data, label, rate=rate if label else None)
    if expected_seconds is not None:
        assert abs(decoded.duration - expected_seconds) < 0.1


def test_8khz_g711_is_asked_of_the_upstream_directly(client, upstream, dialect) -> None:
    response = client.post("/api/speech-realtime/synthesize", json={"text": TEXT, "format": "mulaw"})
    assert response.data == b"".join(audio_for(TEXT, 4, 1))
    session = upstream.client_events("session.update")[0]["session"]
    output = session["audio"]["output"]["format"] if dialect == "ga" else session["output_audio_format"]
    assert output in ({"type": "audio/pcmu"}, "g711_ulaw")


@pytest.mark.parametrize(
    ("header", "mime", "rate"),
    [
        ("riff-16khz-16bit-mono-pcm", "audio/wav", 16000),
        ("raw-24khz-16bit-mono-pcm", "audio/pcm", 24000),
        ("raw-8khz-8bit-mono-mulaw", "audio/basic", 8000),
        ("audio-24khz-48kbitrate-mono-mp3", "audio/mpeg", 24000),
        ("ogg-24khz-16bit-mono-opus", "audio/ogg", 24000),
    ],
)
def test_x_microsoft_output_format(client, upstream, header, mime, rate) -> None:
    response = client.post(
        "/api/speech-realtime/synthesize", json={"text": TEXT}, headers={"X-Microsoft-OutputFormat": header}
    )
    assert response.status_code == 200, response.json
    assert response.mimetype == mime
    assert response.headers["X-Audio-Sample-Rate"] == str(rate)


def test_unknown_x_microsoft_output_format_is_400_without_upstream(client, upstream) -> None:
    response = client.post(
        "/api/speech-realtime/synthesize",
        json={"text": TEXT},
        headers={"X-Microsoft-OutputFormat": "siren-1khz"},
    )
    assert response.status_code == 400
    assert response.json["error"]["code"] == "invalid_format"
    assert upstream.connections == 0


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"format": "wma"}, "invalid_format"),
        ({"sampleRate": 96000}, "invalid_sample_rate"),
        ({"format": "opus", "sampleRate": 44100}, "invalid_sample_rate"),
        ({"sampleRate": "fast"}, "invalid_field"),
    ],
)
def test_bad_output_requests(client, upstream, body, code) -> None:
    response = client.post("/api/speech-realtime/synthesize", json={"text": TEXT, **body})
    assert response.status_code == 400
    assert response.json["error"]["code"] == code
    assert upstream.connections == 0


@pytest.mark.parametrize("name", ["mp3", "opus", "aac", "flac", "wav"])
def test_compressed_streams_send_bytes_before_synthesis_ends(client, upstream, name) -> None:
    upstream.script.chunk_delay = 0.25
    upstream.script.chunks = 6
    started = time.monotonic()
    response = client.post(
        "/api/speech-realtime/synthesize/stream", json={"text": TEXT * 4, "format": name}, buffered=False
    )
    chunks = iter(response.response)
    first = next(chunks)
    while not first:
        first = next(chunks)
    first_at = time.monotonic() - started
    rest = b"".join(chunks)
    total = time.monotonic() - started
    assert first and rest
    assert first_at < total - 0.5
    decoded = input_to_wire(first + rest, None)
    assert decoded.duration > 0.9 * len(scripted_pcm(TEXT * 4)) / 24000


def test_multipart_raw_format_named_by_the_file_extension(client, upstream, dialect) -> None:
    mulaw = ulaw_encode(float_to_pcm16(signal(1.0, 8000)))
    data = {"file": (io.BytesIO(mulaw), "call.ulaw", "application/octet-stream")}
    response = client.post("/api/speech-realtime/recognize", data=data, content_type="multipart/form-data")
    assert response.status_code == 200, response.json
    assert appended(upstream) == mulaw


@pytest.mark.parametrize(
    "header",
    [
        "riff-99999999999999999999khz-16bit-mono-pcm",  # segfaulted the worker
        "riff-999999khz-16bit-mono-pcm",  # allocated 11.7 GB
        "riff-48000khz-16bit-mono-pcm",  # 69 MB for one sentence
        "riff-0khz-16bit-mono-pcm",
        "riff-0khz",
        "audio-24khz-33kbitrate-mono-mp3",
        "audio-16khz-320kbitrate-mono-mp3",
    ],
)
@pytest.mark.parametrize("path", ["/synthesize", "/synthesize/stream"])
def test_bad_x_microsoft_output_formats_are_400_before_any_upstream_session(
    client, upstream, path, header
) -> None:
    response = client.post(
        "/api/speech-realtime" + path, json={"text": TEXT}, headers={"X-Microsoft-OutputFormat": header}
    )
    assert response.status_code == 400, response.data[:200]
    assert response.json["error"]["code"] == "invalid_format"
    assert header in response.json["error"]["message"]
    assert upstream.connections == 0


@pytest.mark.parametrize(
    "request_args",
    [
        {"json": {"audioData": base64.b64encode(PCM16_16K).decode(), "sampleRate": 16000, "channels": 0}},
        {"data": PCM16_16K, "content_type": "audio/pcm;rate=16000;channels=0"},
        {
            "data": {"file": (io.BytesIO(PCM16_16K), "a.raw"), "format": "pcm16", "channels": "0"},
            "content_type": "multipart/form-data",
        },
    ],
)
def test_zero_channels_is_400_not_mono(client, upstream, request_args) -> None:
    response = client.post("/api/speech-realtime/recognize", **request_args)
    assert response.status_code == 400, response.json
    assert response.json["error"]["code"] == "invalid_channels"
    assert upstream.connections == 0


@pytest.mark.parametrize("content_type", ["audio/mpeg", "audio/ogg", "application/octet-stream", "audio/mp4"])
def test_an_uploaded_playlist_naming_a_file_on_disk_is_415_and_reads_nothing(
    client, upstream, tmp_path, monkeypatch, content_type
) -> None:
    (tmp_path / "memo.flac").write_bytes(encode_file("flac", "flac", SPEECH, 16000))
    monkeypatch.chdir(tmp_path)
    for body in (b"ffconcat version 1.0\nfile 'memo.flac'\n", f"file '{tmp_path}/memo.flac'\n".encode()):
        response = client.post("/api/speech-realtime/recognize", data=body, content_type=content_type)
        assert response.status_code == 415, response.json
        assert "memo" not in response.json["error"]["message"]
        assert "Error" not in response.json["error"]["message"]
    assert upstream.connections == 0
