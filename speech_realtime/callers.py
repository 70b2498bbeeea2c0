"""Who a request is for, and how many upstream sessions each caller holds.

The web layer authenticates a request and sets :data:`CALLER` to an opaque id of the key it
presented (never the key itself); the session runner asks :class:`CallerSlots` for a place before
it takes a shared session slot, so one caller cannot take every upstream session. A context
variable carries the id down without every route and service method passing it along: it is set
on the request's thread and stays in that thread's context while the response streams.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from .errors import RateLimited

#: The current request's caller id; None when inbound keys are off (nobody is told apart).
CALLER: ContextVar[str | None] = ContextVar("speech_caller", default=None)


class CallerSlots:
    """At most ``limit`` concurrent sessions per caller id (``None``: no per-caller limit)."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self._held: dict[str, int] = {}
        self._lock = threading.Lock()

    def held(self, caller: str) -> int:
        """How many sessions ``caller`` holds now."""
        with self._lock:
            return self._held.get(caller, 0)

    @contextmanager
    def hold(self) -> Iterator[None]:
        """A place for the current caller for as long as the block runs; :class:`RateLimited`
        (429, retry after a second) when it already holds ``limit`` sessions."""
        caller = CALLER.get()
        if self.limit is None or caller is None:
            yield
            return
        with self._lock:
            held = self._held.get(caller, 0)
            if held >= self.limit:
                raise RateLimited(
                    f"this key already holds {self.limit} upstream sessions, the most one key may hold "
                    "at once; retry when one ends",
                    code="too_many_sessions",
                    retry_after=1,
                )
            self._held[caller] = held + 1
        try:
            yield
        finally:
            with self._lock:
                left = self._held[caller] - 1
                if left:
                    self._held[caller] = left
                else:
                    del self._held[caller]
