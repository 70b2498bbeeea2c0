"""A complete drain: what ``serve`` does on SIGTERM, SIGINT and SIGQUIT alike.

- :class:`SpeechArbiter` (gunicorn's master process) treats all three as SIGTERM, and shuts its
  listening sockets down before anything else: the kernel refuses new connections at once
  (a closed descriptor would not do it: every worker holds a copy of the listener, so the
  socket would keep listening, and connections queued in its backlog would hang until the
  last worker exits and then be reset).
- The worker (:class:`Drain`, run by :class:`~speech_realtime.web.server.SpeechWorker`) closes
  its idle keep-alive and parked connections, answers requests it accepted but has not started
  503 with ``Retry-After``, lets requests and streams in flight finish, sets the app's shutdown
  event (Azure SDK sockets drain as before), and aborts WebSockets still open shortly after
  their own drain and everything still open at ``SPEECH_GRACEFUL_TIMEOUT``: a peer that never
  answers cannot hold the process. A worker whose parent died does the same, and shuts the
  listeners itself.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import socket
import threading
import time
from typing import Any

from gunicorn.arbiter import Arbiter

from .socket_loop import DRAIN_SECONDS

log = logging.getLogger(__name__)

#: How long after the drain starts WebSockets still open are aborted: the SDK sockets' own
#: drain (a running turn may take ``DRAIN_SECONDS`` to end) plus a second for the close.
WEBSOCKET_GRACE = DRAIN_SECONDS + 1.0
#: The arbiter's margin over the workers' graceful timeout before it kills them.
KILL_MARGIN = 5.0
#: Retry-After of the 503 given to requests a draining worker will not start.
RETRY_AFTER = 1


def shut_listeners(listeners: list[Any]) -> None:
    """Stop ``listeners`` accepting, in every process sharing them: the kernel refuses new
    connections from now on, and those waiting in the backlog are reset instead of hanging."""
    for listener in listeners:
        sock = getattr(listener, "sock", listener)
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def assign_slot(arbiter: Arbiter, worker: Any) -> None:
    """gunicorn's ``pre_fork`` hook: the lowest slot no live worker has (a worker that replaces
    a dead one takes its slot, so its share of the limits)."""
    taken = {getattr(live, "slot", None) for live in arbiter.WORKERS.values()}
    worker.slot = next(slot for slot in itertools.count() if slot not in taken)


class SpeechArbiter(Arbiter):  # type: ignore[misc]
    """gunicorn's master: SIGINT and SIGQUIT drain like SIGTERM; the listeners stop at once."""

    def handle_int(self) -> None:
        raise StopIteration

    def handle_quit(self) -> None:
        raise StopIteration

    def stop(self, graceful: bool = True) -> None:
        # Not when a re-executed master (USR2) or systemd shares the listeners: they go on serving.
        if self.reexec_pid == self.master_pid == 0 and not self.systemd:
            shut_listeners(self.LISTENERS)
        super().stop(graceful)


class Drain:
    """One worker's drain: when it started, the connections in flight, what to abort when."""

    def __init__(self, graceful_timeout: float) -> None:
        self.graceful_timeout = graceful_timeout
        self.started: float | None = None
        self._lock = threading.Lock()
        self._active: dict[int, tuple[socket.socket, bool]] = {}
        self._websockets_aborted = False
        self._all_aborted = False

    @property
    def draining(self) -> bool:
        return self.started is not None

    def begin(self) -> None:
        if self.started is None:
            self.started = time.monotonic()
            log.info("draining: %d connections in flight", len(self._active))

    def serving(self, sock: socket.socket, websocket: bool) -> None:
        """A request (or WebSocket) on ``sock`` is running."""
        with self._lock:
            self._active[id(sock)] = (sock, websocket)

    def served(self, sock: socket.socket) -> None:
        with self._lock:
            self._active.pop(id(sock), None)

    def tick(self) -> None:
        """Abort what outlived its time (called from the worker's loop at least every second)."""
        if self.started is None:
            return
        elapsed = time.monotonic() - self.started
        if not self._websockets_aborted and elapsed >= WEBSOCKET_GRACE:
            self._websockets_aborted = True
            self._abort(websockets_only=True)
        if not self._all_aborted and elapsed >= self.graceful_timeout:
            self._all_aborted = True
            self._abort(websockets_only=False)

    def _abort(self, *, websockets_only: bool) -> None:
        with self._lock:
            victims = [sock for sock, ws in self._active.values() if ws or not websockets_only]
        if victims:
            what = "WebSockets" if websockets_only else "connections"
            log.warning("draining: aborting %d %s still open", len(victims), what)
        for sock in victims:
            # shutdown, not close: it wakes a thread blocked reading or writing the socket
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
