"""Upstream resilience as each front end answers it: the open breaker's 503
``upstream_unavailable`` with Retry-After in each family's shape, without a connection; its
state in /readyz and /metrics; upstream error words never in any family's answer."""

from __future__ import annotations

import logging
import time

import pytest
from prometheus_client import REGISTRY

from speech_realtime.web import create_app

SSML = "<speak version='1.0' xml:lang='en-US'><voice name='en-US-JennyNeural'>Hello.</voice></speak>"
AZURE_HEADERS = {
    "X-Microsoft-OutputFormat": "riff-24khz-16bit-mono-pcm",
    "Content-Type": "application/ssml+xml",
}
SECRET_WORDS = "the deployment quota-7731 of tenant contoso exploded"


def reference(client):
    return client.post("/api/speech-realtime/synthesize", json={"text": "Hello."})


def openai(client):
    return client.post("/v1/audio/speech", json={"model": "tts-1", "voice": "alloy", "input": "Hello."})


def azure(client):
    return client.post("/cognitiveservices/v1", data=SSML.encode(), headers=AZURE_HEADERS)


FAMILIES = [reference, openai, azure]


def code_of(response) -> str:
    """The error code a family's answer carries (Azure's body is plain text)."""
    if response.mimetype == "text/plain":
        return response.get_data(as_text=True)
    return response.json["error"]["code"]


def gauge() -> float:
    return REGISTRY.get_sample_value("speech_upstream_breaker_open") or 0.0


def opened() -> float:
    return REGISTRY.get_sample_value("speech_upstream_breaker_transitions_total", {"state": "open"}) or 0.0


@pytest.fixture
def breaker_client(settings):
    """A client whose breaker opens after one failure and cools down for a minute."""
    return create_app(settings.with_changes(breaker_failures=1, breaker_cooldown=60)).test_client()


@pytest.mark.parametrize("family", FAMILIES)
def test_an_open_breaker_fails_fast_with_503_in_the_family_shape(breaker_client, upstream, family) -> None:
    upstream.reset(handshake_status=401)
    assert family(breaker_client).status_code == 502
    upstream.reset()
    response = family(breaker_client)
    assert response.status_code == 503
    assert 55 <= int(response.headers["Retry-After"]) <= 60
    if family is not azure:
        assert code_of(response) == "upstream_unavailable"
    if family is openai:
        assert set(response.json["error"]) == {"message", "type", "param", "code"}
    if family is azure:
        assert response.mimetype == "text/plain"
    assert upstream.connections == 0


def test_readyz_and_metrics_follow_the_breaker(settings, upstream) -> None:
    client = create_app(settings.with_changes(breaker_failures=2, breaker_cooldown=0.3)).test_client()
    assert client.get("/readyz").status_code == 200
    before = opened()
    upstream.reset(handshake_status=500)  # retried once: two failures, the second opens it
    assert reference(client).status_code == 502
    assert gauge() == 1 and opened() == before + 1
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.json["reason"]["code"] == "upstream_unavailable"
    metrics = client.get("/metrics").get_data(as_text=True)
    assert "speech_upstream_breaker_open 1.0" in metrics
    upstream.reset()
    deadline = time.monotonic() + 2
    while client.get("/readyz").status_code != 200:  # the gate lifts after the cool-down
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert reference(client).status_code == 200  # the probe: it closes the breaker
    assert gauge() == 0 and upstream.connections == 1
    assert "speech_upstream_breaker_open 0.0" in client.get("/metrics").get_data(as_text=True)


@pytest.mark.parametrize("family", FAMILIES)
def test_upstream_error_words_reach_the_log_not_the_client(client, upstream, family, caplog) -> None:
    upstream.reset(mode="error_event", error_message=SECRET_WORDS)
    with caplog.at_level(logging.WARNING):
        response = family(client)
    assert response.status_code == 502
    body = response.get_data(as_text=True)
    assert SECRET_WORDS not in body
    if family is not azure:  # Azure's REST body is the fixed message alone
        assert "server_error" in body
    assert any(SECRET_WORDS in record.getMessage() for record in caplog.records)


def test_sdk_sockets_end_an_open_breaker_as_an_upstream_error() -> None:
    from speech_realtime.errors import BreakerOpen, UpstreamError
    from speech_realtime.usp.effects import synthesis_close
    from speech_realtime.usp.results import recognition_status

    open_breaker = BreakerOpen("held off", retry_after=3)
    assert recognition_status(open_breaker) == recognition_status(UpstreamError("x")) == "Error"
    assert synthesis_close(open_breaker)[0] == synthesis_close(UpstreamError("x"))[0] == 1011
