"""Upstream resilience against the scripted upstream: one retry on a fresh session for a
retryable failure (never after bytes reached the client, never for the client's or the
configuration's fault), the circuit breaker, and upstream error words kept from clients."""

from __future__ import annotations

import json
import logging
import time

import pytest

from speech_realtime.audio.wav import write_wav
from speech_realtime.errors import (
    BreakerOpen,
    ContentFiltered,
    RateLimited,
    UpstreamAuth,
    UpstreamConfig,
    UpstreamError,
    UpstreamRejected,
)
from speech_realtime.realtime.events import (
    ServerEvent,
    error_from_event,
    error_from_failure,
    parse_server_event,
)
from speech_realtime.realtime.resilience import CircuitBreaker, retryable, upstream_fault
from speech_realtime.speech import SpeechService

PCM = bytes(48000)  # 1 s of 24 kHz PCM16 silence


def event(kind: str, **data: object) -> ServerEvent:
    return parse_server_event(json.dumps({"type": kind, **data}))


# -- the predicate ----------------------------------------------------------------------------


def test_retryable_failures_and_their_waits() -> None:
    assert retryable(UpstreamError("5xx", transient=True)) == 0.0
    assert retryable(RateLimited("429", retry_after=2, transient=True)) == 2.0
    assert retryable(RateLimited("429", retry_after=3, transient=True)) is None
    assert retryable(RateLimited("our own per-key cap", retry_after=1)) is None
    for exc in (
        UpstreamAuth("401"),
        UpstreamConfig("404"),
        UpstreamRejected("invalid_request_error"),
        ContentFiltered("filter"),
        UpstreamError("malformed"),
        ValueError("bug"),
    ):
        assert retryable(exc) is None, exc


def test_what_the_breaker_counts() -> None:
    assert upstream_fault(UpstreamError("x")) and upstream_fault(UpstreamAuth("x"))
    assert upstream_fault(RateLimited("x"))
    assert not upstream_fault(UpstreamRejected("bad input"))
    assert not upstream_fault(ContentFiltered("filter"))
    assert not upstream_fault(BreakerOpen("open"))


# -- upstream words stay in the log -----------------------------------------------------------

SECRET_WORDS = "the deployment quota-7731 of tenant contoso exploded"


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (
            lambda: event("error", error={"type": "server_error", "code": "boom_7", "message": SECRET_WORDS}),
            "boom_7",
        ),
        (
            lambda: event(
                "conversation.item.input_audio_transcription.failed",
                item_id="i",
                error={"type": "transcription_error", "message": SECRET_WORDS},
            ),
            "transcription_error",
        ),
    ],
)
def test_upstream_words_go_to_the_log_and_only_the_code_to_the_error(make, code, caplog) -> None:
    ev = make()
    convert = error_from_event if ev.type == "error" else error_from_failure
    with caplog.at_level(logging.WARNING):
        error = convert(ev)
    assert SECRET_WORDS not in error.message and f"upstream code: {code}" in error.message
    assert error.transient
    assert any(
        SECRET_WORDS in record.getMessage() and record.levelno == logging.WARNING for record in caplog.records
    )


def test_an_invalid_request_error_is_a_rejection_and_odd_codes_are_cleaned() -> None:
    rejected = error_from_event(
        event("error", error={"type": "invalid_request_error", "code": "bad <b>x</b>"})
    )
    assert isinstance(rejected, UpstreamRejected) and not rejected.transient
    assert "upstream code: badbxb" in rejected.message


# -- the breaker on a fake clock --------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_breaker_opens_fails_fast_lets_one_probe_through_and_closes() -> None:
    clock = Clock()
    breaker = CircuitBreaker(3, 10.0, clock=clock)
    for _ in range(2):
        breaker.record(False, probe=breaker.admit())
    breaker.record(True, probe=breaker.admit())  # a success resets the count
    for _ in range(3):
        breaker.record(False, probe=breaker.admit())
    assert breaker.open and breaker.readiness_reason() == "upstream_unavailable"
    clock.now += 4.2
    with pytest.raises(BreakerOpen) as caught:
        breaker.admit()
    assert caught.value.status == 503 and caught.value.headers == {"Retry-After": "6"}
    clock.now += 6
    assert breaker.admit() is True  # the probe
    assert breaker.open
    with pytest.raises(BreakerOpen):
        breaker.admit()  # only one probe at a time
    breaker.record(False, probe=True)  # the probe failed: open again, a full cool-down
    with pytest.raises(BreakerOpen):
        breaker.admit()
    clock.now += 10
    breaker.record(None, probe=breaker.admit())  # a neutral end lets the next caller probe
    breaker.record(True, probe=breaker.admit())
    assert not breaker.open and breaker.readiness_reason() is None
    assert breaker.admit() is False


# -- retries against the scripted upstream ----------------------------------------------------

SYNTHESIS_RETRIED = [
    {"handshake_status": 500},
    {"handshake_status": 503},
    {"mode": "error_event"},  # a server_error event
    {"handshake_status": 429, "retry_after": "1"},
    {"mode": "rate_limit_event"},
]


@pytest.mark.parametrize("script", SYNTHESIS_RETRIED)
def test_a_retryable_synthesis_failure_is_retried_once_on_a_fresh_session(settings, upstream, script) -> None:
    service = SpeechService(settings)
    upstream.reset(fail_sessions=1, **script)
    speech = service.synthesize("Hello there.")
    assert speech.audio and speech.verbatim
    assert upstream.connections == 2
    assert len(upstream.client_events("response.create")) == 1 + ("mode" in script)


@pytest.mark.parametrize("mode", ["transcription_failed", "close_before_done", "error_event"])
def test_a_retryable_recognition_failure_is_retried_once(settings, upstream, mode) -> None:
    service = SpeechService(settings)
    upstream.reset(fail_sessions=1, mode=mode)
    transcript = service.recognize_media(write_wav(PCM, 24000))
    assert transcript.text == "hello from the scripted server"
    assert upstream.connections == 2


def test_a_failure_on_both_sessions_fails_after_one_retry(settings, upstream) -> None:
    service = SpeechService(settings)
    upstream.reset(handshake_status=502)
    with pytest.raises(UpstreamError):
        service.synthesize("Hello there.")
    assert upstream.connections == 2


@pytest.mark.parametrize(
    ("script", "error"),
    [
        ({"handshake_status": 401}, UpstreamAuth),
        ({"handshake_status": 403}, UpstreamAuth),
        ({"handshake_status": 404}, UpstreamConfig),
        ({"handshake_status": 429, "retry_after": "5"}, RateLimited),
        ({"mode": "content_filter"}, ContentFiltered),
        ({"mode": "malformed"}, UpstreamError),
    ],
)
def test_a_non_retryable_failure_is_not_retried(settings, upstream, script, error) -> None:
    service = SpeechService(settings)
    upstream.reset(fail_sessions=1, **script)
    with pytest.raises(error):
        service.synthesize("Hello there.")
    assert upstream.connections == 1


def test_a_stream_is_retried_before_its_first_chunk_only(settings, upstream) -> None:
    service = SpeechService(settings)
    upstream.reset(fail_sessions=1, handshake_status=500)
    with service.synthesize_stream("Hello there.") as stream:
        assert b"".join(stream)
    assert upstream.connections == 2

    upstream.reset(fail_sessions=1, mode="close_before_done")  # closes after the first chunk
    with service.synthesize_stream("Hello there.") as stream:
        assert next(stream)
        with pytest.raises(UpstreamError):
            list(stream)
    assert upstream.connections == 1


def test_retries_are_counted(settings, upstream) -> None:
    from prometheus_client import REGISTRY

    def retries() -> float:
        return REGISTRY.get_sample_value("speech_upstream_retries_total", {"code": "upstream_error"}) or 0.0

    before = retries()
    upstream.reset(fail_sessions=1, handshake_status=500)
    SpeechService(settings).synthesize("Hello there.")
    assert retries() == before + 1


# -- the breaker against the scripted upstream ------------------------------------------------


def test_the_breaker_opens_after_n_failures_fails_fast_and_a_probe_closes_it(settings, upstream) -> None:
    service = SpeechService(settings.with_changes(breaker_failures=2, breaker_cooldown=0.3))
    upstream.reset(handshake_status=401)  # not retried: one connection a request
    for _ in range(2):
        with pytest.raises(UpstreamAuth):
            service.synthesize("Hello there.")
    assert upstream.connections == 2
    with pytest.raises(BreakerOpen) as caught:
        service.synthesize("Hello there.")
    assert caught.value.code == "upstream_unavailable" and caught.value.retry_after == 1
    assert upstream.connections == 2  # failed fast: no connection
    upstream.reset()
    deadline = time.monotonic() + 2
    while service.runner.breaker.open:  # the cool-down (0.3 s)
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert service.synthesize("Hello there.").audio  # the probe
    assert upstream.connections == 1 and not service.runner.breaker.open


def test_client_errors_never_open_the_breaker(settings, upstream) -> None:
    service = SpeechService(settings.with_changes(breaker_failures=1))
    upstream.reset(mode="content_filter")
    for _ in range(2):
        with pytest.raises(ContentFiltered):
            service.synthesize("Hello there.")
    assert not service.runner.breaker.open
