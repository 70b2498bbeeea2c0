"""Logs: LOG_FORMAT, one JSON object a line with the request id, and nothing secret at any level."""

from __future__ import annotations

import base64
import io
import json
import logging
from collections.abc import Iterator

import pytest
from conftest import API_KEY

from speech_realtime.config import Settings
from speech_realtime.errors import ConfigError
from speech_realtime.logs import REQUEST_ID, RequestIdFilter, attach, tag_records

TEXT = "Zebras quietly juggle marmalade"
TRANSCRIPT = "xylophones hum under nebulae"
PCM = bytes(range(256)) * 200  # 51,200 bytes of recognisable audio


def test_log_format_is_validated_like_log_level() -> None:
    assert Settings.from_mapping({}).log_format == "text"
    assert Settings.from_mapping({"LOG_FORMAT": "JSON"}).log_format == "json"
    with pytest.raises(ConfigError, match="LOG_FORMAT"):
        Settings.from_mapping({"LOG_FORMAT": "yaml"})


def test_prices_are_per_million_tokens_and_unset_ones_are_left_out() -> None:
    settings = Settings.from_mapping({"SPEECH_PRICE_INPUT_AUDIO": "32", "SPEECH_PRICE_OUTPUT_TEXT": "0"})
    assert settings.token_prices == {("input", "audio"): 32.0}
    with pytest.raises(ConfigError, match="SPEECH_PRICE_OUTPUT_AUDIO"):
        Settings.from_mapping({"SPEECH_PRICE_OUTPUT_AUDIO": "-1"})


def _record_through(log_format: str) -> str:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    attach([handler], log_format)
    logger = logging.getLogger("speech_realtime.test_logs")
    logger.addHandler(handler)
    token = REQUEST_ID.set("rid-9")
    try:
        logger.warning("upstream said %s", "no")
    finally:
        REQUEST_ID.reset(token)
        logger.removeHandler(handler)
    return out.getvalue()


def test_json_lines_are_one_object_each_with_the_request_id() -> None:
    lines = _record_through("json").splitlines()
    assert len(lines) == 1
    line = json.loads(lines[0])
    assert line["message"] == "upstream said no"
    assert line["level"] == "WARNING"
    assert line["logger"] == "speech_realtime.test_logs"
    assert line["request_id"] == "rid-9"
    assert "time" in line


def test_text_lines_carry_the_request_id() -> None:
    assert "[rid-9]: upstream said no" in _record_through("text")


def test_records_outside_a_request_have_a_dash() -> None:
    tag_records()
    assert logging.getLogger("x").makeRecord("x", logging.INFO, __file__, 1, "m", (), None).request_id == "-"
    untagged = logging.LogRecord("x", logging.INFO, __file__, 1, "m", None, None)  # made directly
    RequestIdFilter().filter(untagged)
    assert untagged.request_id == "-"


@pytest.fixture
def everything_logged() -> Iterator[io.StringIO]:
    """Every record of the process at DEBUG, in JSON, as the service writes it."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    attach([handler], "json")
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield out
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def test_keys_text_transcripts_and_audio_never_reach_a_log(client, upstream, everything_logged) -> None:
    upstream.script.transcript = TRANSCRIPT
    audio = base64.b64encode(PCM).decode()
    auth = {"Authorization": f"Bearer {API_KEY}", "Ocp-Apim-Subscription-Key": API_KEY, "X-API-Key": API_KEY}
    ssml = f"<speak version='1.0' xml:lang='en-US'><voice name='en-US-AvaNeural'>{TEXT}</voice></speak>"
    requests = [
        lambda: client.post("/api/speech-realtime/synthesize", json={"text": TEXT}, headers=auth),
        lambda: client.post("/api/speech-realtime/synthesize/stream", json={"text": TEXT}, headers=auth),
        lambda: client.post("/api/speech-realtime/recognize", json={"audioData": audio}, headers=auth),
        lambda: client.post(
            "/v1/audio/speech", json={"model": "tts-1", "input": TEXT, "voice": "alloy"}, headers=auth
        ),
        lambda: client.post(
            "/cognitiveservices/v1",
            data=ssml.encode(),
            headers={
                **auth,
                "Content-Type": "application/ssml+xml",
                "X-Microsoft-OutputFormat": "raw-24khz-16bit-mono-pcm",
            },
        ),
        lambda: client.post(
            "/api/speech-realtime/synthesize", json={"text": TEXT + " " * 5000}, headers=auth
        ),
        lambda: client.get(f"/metrics?key={API_KEY}", headers=auth),
    ]
    for request in requests:
        request().get_data()
    upstream.reset(mode="error_event", transcript=TRANSCRIPT)  # failures log more
    for request in requests[:3]:
        request().get_data()
    upstream.reset(handshake_status=401)
    for request in requests[:3]:
        request().get_data()
    logged = everything_logged.getvalue()
    assert logged.count("\n") > 10, "nothing was logged: the test proves nothing"
    for secret in (API_KEY, TEXT, TRANSCRIPT, audio[:64], TEXT.lower()):
        assert secret not in logged, secret
