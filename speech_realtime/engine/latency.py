"""Injected network delay for the engine (``SPEECH_ENGINE_LATENCY_MS``), so that round trips
are measurable on loopback as they are against a cloud region.

:class:`DelayedSocket` wraps one engine WebSocket: every message it sends leaves ``delay``
seconds after it was handed over, and every message the client sent is handed to the session
``delay`` seconds after it arrived. Each direction is a FIFO queue served by a thread of its
own, so a delay never blocks another session, never reorders messages, and a burst costs one
delay, not one per message (the delay is a wire's, not a bandwidth limit).
:func:`accept_delay` is what accepting a connection costs: three round trips (TCP, TLS and the
WebSocket upgrade).
"""

from __future__ import annotations

import collections
import contextlib
import threading
import time
from typing import Any

#: Round trips a cloud connection costs before its first message: TCP, TLS and the upgrade.
ACCEPT_ROUND_TRIPS = 3


def accept_delay(delay: float) -> float:
    """Seconds accepting a connection costs with ``delay`` seconds each way."""
    return 2 * ACCEPT_ROUND_TRIPS * delay


class DelayedSocket:
    """``ws`` (a simple-websocket server socket) seen through a wire ``delay`` seconds long,
    with the ``send``/``receive``/``connected`` surface the engine's loop uses."""

    def __init__(self, ws: Any, delay: float) -> None:
        self._ws = ws
        self._delay = delay
        self._lock = threading.Condition()
        self._outgoing: collections.deque[tuple[float, str]] = collections.deque()
        self._incoming: collections.deque[tuple[float, Any]] = collections.deque()
        self._closed = False
        self._threads = [
            threading.Thread(target=self._write, name="engine-delay-out", daemon=True),
            threading.Thread(target=self._read, name="engine-delay-in", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    @property
    def connected(self) -> bool:
        with self._lock:
            return not self._closed or bool(self._incoming)

    def send(self, message: str) -> None:
        """Queue ``message``; it leaves ``delay`` seconds from now, after those queued before."""
        with self._lock:
            self._outgoing.append((time.monotonic() + self._delay, message))
            self._lock.notify_all()

    def receive(self, timeout: float | None = None) -> Any:
        """The next client message whose delay has passed, waiting at most ``timeout`` seconds
        (None: until one comes or the client leaves); None when there is none yet."""
        limit = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while True:
                now = time.monotonic()
                if self._incoming and self._incoming[0][0] <= now:
                    return self._incoming.popleft()[1]
                if self._closed and not self._incoming:
                    return None
                if limit is not None and now >= limit:
                    return None
                due = self._incoming[0][0] if self._incoming else None
                ends = [end for end in (limit, due) if end is not None]
                self._lock.wait(min(ends) - now if ends else None)

    def close(self) -> None:
        """Stop both queues (messages not yet delivered are dropped, as on a cut wire)."""
        with self._lock:
            self._closed = True
            self._outgoing.clear()
            self._lock.notify_all()
        with contextlib.suppress(Exception):
            self._ws.close()

    def _write(self) -> None:
        while True:
            with self._lock:
                while not self._closed and (not self._outgoing or self._outgoing[0][0] > time.monotonic()):
                    due = self._outgoing[0][0] - time.monotonic() if self._outgoing else None
                    self._lock.wait(due)
                if self._closed:
                    return
                message = self._outgoing.popleft()[1]
            try:
                self._ws.send(message)
            except Exception:  # the client left: the session sees it on its next receive
                self._stop()
                return

    def _read(self) -> None:
        while True:
            try:
                message = self._ws.receive()
            except Exception:
                message = None
            if message is None:
                self._stop()
                return
            with self._lock:
                self._incoming.append((time.monotonic() + self._delay, message))
                self._lock.notify_all()

    def _stop(self) -> None:
        with self._lock:
            self._closed = True
            self._lock.notify_all()
