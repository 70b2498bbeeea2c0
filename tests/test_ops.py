"""The ops routes (/healthz, /readyz, /metrics), request ids and request metrics, in process."""

from __future__ import annotations

import base64
import logging
import threading

import numpy as np
import pytest
import websocket
from azure_sdk_fixtures import sdk_host  # noqa: F401  (a fixture)
from engine_fixtures import wait_until
from prometheus_client import REGISTRY

from speech_realtime.config import Settings
from speech_realtime.errors import UpstreamError
from speech_realtime.speech import SpeechService
from speech_realtime.web import create_app
from speech_realtime.web.request_ids import request_id_for

SYNTHESIZE = "/api/speech-realtime/synthesize"
STREAM = "/api/speech-realtime/synthesize/stream"
RECOGNIZE = "/api/speech-realtime/recognize"
TOKEN_LABELS = ("operation", "direction", "modality")
LOUD_PCM = base64.b64encode((np.full(24000, 8000, dtype="<i2")).tobytes()).decode()


def sample(name: str, **labels: str) -> float:
    """A metric's current value in this process (0 when it has no such series yet)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


class Delta:
    """How much metrics moved during a block: ``delta("name", label=...)`` after it."""

    def __init__(self, *series: tuple[str, dict[str, str]]) -> None:
        self._before = {_key(name, labels): sample(name, **labels) for name, labels in series}

    def __call__(self, name: str, **labels: str) -> float:
        return sample(name, **labels) - self._before[_key(name, labels)]


def _key(name: str, labels: dict[str, str]) -> tuple[str, tuple[tuple[str, str], ...]]:
    return name, tuple(sorted(labels.items()))


# -- /healthz and /readyz -------------------------------------------------------------------------


def test_healthz_answers_without_touching_the_upstream(client, upstream) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}
    assert upstream.connections == 0


def test_readyz_is_ready_when_the_backend_accepts_a_session_and_caches_it(client, upstream) -> None:
    first = client.get("/readyz")
    assert first.status_code == 200, first.json
    assert first.json == {"status": "ready"}
    assert upstream.connections == 1
    assert client.get("/readyz").status_code == 200
    assert upstream.connections == 1, "a second probe within the interval checked again"


def test_readyz_is_503_with_the_reason_when_credentials_are_refused(client, upstream) -> None:
    upstream.script.handshake_status = 401
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json["status"] == "unavailable"
    assert response.json["reason"]["code"] == "upstream_auth"


def test_readyz_is_503_when_the_engine_is_not_there() -> None:
    nowhere = {"SPEECH_ENGINE_URL": "http://127.0.0.1:9", "SPEECH_CONNECT_TIMEOUT": "1"}
    settings = Settings.from_mapping(nowhere)
    response = create_app(settings).test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["reason"]["code"] == "upstream_unavailable"


def test_readyz_is_ready_on_the_engine_once_it_answers(fake_engine) -> None:
    settings = Settings.from_mapping({"SPEECH_ENGINE_URL": fake_engine.url})
    response = create_app(settings).test_client().get("/readyz")
    assert response.status_code == 200, response.json


# -- request ids ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("abc-123._:X", True),
        ("a" * 128, True),
        ("a" * 129, False),
        ("has space", False),
        ("new\nline", False),
        ("", False),
        ("ünï", False),
    ],
)
def test_a_request_id_is_kept_only_when_valid(given: str, kept: bool) -> None:
    result = request_id_for(given)
    assert (result == given) is kept
    if not kept:
        assert len(result) == 32 and int(result, 16) >= 0


def test_every_family_answers_with_the_request_id(client, upstream) -> None:
    calls = [
        lambda h: client.get("/api/speech-realtime/info", headers=h),
        lambda h: client.get("/v1/models", headers=h),
        lambda h: client.get("/cognitiveservices/voices/list", headers=h),
        lambda h: client.get("/healthz", headers=h),
        lambda h: client.get("/metrics", headers=h),
        lambda h: client.get("/no/such/path", headers=h),  # an error
        lambda h: client.post(SYNTHESIZE, json={"text": ""}, headers=h),  # a 400
        lambda h: client.post("/v1/audio/speech", json={"input": ""}, headers=h),  # OpenAI's 400
    ]
    for call in calls:
        assert call({"X-Request-ID": "given-id"}).headers["X-Request-ID"] == "given-id"
        made = call({}).headers["X-Request-ID"]
        assert len(made) == 32


def test_a_stream_answers_with_the_request_id_and_its_lines_carry_it(client, upstream, caplog) -> None:
    upstream.script.mode = "close_before_done"  # fails after the first chunks: logged mid-stream
    with caplog.at_level(logging.INFO):
        response = client.post(STREAM, json={"text": "Hello there."}, headers={"X-Request-ID": "stream-1"})
        assert response.headers["X-Request-ID"] == "stream-1"
        with pytest.raises(ConnectionError):
            response.get_data()
    aborted = [r for r in caplog.records if "stream aborted" in r.getMessage()]
    assert aborted, "the stream did not log its failure"
    assert {getattr(r, "request_id", None) for r in aborted} == {"stream-1"}


def test_every_line_a_request_writes_carries_its_id(client, upstream, caplog) -> None:
    upstream.script.handshake_status = 404
    with caplog.at_level(logging.DEBUG):
        client.post(SYNTHESIZE, json={"text": "Hi."}, headers={"X-Request-ID": "req-42"})
    mine = [r for r in caplog.records if r.name.startswith("speech_realtime")]
    assert mine
    assert {getattr(r, "request_id", None) for r in mine} == {"req-42"}


# -- /metrics -------------------------------------------------------------------------------------


def test_metrics_is_prometheus_text(client) -> None:
    client.get("/api/speech-realtime/info")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    text = response.get_data(as_text=True)
    assert "# TYPE speech_http_requests_total counter" in text
    assert 'family="reference",route="/api/speech-realtime/info",status="200"' in text


def test_requests_are_counted_by_family_rule_and_status(client, upstream) -> None:
    labels = {
        "reference": ("reference", "/api/speech-realtime/synthesize", "400"),
        "openai": ("openai", "/v1/models", "200"),
        "azure": ("azure", "/cognitiveservices/voices/list", "200"),
        "none": ("none", "<unmatched>", "404"),
    }
    series = [
        ("speech_http_requests_total", dict(zip(("family", "route", "status"), v, strict=True)))
        for v in labels.values()
    ]
    delta = Delta(*series)
    client.post(SYNTHESIZE, json={"text": ""})
    client.get("/v1/models")
    client.get("/cognitiveservices/voices/list")
    client.get("/no/such/path/x1")
    for name, label in series:
        assert delta(name, **label) == 1, label


def test_a_stream_reports_its_first_byte_and_its_whole_duration(client, upstream) -> None:
    labels = {"family": "reference", "route": STREAM}
    delta = Delta(
        ("speech_http_stream_first_byte_seconds_count", labels),
        ("speech_http_request_duration_seconds_count", labels),
        ("speech_synthesis_first_audio_seconds_count", {}),
    )
    response = client.post(STREAM, json={"text": "Hello there."})
    assert response.status_code == 200
    response.get_data()
    response.close()
    assert delta("speech_http_stream_first_byte_seconds_count", **labels) == 1
    assert delta("speech_http_request_duration_seconds_count", **labels) == 1
    assert delta("speech_synthesis_first_audio_seconds_count") == 1


def test_sessions_audio_and_token_usage_with_an_estimated_cost(settings, upstream) -> None:
    prices = {
        ("input", "text"): 4.0,
        ("input", "audio"): 32.0,
        ("output", "text"): 16.0,
        ("output", "audio"): 64.0,
    }
    client = create_app(settings.with_changes(token_prices=prices)).test_client()
    upstream.script.usage = {
        "total_tokens": 100,
        "input_tokens": 30,
        "output_tokens": 70,
        "input_token_details": {"text_tokens": 30, "audio_tokens": 0, "cached_tokens": 0},
        "output_token_details": {"text_tokens": 10, "audio_tokens": 60},
    }
    upstream.script.transcription_usage = {
        "type": "tokens",
        "total_tokens": 25,
        "input_tokens": 20,
        "output_tokens": 5,
        "input_token_details": {"text_tokens": 0, "audio_tokens": 20},
    }
    tokens = [
        ("synthesis", "input", "text"),
        ("synthesis", "output", "text"),
        ("synthesis", "output", "audio"),
        ("transcription", "input", "audio"),
        ("transcription", "output", "unspecified"),
    ]
    delta = Delta(
        *(("speech_tokens_total", dict(zip(TOKEN_LABELS, t, strict=True))) for t in tokens),
        ("speech_estimated_cost_total", {"operation": "synthesis"}),
        ("speech_estimated_cost_total", {"operation": "transcription"}),
        ("speech_audio_seconds_total", {"direction": "in"}),
        ("speech_audio_seconds_total", {"direction": "out"}),
        ("speech_upstream_sessions_total", {}),
    )
    assert client.post(SYNTHESIZE, json={"text": "Hello there."}).status_code == 200
    recognition = {"audioData": LOUD_PCM, "format": "pcm16", "sampleRate": 24000}
    assert client.post(RECOGNIZE, json=recognition).status_code == 200
    counted = {t: delta("speech_tokens_total", **dict(zip(TOKEN_LABELS, t, strict=True))) for t in tokens}
    assert counted == dict(zip(tokens, [30, 10, 60, 20, 5], strict=True))
    synthesis_cost = (30 * 4 + 10 * 16 + 60 * 64) / 1e6
    assert delta("speech_estimated_cost_total", operation="synthesis") == pytest.approx(synthesis_cost)
    assert delta("speech_estimated_cost_total", operation="transcription") == pytest.approx(20 * 32 / 1e6)
    assert delta("speech_audio_seconds_total", direction="in") == pytest.approx(1.0)
    assert delta("speech_audio_seconds_total", direction="out") > 0
    assert delta("speech_upstream_sessions_total") == 2
    assert sample("speech_upstream_sessions_open") == 0


def test_upstream_errors_are_counted_by_code(client, upstream) -> None:
    delta = Delta(
        ("speech_upstream_errors_total", {"code": "upstream_auth"}),
        ("speech_upstream_errors_total", {"code": "content_filter"}),
    )
    upstream.script.handshake_status = 401
    assert client.post(SYNTHESIZE, json={"text": "Hi."}).status_code == 502
    upstream.reset(mode="content_filter")
    assert client.post(SYNTHESIZE, json={"text": "Hi."}).status_code == 422
    assert delta("speech_upstream_errors_total", code="upstream_auth") == 1
    assert delta("speech_upstream_errors_total", code="content_filter") == 1


def test_slot_refusals_are_counted(settings, upstream) -> None:
    app = create_app(settings.with_changes(max_sessions=1))
    delta = Delta(("speech_upstream_slot_refusals_total", {}))
    with app.extensions["speech"].hold():
        response = app.test_client().post(SYNTHESIZE, json={"text": "Hi."})
    assert response.status_code == 503
    assert delta("speech_upstream_slot_refusals_total") == 1


def test_a_reading_retry_is_counted(client, upstream) -> None:
    delta = Delta(("speech_service_events_total", {"event": "tts_retries"}))
    upstream.script.mode = "answer_once"
    assert client.post(SYNTHESIZE, json={"text": "Please read this sentence."}).status_code == 200
    assert delta("speech_service_events_total", event="tts_retries") == 1


def test_sdk_sockets_are_counted_open_and_log_their_connection_id(sdk_host, caplog) -> None:  # noqa: F811
    connection_id = "0123456789abcdef0123456789ABCDEF"
    socket_labels = {"family": "azure-sdk", "route": "/cognitiveservices/websocket/v1", "status": "101"}
    delta = Delta(("speech_http_requests_total", socket_labels))
    before = sample("speech_sdk_sockets_open")
    with caplog.at_level(logging.INFO):
        ws = websocket.create_connection(
            sdk_host + "/cognitiveservices/websocket/v1",
            timeout=5,
            header=[f"X-ConnectionId: {connection_id}", "X-Request-ID: sock-7"],
        )
        try:
            assert sample("speech_sdk_sockets_open") == before + 1
        finally:
            ws.close()
        assert wait_until(lambda: sample("speech_sdk_sockets_open") == before)
        assert wait_until(lambda: delta("speech_http_requests_total", **socket_labels) == 1)
    opened = [r for r in caplog.records if "websocket upgrade" in r.getMessage()]
    assert opened and connection_id in opened[0].getMessage()
    assert opened[0].request_id == "sock-7"


def test_streamed_recognition_counts_the_audio_it_was_given(app, upstream) -> None:
    delta = Delta(("speech_audio_seconds_total", {"direction": "in"}))
    stream = app.extensions["speech"].recognition_stream(rate=16000)
    try:
        stream.push(bytes(2 * 16000 // 2))  # half a second
    finally:
        stream.close()
    assert delta("speech_audio_seconds_total", direction="in") == pytest.approx(0.5)


def test_a_stream_closed_by_its_caller_is_not_an_upstream_error(settings, upstream) -> None:
    service = SpeechService(settings.with_changes(receive_timeout=10, request_timeout=10))
    upstream.script.mode = "silence"
    delta = Delta(("speech_upstream_errors_total", {"code": "upstream_error"}))
    stream = service.synthesize_stream("Nobody answers.")
    ended: list[BaseException] = []

    def read() -> None:
        try:
            next(stream)
        except (StopIteration, UpstreamError) as exc:  # a close from another thread ends the stream
            ended.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    assert wait_until(lambda: len(upstream.client_events("response.create")) == 1)
    stream.close()  # from this thread, while the reader waits for upstream
    reader.join(5)
    assert ended, "the wait did not end with the close"
    assert delta("speech_upstream_errors_total", code="upstream_error") == 0
