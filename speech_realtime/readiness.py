"""Readiness: can this process serve speech now? One cached check, never two at once.

The check is the service's own :meth:`~speech_realtime.speech.SpeechService.check` turn: it
opens a session with the configured credentials and waits for ``session.updated``. Against the
local engine that also proves its models are loaded (the engine only listens once they are
warm). A result is reused for :data:`CHECK_INTERVAL` seconds; while a check runs, other callers
get the previous result at once instead of waiting (only the very first check is waited for),
so a slow upstream cannot pile probe requests onto the worker's threads.

Gates are cheap conditions asked before the check on every call, not cached: each returns a
reason code when the process must not take traffic. The upstream circuit breaker plugs in
here (``gates=[breaker.readiness_reason]``): an open breaker is not ready without a check.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .errors import SpeechError

log = logging.getLogger(__name__)

#: Seconds a check result is reused.
CHECK_INTERVAL = 5.0


@dataclass(frozen=True)
class Readiness:
    """One answer: ready or not, and why not (an error code and its message)."""

    ready: bool
    checked_at: float
    code: str | None = None
    message: str | None = None

    def as_json(self) -> dict[str, object]:
        if self.ready:
            return {"status": "ready"}
        return {"status": "unavailable", "reason": {"code": self.code, "message": self.message}}


class ReadinessProbe:
    """Runs ``check`` (raises :class:`SpeechError` when not ready) at most every ``interval`` s."""

    def __init__(
        self,
        check: Callable[[], object],
        *,
        interval: float = CHECK_INTERVAL,
        gates: Sequence[Callable[[], str | None]] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._check = check
        self._interval = interval
        self._gates = tuple(gates)
        self._clock = clock
        self._lock = threading.Lock()
        self._last: Readiness | None = None
        self.checks = 0  # how many checks ran (tests and logs)

    def status(self) -> Readiness:
        """The current readiness: a gate's reason, the cached result, or a fresh check."""
        for gate in self._gates:
            reason = gate()
            if reason:
                return Readiness(False, self._clock(), reason, "not ready: " + reason)
        last = self._last
        if last is not None and self._clock() - last.checked_at < self._interval:
            return last
        if not self._lock.acquire(blocking=last is None):
            return last  # a check is running: the previous answer until it ends
        try:
            last = self._last
            if last is None or self._clock() - last.checked_at >= self._interval:
                self._last = last = self._run()
            return last
        finally:
            self._lock.release()

    def _run(self) -> Readiness:
        self.checks += 1
        try:
            self._check()
        except SpeechError as exc:
            log.warning("readiness check failed: %s: %s", exc.code, exc.message)
            return Readiness(False, self._clock(), exc.code, exc.message)
        except Exception:
            log.exception("readiness check failed")
            return Readiness(False, self._clock(), "internal_error", "the check failed; see the service log")
        return Readiness(True, self._clock())
