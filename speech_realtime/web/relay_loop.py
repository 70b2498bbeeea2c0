"""The relay's socket pump: one client WebSocket, one upstream Realtime session, one queue.

Two reader threads put what arrives into the loop's inbox: the client's frames (then its
going), and the upstream's events (then its end, tagged with the session's generation so a
renewed session's predecessor is ignored). The loop takes one item at a time, hands it to the
:class:`~speech_realtime.relay.conversation.RelayMachine` and carries out the effects; it is the
only writer on either socket. Between items it wakes for the machine's timers (length, idle,
renewal) and the pings.

- The upstream session comes from the :class:`~speech_realtime.realtime.runner.SessionRunner`
  (``duplex``): it holds a session slot and the caller's per-key slot for the connection's
  life, passes the circuit breaker, and is counted as an open upstream session.
- Either side going away ends the loop at once: the other side is closed (the upstream with a
  close frame, the client 1011 after an ``error`` message), well within a second.
- Pings: the client every ``SPEECH_RELAY_PING_INTERVAL`` seconds (no pong by the next ping: it
  is gone); the upstream on the same beat (a failed ping: it is gone).
- Renewal: when the machine says so (a quiet moment after ``SPEECH_RELAY_RENEW_AFTER``), the
  upstream session is closed and a fresh one opened and configured by the machine.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

from flask_sock import ConnectionClosed

from .. import metrics
from ..errors import SpeechError, UpstreamError
from ..realtime.events import parse_server_event
from ..realtime.runner import SessionRunner
from ..realtime.transport import Connection
from ..relay import messages
from ..relay.conversation import Close, Effect, RelayMachine, Renew, ToClient, ToUpstream
from ..relay.messages import BYTES_PER_SECOND
from .sdk_setup import Shutdown
from .socket_loop import Wire

log = logging.getLogger(__name__)

CLIENT, CLIENT_GONE, UPSTREAM, UPSTREAM_GONE, WAKE = (
    "client",
    "client_gone",
    "upstream",
    "upstream_gone",
    "wake",
)
#: Close codes: the upstream failed (1011), try again later (1013: no slot, breaker open, rate
#: limited), the service is stopping (1001).
INTERNAL, TRY_AGAIN, GOING_AWAY = 1011, 1013, 1001


class RelayLoop:
    """Runs one relay connection to its end (:meth:`run` returns when both sides are closed).

    ``count`` is told of service events (``relay_barge_ins``, ``relay_renewals``: the
    ``speech_service_events`` metric)."""

    def __init__(
        self,
        wire: Wire,
        machine: RelayMachine,
        runner: SessionRunner,
        *,
        ping_interval: float,
        shutdown: Shutdown | None = None,
        count: Callable[[str], None] | None = None,
    ) -> None:
        self.wire = wire
        self.machine = machine
        self.runner = runner
        self.ping_interval = ping_interval
        self.shutdown = shutdown or Shutdown()
        self.count = count or (lambda name: None)
        self.inbox: queue.Queue[tuple[str, int, Any]] = queue.Queue()
        self.upstream = ExitStack()
        self.conn: Connection | None = None
        self.generation = 0
        self.open = True
        self.lost = False  # the client stopped answering: cut its connection when done
        self.failure: SpeechError | None = None  # what ended the upstream session, if it failed

    def run(self) -> None:
        threading.Thread(target=self._read_client, name="relay-client", daemon=True).start()
        unsubscribe = self.shutdown.subscribe(lambda: self.inbox.put((WAKE, 0, None)))
        try:
            self._connect()
            self.apply(self.machine.start())
            self._loop()
        except SpeechError as exc:
            self._refuse(exc)
        except Exception:  # a defect must not leave the client waiting
            log.exception("relay: connection failed")
            self._close_client(INTERNAL, "internal error; see the service log")
        finally:
            unsubscribe()
            if self.conn is not None:  # the close frame goes now; the peer's answer is not awaited
                self.conn.close(wait=0)
            self._release_upstream()
            self.wire.release(abort=self.lost)

    def _release_upstream(self) -> None:
        """Give the session back; an upstream failure goes with it (the breaker counts it)."""
        failure, self.failure = self.failure, None
        if failure is None:
            self.upstream.close()
        else:
            self.upstream.__exit__(type(failure), failure, failure.__traceback__)

    # -- the sides --------------------------------------------------------------------------

    def _connect(self) -> None:
        """Open an upstream session (a slot, the breaker, a connection) and read it."""
        self.conn = self.upstream.enter_context(self.runner.duplex())
        self.generation += 1
        generation, conn = self.generation, self.conn
        threading.Thread(
            target=self._read_upstream, args=(conn, generation), name="relay-upstream", daemon=True
        ).start()

    def _read_client(self) -> None:
        try:
            while True:
                self.inbox.put((CLIENT, 0, self.wire.receive()))
        except Exception:  # ConnectionClosed, or the socket failed under the reader
            self.inbox.put((CLIENT_GONE, 0, None))

    def _read_upstream(self, conn: Connection, generation: int) -> None:
        try:
            while True:
                self.inbox.put((UPSTREAM, generation, conn.receive_idle(None)))
        except SpeechError as exc:
            self.inbox.put((UPSTREAM_GONE, generation, exc))
        except OSError:  # the connection was released under the read (the relay is closing it)
            self.inbox.put((UPSTREAM_GONE, generation, UpstreamError("upstream connection closed")))

    def _renew(self) -> None:
        log.info("relay: renewing the upstream session")
        self.generation += 1  # the old reader's end is not the connection's
        self.upstream.close()
        self.upstream = ExitStack()
        self._connect()
        self.count("relay_renewals")
        self.apply(self.machine.renewed(time.monotonic()))

    # -- the loop ---------------------------------------------------------------------------

    def _loop(self) -> None:
        ping_due = time.monotonic() + self.ping_interval
        while self.open:
            now = time.monotonic()
            wait = max(0.0, min(self.machine.deadline(now), ping_due) - now)
            try:
                kind, generation, value = self.inbox.get(timeout=wait)
            except queue.Empty:
                kind, generation, value = WAKE, 0, None
            now = time.monotonic()
            effects = self._take(kind, generation, value, now)
            if self.open and self.shutdown.is_set():
                effects += [
                    ToClient(messages.error("shutting_down", "the service is stopping")),
                    Close(GOING_AWAY, "service stopping"),
                ]
            effects += self.machine.tick(now)
            if now >= ping_due:
                ping_due = now + self.ping_interval
                effects += self._ping()
            self.apply(effects)

    def _take(self, kind: str, generation: int, value: Any, now: float) -> list[Effect]:
        if kind == CLIENT:
            before = self.machine.audio_bytes
            effects = self.machine.client_frame(value, now)
            if self.machine.audio_bytes > before:
                metrics.audio_in((self.machine.audio_bytes - before) / BYTES_PER_SECOND)
            return effects
        if kind == CLIENT_GONE:
            log.info("relay: the client closed the connection")
            self.open = False
            return []
        if generation != self.generation:
            return []  # a renewed session's predecessor
        if kind == UPSTREAM:
            barge_ins = self.machine.barge_ins
            effects = self.machine.upstream_event(parse_server_event(value), now)
            if self.machine.barge_ins > barge_ins:
                self.count("relay_barge_ins")
            return effects
        if kind == UPSTREAM_GONE:
            log.warning("relay: the upstream session ended: %s", value.message)
            self.failure = value
            message = "the upstream session ended unexpectedly"
            return [ToClient(messages.error("upstream_closed", message)), Close(INTERNAL, "upstream closed")]
        return []

    def _ping(self) -> list[Effect]:
        try:
            answered = self.wire.ping()
        except OSError:
            answered = False
        if not answered:
            log.info("relay: the client answered no ping within %g s; closing", self.ping_interval)
            self.lost = True
            self.open = False
            return []
        if self.conn is not None:
            try:
                self.conn.ping()
            except UpstreamError as exc:
                self.failure = exc
                return [
                    ToClient(messages.error("upstream_closed", "the upstream stopped answering")),
                    Close(INTERNAL, "upstream gone"),
                ]
        return []

    def apply(self, effects: list[Effect]) -> None:
        for effect in effects:
            if not self.open:
                return
            try:
                if isinstance(effect, ToClient):
                    self.wire.send(effect.frame)
                    if isinstance(effect.frame, bytes):
                        metrics.audio_out(len(effect.frame) / BYTES_PER_SECOND)
                elif isinstance(effect, ToUpstream):
                    assert self.conn is not None
                    self.conn.send(effect.event)
                elif isinstance(effect, Renew):
                    self._renew()
                elif isinstance(effect, Close):
                    self._close_client(effect.code, effect.reason)
            except ConnectionClosed:
                self.open = False
            except OSError:  # a send to the client failed: it is gone
                self.open, self.lost = False, True
            except SpeechError as exc:  # the upstream failed under a send, or a renewal failed
                self._refuse(exc)

    def _refuse(self, exc: SpeechError) -> None:
        """Tell the client why the relay cannot go on, and close."""
        self.failure = exc
        level = logging.WARNING if exc.status >= 500 and exc.status != 503 else logging.INFO
        log.log(level, "relay: %s: %s", exc.code, exc.message)
        if not self.open:
            return
        with contextlib.suppress(ConnectionClosed, OSError):
            self.wire.send(messages.error(exc.code, exc.message))
        self._close_client(TRY_AGAIN if exc.status in (429, 503) else INTERNAL, exc.code)

    def _close_client(self, code: int, reason: str) -> None:
        self.open = False
        with contextlib.suppress(ConnectionClosed, OSError):
            self.wire.close(code, reason[:100])
