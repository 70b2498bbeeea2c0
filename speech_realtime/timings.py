"""Where a request's time went, for its ``Server-Timing`` header.

The web layer opens a :class:`Timings` for each request (:func:`begin`); the layers below add to
the current one with :func:`record` and :func:`timed` without knowing about HTTP, as they call
:mod:`.metrics`. Outside a request (a thread of its own, a test driving the runner directly)
there is no current one and nothing is recorded. Durations of the same name add up (a retried
session's two connects, every chunk's encoding).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token

#: The metrics, in the order a request meets them, with their descriptions.
NAMES = {
    "slot": "session slot wait",
    "connect": "upstream connect",
    "upstream": "first upstream delta",
    "encode": "audio encoding",
}


class Timings:
    """Milliseconds spent by name, and a note per name (``connect``: ``pooled`` or ``new``)."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.spent: dict[str, float] = {}
        self.notes: dict[str, str] = {}

    def add(self, name: str, seconds: float, note: str | None = None) -> None:
        self.spent[name] = self.spent.get(name, 0.0) + seconds * 1000
        if note is not None:
            self.notes[name] = note

    def header(self) -> str:
        """The ``Server-Timing`` value: each metric recorded, then ``total`` (time so far)."""
        parts = []
        for name, spent in self.spent.items():
            desc = NAMES.get(name, name)
            if name in self.notes:
                desc = f"{desc} ({self.notes[name]})"
            parts.append(f'{name};dur={spent:.1f};desc="{desc}"')
        total = (time.perf_counter() - self.started) * 1000
        parts.append(f'total;dur={total:.1f};desc="time in the service before the headers"')
        return ", ".join(parts)


_CURRENT: ContextVar[Timings | None] = ContextVar("speech_timings", default=None)


def begin() -> tuple[Timings, Token[Timings | None]]:
    """A fresh :class:`Timings` as the current one; pass the token to :func:`end`."""
    timings = Timings()
    return timings, _CURRENT.set(timings)


def end(token: Token[Timings | None]) -> None:
    _CURRENT.reset(token)


def current() -> Timings | None:
    return _CURRENT.get()


def record(name: str, seconds: float, note: str | None = None) -> None:
    """Add ``seconds`` to ``name`` in the current request's timings, if there is one."""
    timings = _CURRENT.get()
    if timings is not None:
        timings.add(name, seconds, note)


@contextmanager
def timed(name: str) -> Iterator[None]:
    """Add the block's duration to ``name`` (however the block ends)."""
    timings = _CURRENT.get()
    if timings is None:
        yield
        return
    started = time.perf_counter()
    try:
        yield
    finally:
        timings.add(name, time.perf_counter() - started)
