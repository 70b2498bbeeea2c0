"""Every scripted upstream failure, in every HTTP family, gets its documented answer in time.

The matrix: each failure mode of the scripted upstream (handshake 401/403/404/429/5xx, error
events, a close mid-response, silence past the deadline, malformed frames, a failed
transcription, the content filter) against the reference, OpenAI and Azure REST front ends, both
directions. The answer is the README's error table (DESIGN.md section 2) in the family's shape,
and it arrives within the deadline plus one second (short deadlines, so the suite stays fast).
"""

from __future__ import annotations

import base64
import io
import time
from dataclasses import dataclass
from typing import Any

import pytest
from azure_sdk_fixtures import silent_wav

from speech_realtime.web import create_app

DEADLINE = 1.5  # seconds: SPEECH_REQUEST_TIMEOUT; the receive and connect timeouts are 1 s
SSML = "<speak version='1.0' xml:lang='en-US'><voice name='en-US-JennyNeural'>Hello.</voice></speak>"
AZURE_TTS_HEADERS = {
    "X-Microsoft-OutputFormat": "riff-24khz-16bit-mono-pcm",
    "Content-Type": "application/ssml+xml",
}
OPENAI_SPEECH = {"model": "tts-1", "voice": "alloy", "input": "Hello."}
AZURE_STT = "/speech/recognition/conversation/cognitiveservices/v1?language=en-US"
WAV_16K = "audio/wav; codecs=audio/pcm; samplerate=16000"


def wav(seconds: float = 1.0) -> bytes:
    return silent_wav(seconds)


@dataclass(frozen=True)
class Family:
    """One HTTP front end's request in one direction, and how its answer carries the code."""

    name: str
    synthesis: bool
    shape: str  # "reference", "openai" or "azure" (plain text, no code)

    def send(self, client) -> Any:
        audio = wav()
        if self.name == "reference-synthesize":
            return client.post("/api/speech-realtime/synthesize", json={"text": "Hello."})
        if self.name == "reference-recognize":
            body = {"audioData": base64.b64encode(audio).decode()}
            return client.post("/api/speech-realtime/recognize", json=body)
        if self.name == "openai-speech":
            return client.post("/v1/audio/speech", json=OPENAI_SPEECH)
        if self.name == "openai-transcriptions":
            form = {"model": "whisper-1", "file": (io.BytesIO(audio), "a.wav")}
            return client.post("/v1/audio/transcriptions", data=form, content_type="multipart/form-data")
        if self.name == "azure-tts":
            return client.post("/cognitiveservices/v1", data=SSML.encode(), headers=AZURE_TTS_HEADERS)
        return client.post(AZURE_STT, data=audio, headers={"Content-Type": WAV_16K})


FAMILIES = [
    Family("reference-synthesize", True, "reference"),
    Family("reference-recognize", False, "reference"),
    Family("openai-speech", True, "openai"),
    Family("openai-transcriptions", False, "openai"),
    Family("azure-tts", True, "azure"),
    Family("azure-stt", False, "azure"),
]

#: (script, the documented status and code, whether Retry-After is documented, which direction
#: the failure exists in: None for both). Rate-limit events, failed or filtered responses come
#: from a response (synthesis); a failed transcription from a transcription (recognition).
FAULTS = [
    ({"handshake_status": 401}, 502, "upstream_auth", False, None),
    ({"handshake_status": 403}, 502, "upstream_auth", False, None),
    ({"handshake_status": 404}, 502, "upstream_config", False, None),
    ({"handshake_status": 429}, 429, "rate_limited", True, None),
    ({"handshake_status": 429, "retry_after": "7"}, 429, "rate_limited", True, None),
    ({"handshake_status": 500}, 502, "upstream_error", False, None),
    ({"handshake_status": 503}, 502, "upstream_error", False, None),
    ({"mode": "error_event"}, 502, "upstream_error", False, None),
    ({"mode": "rate_limit_event"}, 429, "rate_limited", True, True),
    ({"mode": "close_before_done"}, 502, "upstream_error", False, None),
    ({"mode": "silence"}, 504, "upstream_timeout", False, None),
    ({"mode": "malformed"}, 502, "upstream_error", False, None),
    ({"mode": "failed"}, 502, "upstream_error", False, True),
    ({"mode": "transcription_failed"}, 502, "upstream_error", False, False),
    ({"mode": "content_filter"}, 422, "content_filter", False, True),
]

#: The OpenAI family's own words for two situations (README "Use it from the OpenAI SDK").
OPENAI_ANSWERS = {"content_filter": (400, "content_policy_violation")}


def cases() -> list[Any]:
    out = []
    for script, status, code, retry_after, synthesis in FAULTS:
        label = "-".join(f"{v}" for v in script.values())
        for family in FAMILIES:
            if synthesis is None or synthesis == family.synthesis:
                name = f"{label}-{family.name}"
                out.append(pytest.param(script, status, code, retry_after, family, id=name))
    return out


@pytest.fixture
def fault_client(settings):
    """Short deadlines; a breaker that never opens here (test_soak covers it)."""
    short = settings.with_changes(
        request_timeout=DEADLINE, receive_timeout=1.0, connect_timeout=1.0, breaker_failures=1_000_000
    )
    return create_app(short).test_client()


def code_of(family: Family, response) -> str | None:
    if family.shape == "azure":
        assert response.mimetype == "text/plain"  # Azure's REST errors: the message alone
        return None
    return response.json["error"]["code"]


@pytest.mark.parametrize(("script", "status", "code", "retry_after", "family"), cases())
def test_each_upstream_failure_has_its_documented_answer_in_time(
    fault_client, upstream, script, status, code, retry_after, family
) -> None:
    upstream.reset(**script)
    started = time.monotonic()
    response = family.send(fault_client)
    if family.name == "azure-tts" and script.get("mode") == "close_before_done":
        # Azure's TTS streams: the first audio is out, so the body is cut without its last chunk
        # (README "Truncated streams"), which a client sees as an incomplete transfer.
        assert response.status_code == 200
        with pytest.raises(ConnectionError):
            response.get_data()
    else:
        response.get_data()
        if family.shape == "openai":
            status, code = OPENAI_ANSWERS.get(code, (status, code))
        assert response.status_code == status, response.get_data(as_text=True)
        assert code_of(family, response) == (None if family.shape == "azure" else code)
        if retry_after:
            expected = script.get("retry_after")
            seconds = int(response.headers["Retry-After"])
            assert 0 <= seconds <= 3600
            if expected:
                assert seconds == int(expected)
        else:
            assert "Retry-After" not in response.headers
    assert time.monotonic() - started <= DEADLINE + 1
    assert upstream.connections >= 1


@pytest.mark.parametrize("family", FAMILIES, ids=[f.name for f in FAMILIES])
def test_a_failure_on_the_first_session_only_is_retried_into_a_success(
    fault_client, upstream, family
) -> None:
    """``fail_sessions``: a transient upstream 5xx once, then a healthy session, answers 200."""
    upstream.reset(handshake_status=500, fail_sessions=1)
    started = time.monotonic()
    response = family.send(fault_client)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert time.monotonic() - started <= DEADLINE + 1
    assert upstream.connections == 2
