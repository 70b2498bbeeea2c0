"""Upstream resilience: which failures a fresh session may cure (:func:`retryable`), and the
circuit breaker that stops sending requests to an upstream that keeps failing.

Both judge :class:`~speech_realtime.errors.SpeechError` s only; the runner applies them (one
retry, before anything reached the client; the breaker around every session).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable

from .. import metrics
from ..errors import (
    BreakerOpen,
    RateLimited,
    SpeechError,
    UpstreamError,
    UpstreamRejected,
    UpstreamTimeout,
)

log = logging.getLogger(__name__)

#: The longest upstream Retry-After (seconds) worth waiting for before the one retry.
MAX_RETRY_WAIT = 2


def retryable(exc: BaseException) -> float | None:
    """Seconds to wait before retrying ``exc`` on a fresh session, or None: not retryable.

    Retryable: the upstream's passing trouble (``transient``: a 5xx handshake, an early close,
    a ``server_error``, a failed transcription) and a 429 whose Retry-After is at most
    :data:`MAX_RETRY_WAIT`. Never credentials, configuration, bad input or the content filter
    (none of them is transient).
    """
    if not isinstance(exc, SpeechError) or not exc.transient:
        return None  # our own limits (a per-key 429, no free slot) are not transient either
    if isinstance(exc, RateLimited):
        wait = exc.retry_after if exc.retry_after is not None else 1
        return float(wait) if wait <= MAX_RETRY_WAIT else None
    return 0.0


def upstream_fault(exc: BaseException) -> bool:
    """Whether ``exc`` says the upstream is failing (what the breaker counts): refusals,
    failures, timeouts and rate limits, not an upstream refusing our request as invalid."""
    upstream = isinstance(exc, (UpstreamError, UpstreamTimeout, RateLimited))
    return upstream and not isinstance(exc, (UpstreamRejected, BreakerOpen))


class CircuitBreaker:
    """Closed, open (fail fast) or half-open (one probe) for one backend; thread-safe.

    ``failures`` consecutive upstream failures open it; while open, :meth:`admit` raises
    :class:`BreakerOpen` with the rest of the ``cooldown`` as Retry-After. After the cool-down
    one caller is admitted as the probe: its success closes the breaker, its failure opens it
    again, and a neutral end (the client left, bad input) lets the next caller probe.
    """

    def __init__(
        self, failures: int, cooldown: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._limit = failures
        self._cooldown = cooldown
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False

    def admit(self) -> bool:
        """Let a request through (True: as the half-open probe), or raise :class:`BreakerOpen`
        (no connection is opened)."""
        with self._lock:
            if self._opened_at is None:
                return False
            remaining = self._opened_at + self._cooldown - self._clock()
            if remaining > 0 or self._probing:
                raise BreakerOpen(
                    "the upstream failed repeatedly; requests are held off it for a while",
                    retry_after=max(1, math.ceil(remaining)),
                )
            self._probing = True
            metrics.breaker_transition("half_open")
            return True

    def record(self, succeeded: bool | None, *, probe: bool) -> None:
        """The outcome of an admitted request: True, False (an upstream failure), or None
        (neutral); ``probe``: what :meth:`admit` said."""
        with self._lock:
            if probe:
                self._probing = False
            if succeeded is None:
                return
            if succeeded:
                self._failures = 0
                if self._opened_at is not None:
                    self._opened_at = None
                    metrics.breaker_transition("closed")
                return
            self._failures += 1
            if probe or (self._opened_at is None and self._failures >= self._limit):
                self._opened_at = self._clock()
                metrics.breaker_transition("open")
                log.warning("upstream circuit breaker open for %g s", self._cooldown)

    @property
    def open(self) -> bool:
        """Whether requests fail fast now (cool-down running, or a probe in flight)."""
        with self._lock:
            if self._opened_at is None:
                return False
            return self._probing or self._clock() < self._opened_at + self._cooldown

    def readiness_reason(self) -> str | None:
        """A :class:`~speech_realtime.readiness.ReadinessProbe` gate: not ready while open."""
        return BreakerOpen.code if self.open else None
