"""Server-Timing on every answer of every family: where the request's time went (slot wait,
upstream connect, first upstream delta, encoding, total), streams included, errors too."""

from __future__ import annotations

import base64
import re

import pytest
from azure_sdk_fixtures import silent_wav

from speech_realtime.timings import Timings

SSML = "<speak version='1.0' xml:lang='en-US'><voice name='en-US-AvaNeural'>Hello there.</voice></speak>"
AZURE_TTS = {"X-Microsoft-OutputFormat": "riff-24khz-16bit-mono-pcm", "Content-Type": "application/ssml+xml"}
AZURE_STT = "/speech/recognition/conversation/cognitiveservices/v1?language=en-US"
WAV_16K = "audio/wav; codecs=audio/pcm; samplerate=16000"


def metrics_of(response) -> dict[str, float]:
    """``{name: milliseconds}`` of the answer's Server-Timing header (which must be there)."""
    header = response.headers.get("Server-Timing")
    assert header, dict(response.headers)
    found = {}
    for part in header.split(", "):
        match = re.fullmatch(r'([a-z]+);dur=([0-9.]+);desc="[^"]*"', part)
        assert match, part
        found[match[1]] = float(match[2])
    return found


SESSION_METRICS = {"slot", "connect", "upstream", "total"}


def test_the_header_is_well_formed_and_adds_up_by_name() -> None:
    timings = Timings()
    timings.add("encode", 0.001)
    timings.add("encode", 0.002)
    timings.add("connect", 0.01, "pooled")
    header = timings.header()
    assert header.startswith(
        'encode;dur=3.0;desc="audio encoding", connect;dur=10.0;desc="upstream connect (pooled)"'
    )
    assert header.split(", ")[-1].startswith("total;dur=")


@pytest.mark.parametrize(
    "path", ["/api/speech-realtime/synthesize", "/api/speech-realtime/synthesize/stream"]
)
def test_reference_synthesis_says_where_its_time_went(client, upstream, path: str) -> None:
    response = client.post(path, json={"text": "Hello there.", "format": "mp3"})
    assert response.status_code == 200
    found = metrics_of(response)
    assert SESSION_METRICS | {"encode"} <= set(found)
    assert found["total"] >= found["connect"]
    assert (
        "connect;dur=" in response.headers["Server-Timing"] and "(new)" in response.headers["Server-Timing"]
    )


def test_reference_recognition(client, upstream) -> None:
    audio = base64.b64encode(silent_wav(0.5)).decode()
    response = client.post("/api/speech-realtime/recognize", json={"audioData": audio, "format": "wav"})
    assert response.status_code == 200, response.data
    assert set(metrics_of(response)) >= SESSION_METRICS


def test_azure_rest_synthesis_and_recognition(client, upstream) -> None:
    spoken = client.post("/cognitiveservices/v1", data=SSML.encode(), headers=AZURE_TTS)
    assert spoken.status_code == 200, spoken.data
    assert set(metrics_of(spoken)) >= SESSION_METRICS
    heard = client.post(AZURE_STT, data=silent_wav(0.5), headers={"Content-Type": WAV_16K})
    assert heard.status_code == 200, heard.data
    assert set(metrics_of(heard)) >= SESSION_METRICS


def test_openai_speech_and_transcription(client, upstream) -> None:
    spoken = client.post(
        "/v1/audio/speech", json={"model": "tts-1", "input": "Hello there.", "voice": "alloy"}
    )
    assert spoken.status_code == 200, spoken.data
    assert SESSION_METRICS | {"encode"} <= set(metrics_of(spoken))
    heard = client.post(
        "/v1/audio/transcriptions",
        data={"model": "whisper-1", "file": (__import__("io").BytesIO(silent_wav(0.5)), "a.wav")},
        content_type="multipart/form-data",
    )
    assert heard.status_code == 200, heard.data
    assert set(metrics_of(heard)) >= SESSION_METRICS


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("post", "/api/speech-realtime/synthesize", {"text": ""}, 400),
        ("post", "/v1/audio/speech", {"model": "tts-1", "voice": "alloy"}, 400),
        ("get", "/no/such/route", None, 404),
        ("get", "/healthz", None, 200),
        ("get", "/api/speech-realtime/info", None, 200),
    ],
)
def test_answers_without_a_session_carry_the_total_only(client, method, path, body, status) -> None:
    response = getattr(client, method)(path, json=body) if body is not None else getattr(client, method)(path)
    assert response.status_code == status
    assert set(metrics_of(response)) == {"total"}


def test_an_upstream_failure_still_says_how_long_the_connect_took(client, upstream) -> None:
    upstream.reset(handshake_status=503)
    response = client.post("/api/speech-realtime/synthesize", json={"text": "Hello."})
    assert response.status_code == 502
    assert {"slot", "connect", "total"} <= set(metrics_of(response))
