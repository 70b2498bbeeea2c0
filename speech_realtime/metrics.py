"""The service's Prometheus metrics, and the calls the layers make to move them.

Every metric lives here, so the rest of the code makes one-line calls (``metrics.slot_refused()``)
and nothing below the web layer knows about Flask or HTTP. The metrics are created when this
module is imported; under ``serve`` that happens after :func:`speech_realtime.metrics_dir.prepare`
pointed prometheus-client at a fresh multiprocess directory, so every gunicorn worker writes
its values to files there and ``/metrics`` (:func:`exposition`) adds them up. Gauges say how
workers combine (``livesum``: the sum over the workers that are alive).

Names follow Prometheus conventions: ``speech_`` prefix, base units (seconds), ``_total`` on
counters (added by prometheus-client).
"""

from __future__ import annotations

import threading
import time
from collections import Counter as _Tally
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as _multiprocess

from .errors import ContentFiltered, RateLimited, UpstreamError, UpstreamTimeout

#: Latency buckets (seconds): from a cached /info to a long synthesis.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

REQUESTS = Counter(
    "speech_http_requests",
    "HTTP requests answered, by API family, route (the URL rule) and status.",
    ("family", "route", "status"),
)
REQUEST_SECONDS = Histogram(
    "speech_http_request_duration_seconds",
    "Time from the request's start to the end of its answer (streams: the whole stream).",
    ("family", "route"),
    buckets=LATENCY_BUCKETS,
)
FIRST_BYTE_SECONDS = Histogram(
    "speech_http_stream_first_byte_seconds",
    "Streamed answers (chunked audio, Server-Sent Events): time from the request's start to "
    "the first byte of the body.",
    ("family", "route"),
    buckets=LATENCY_BUCKETS,
)
FIRST_AUDIO_SECONDS = Histogram(
    "speech_synthesis_first_audio_seconds",
    "Streamed synthesis on every front end (Azure Speech SDK sockets included): time from "
    "asking for a session to the first encoded audio.",
    buckets=LATENCY_BUCKETS,
)
SESSIONS_OPEN = Gauge(
    "speech_upstream_sessions_open",
    "Upstream Realtime sessions open now.",
    multiprocess_mode="livesum",
)
SESSIONS = Counter("speech_upstream_sessions", "Upstream Realtime sessions opened.")
SLOT_REFUSALS = Counter(
    "speech_upstream_slot_refusals",
    "Requests refused 503 because every upstream session slot was busy.",
)
UPSTREAM_ERRORS = Counter(
    "speech_upstream_errors",
    "Upstream failures (refused handshakes, error events, timeouts, content filter) by code.",
    ("code",),
)
RETRIES = Counter(
    "speech_upstream_retries",
    "Requests retried once on a fresh session after a retryable upstream failure, by its code.",
    ("code",),
)
BREAKER_OPEN = Gauge(
    "speech_upstream_breaker_open",
    "1 while the upstream circuit breaker holds requests off (open or half-open), else 0.",
    multiprocess_mode="livemax",
)
BREAKER_TRANSITIONS = Counter(
    "speech_upstream_breaker_transitions",
    "Circuit breaker state changes, by the state entered (open, half_open, closed).",
    ("state",),
)
SDK_SOCKETS_OPEN = Gauge(
    "speech_sdk_sockets_open",
    "Azure Speech SDK WebSockets open now.",
    multiprocess_mode="livesum",
)
EVENTS = Counter(
    "speech_service_events",
    "Service events: tts_retries (a reading asked for again), tts_mismatches, streams_aborted.",
    ("event",),
)
AUDIO_SECONDS = Counter(
    "speech_audio_seconds",
    "Seconds of audio recognized (direction=in) and synthesized (direction=out).",
    ("direction",),
)
TOKENS = Counter(
    "speech_tokens",
    "Realtime token usage by operation, direction and modality (unspecified: the backend gave "
    "no text/audio breakdown).",
    ("operation", "direction", "modality"),
)
POOL_IDLE = Gauge(
    "speech_pool_idle_sessions",
    "Pre-connected upstream sessions waiting in the pool now (SPEECH_POOL_SIZE).",
    multiprocess_mode="livesum",
)
POOL_TAKES = Counter(
    "speech_pool_takes",
    "Sessions asked of the pool, by outcome: hit (a pre-connected one) or miss (a new connection).",
    ("outcome",),
)
POOL_RETIRED = Counter(
    "speech_pool_retired",
    "Pooled sessions closed unused, by reason (age, closed, stale, reclaimed by a request, "
    "drained, failed to open).",
    ("reason",),
)
COST = Counter(
    "speech_estimated_cost",
    "Estimated cost of the tokens with a breakdown, at the SPEECH_PRICE_* prices per million tokens.",
    ("operation",),
)


# -- calls from the layers ------------------------------------------------------------------------


def slot_refused() -> None:
    """A request found no free upstream session slot."""
    SLOT_REFUSALS.inc()


@contextmanager
def upstream_session() -> Iterator[None]:
    """An upstream session is open for as long as the block runs."""
    SESSIONS.inc()
    SESSIONS_OPEN.inc()
    try:
        yield
    finally:
        SESSIONS_OPEN.dec()


class UpstreamFailures:
    """What :func:`upstream_errors` watches: the session's connection once it is open."""

    connection: object = None

    def ours(self) -> bool:
        """Whether the connection was aborted on our side (a client left, a stream was closed)."""
        return bool(getattr(self.connection, "aborted", False))


@contextmanager
def upstream_errors() -> Iterator[UpstreamFailures]:
    """Count the upstream failures that end the block, except those of a connection we aborted
    (other failures pass uncounted)."""
    failures = UpstreamFailures()
    try:
        yield failures
    except (UpstreamError, UpstreamTimeout, RateLimited, ContentFiltered) as exc:
        if not failures.ours():
            UPSTREAM_ERRORS.labels(exc.code).inc()
        raise


def retried(code: str) -> None:
    """A request is retried on a fresh session after a failure with ``code``."""
    RETRIES.labels(code).inc()


def breaker_transition(state: str) -> None:
    """The circuit breaker entered ``state`` (``open``, ``half_open`` or ``closed``)."""
    BREAKER_TRANSITIONS.labels(state).inc()
    BREAKER_OPEN.set(0 if state == "closed" else 1)


@contextmanager
def sdk_socket() -> Iterator[None]:
    """An Azure Speech SDK socket is open for as long as the block runs."""
    SDK_SOCKETS_OPEN.inc()
    try:
        yield
    finally:
        SDK_SOCKETS_OPEN.dec()


class FirstAudio:
    """Times a synthesis stream from its start to its first audio (observed once)."""

    def __init__(self) -> None:
        self._started: float | None = time.perf_counter()

    def arrived(self) -> None:
        if self._started is not None:
            FIRST_AUDIO_SECONDS.observe(time.perf_counter() - self._started)
            self._started = None


def pool_idle(count: int) -> None:
    """The pool now holds ``count`` idle sessions."""
    POOL_IDLE.set(count)


def pool_taken(*, hit: bool) -> None:
    """A session was asked of the pool: ``hit`` if a pre-connected one was there."""
    POOL_TAKES.labels("hit" if hit else "miss").inc()


def pool_retired(reason: str) -> None:
    """A pooled session was closed without serving a request."""
    POOL_RETIRED.labels(reason).inc()


def audio_in(seconds: float) -> None:
    """Audio a recognition turn sent upstream."""
    AUDIO_SECONDS.labels("in").inc(max(0.0, seconds))


def audio_out(seconds: float) -> None:
    """Audio a synthesis turn received."""
    AUDIO_SECONDS.labels("out").inc(max(0.0, seconds))


def token_usage(
    operation: str, usage: Mapping[str, Any] | None, prices: Mapping[tuple[str, str], float]
) -> None:
    """Count a Realtime ``usage`` object's tokens and their estimated cost.

    ``usage`` is a ``response.done`` or transcription ``usage``: ``input_tokens``,
    ``output_tokens`` and, where the backend reports them, ``input_token_details`` /
    ``output_token_details`` with ``text_tokens`` and ``audio_tokens``. Tokens without a
    breakdown are counted as ``unspecified`` and not priced (their modality, and so their
    price, is unknown). Duration-based usage (whisper-1: ``seconds``) has no tokens.
    """
    if not isinstance(usage, Mapping):
        return
    cost = 0.0
    for direction in ("input", "output"):
        for modality, tokens in split_tokens(usage, direction).items():
            if tokens:
                TOKENS.labels(operation, direction, modality).inc(tokens)
                cost += tokens * prices.get((direction, modality), 0.0) / 1_000_000
    if cost:
        COST.labels(operation).inc(cost)


def split_tokens(usage: Mapping[str, Any], direction: str) -> dict[str, int]:
    """``{"text": n, "audio": m}`` from the details, plus ``unspecified`` for the rest of the total."""
    total = _count(usage.get(f"{direction}_tokens"))
    details = usage.get(f"{direction}_token_details")
    split: dict[str, int] = {}
    if isinstance(details, Mapping):
        for modality in ("text", "audio"):
            split[modality] = _count(details.get(f"{modality}_tokens"))
    split["unspecified"] = max(0, total - sum(split.values()))
    return split


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


class Counters:
    """Service events: counted for Prometheus and kept per service for ``/info``'s ``stats``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: _Tally[str] = _Tally()

    def add(self, name: str) -> None:
        EVENTS.labels(name).inc()
        with self._lock:
            self._counts[name] += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)


# -- calls from the web layer ---------------------------------------------------------------------


def request_done(family: str, route: str, status: int, seconds: float) -> None:
    """An HTTP answer ended (its whole body written, or the client gone)."""
    REQUESTS.labels(family, route, str(status)).inc()
    REQUEST_SECONDS.labels(family, route).observe(seconds)


def first_byte(family: str, route: str, seconds: float) -> None:
    """A streamed answer wrote its first body byte."""
    FIRST_BYTE_SECONDS.labels(family, route).observe(seconds)


def exposition(directory: str | None) -> tuple[bytes, str]:
    """The metrics in Prometheus text format, and its content type.

    ``directory``: the multiprocess directory of a ``serve`` run (every worker's values, added
    up); None: this process's registry.
    """
    if directory is None:
        return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
    registry = CollectorRegistry()
    _multiprocess.MultiProcessCollector(registry, path=directory)
    return generate_latest(registry), CONTENT_TYPE_LATEST


def worker_exited(pid: int, directory: str | None) -> None:
    """A worker ended: its ``live*`` gauge values no longer count."""
    if directory is not None:
        _multiprocess.mark_process_dead(pid, directory)
