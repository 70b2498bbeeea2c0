"""The loop every Azure SDK socket runs: one blocking wait on one queue, then the socket's USP
machine's effects carried out.

The queue (the socket's *inbox*) is fed by a reader thread (each client frame, then the close),
by the service (recognition events are announced by the stream, synthesis results are put by the
job) and by the server's shutdown signal. The loop sleeps in ``inbox.get`` until something
arrives or the next deadline, whichever is first, so a frame is handled as soon as it comes and
an idle socket does not wake at all between its pings. The deadlines:

- a running turn's watchdog: no progress from the client or the service for
  ``SPEECH_CLIENT_TIMEOUT`` seconds ends it;
- the machine's own timers (recognition: the end of the client's audio, initial silence);
- the idle limit: no client frame and no turn for ``SPEECH_SDK_IDLE_TIMEOUT`` seconds closes the
  socket as the drain closes an idle one (1000 recognition, 4000 synthesis; the SDK reconnects);
- the ping: every ``SPEECH_SDK_PING_INTERVAL`` seconds a WebSocket ping; a client that has not
  answered the previous one, or a send that fails, is taken for gone: the socket is closed and its
  slot released at once (nothing else would notice a peer that vanished without FIN);
- shutdown: once the server stops, an idle socket closes at once, a running turn ends properly
  and then the socket closes, and whatever still runs after :data:`DRAIN_SECONDS` closes 4000.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from flask_sock import ConnectionClosed

from ..config import Settings
from ..errors import SpeechError
from ..speech import SpeechService
from ..usp import effects as fx
from ..usp import recognition as rec
from ..usp import synthesis as syn
from ..usp.frames import FrameError, parse
from .sdk_setup import Shutdown

log = logging.getLogger(__name__)

#: How long a running turn may take to end once shutdown begins (recognition: the last phrases
#: of the audio heard; synthesis: the rest of the speech) before the socket closes 4000.
DRAIN_SECONDS = 5.0
#: The kinds of inbox item the loop handles itself; every other kind is the service's.
FRAME, GONE, WAKE = "frame", "gone", "wake"


class Wire(Protocol):
    """The client's WebSocket as the loop uses it (:class:`~.sdk_wire.WebSocketWire`)."""

    def receive(self) -> str | bytes:
        """The next client frame (blocks); raises ``ConnectionClosed`` when the client is gone."""

    def send(self, frame: str | bytes) -> None: ...

    def close(self, code: int, reason: str) -> None: ...

    def ping(self) -> bool:
        """Send a ping; False (and nothing sent) if the previous one was never answered."""

    def release(self, *, abort: bool) -> None:
        """Wake the reader once the loop is done; ``abort``: also cut the connection, for a
        client that stopped answering (its reads would otherwise never end)."""


@dataclass(frozen=True)
class SocketLimits:
    """The loop's timers, in seconds: the turn watchdog, the idle limit, the ping interval."""

    stall: float
    idle: float
    ping: float

    @classmethod
    def from_settings(cls, settings: Settings) -> SocketLimits:
        return cls(settings.client_timeout, settings.sdk_idle_timeout, settings.sdk_ping_interval)


class SocketLoop(ABC):
    """The loop shared by both machines: wait, take what came, watch the time, apply effects."""

    def __init__(
        self,
        wire: Wire,
        machine: rec.RecognitionMachine | syn.SynthesisMachine,
        service: SpeechService,
        limits: SocketLimits,
        shutdown: Shutdown | None = None,
    ) -> None:
        self.wire = wire
        self.machine = machine
        self.service = service
        self.limits = limits
        self.inbox: queue.Queue[tuple[str, Any]] = queue.Queue()
        now = time.monotonic()
        self.progress = self.heard = self.active = now  # last progress, client frame, activity
        self.ping_due = now + limits.ping
        self.open = True
        self.lost = False  # the client stopped answering: cut the connection when done
        self.shutdown = shutdown or Shutdown()  # none: a socket nothing will shut down
        self.drain_until: float | None = None

    def run(self) -> None:
        reader = threading.Thread(target=self._read, name="azure-sdk-reader", daemon=True)
        reader.start()
        unsubscribe = self.shutdown.subscribe(lambda: self.inbox.put((WAKE, None)))
        try:
            while self.open:
                try:
                    kind, value = self.inbox.get(timeout=max(0.0, self._deadline() - time.monotonic()))
                except queue.Empty:
                    kind, value = WAKE, None
                self.apply(self._take(kind, value) + self._due(time.monotonic()))
        except Exception:  # a bug must not leave the SDK waiting: close with an error code
            log.exception("azure sdk: socket failed")
            with contextlib.suppress(Exception):
                self.wire.close(1011, "internal error; see the service log")
        finally:
            unsubscribe()
            self.release()
            self.wire.release(abort=self.lost)

    def _read(self) -> None:
        """The reader thread: each client frame into the inbox, then the end of the connection."""
        try:
            while True:
                self.inbox.put((FRAME, self.wire.receive()))
        except Exception:  # ConnectionClosed, or the socket failed under the reader
            self.inbox.put((GONE, None))

    def _take(self, kind: str, value: Any) -> list[Any]:
        """The effects of one inbox item."""
        if kind == WAKE:
            return []
        if kind == GONE:
            self._gone()
            return []
        if kind != FRAME:
            effects = self.service_item(kind, value)
            if effects:
                self.progress = time.monotonic()
            return effects
        effects = self.pending() if self.machine.busy else []  # first: the frame may end this turn
        self.progress = self.heard = self.active = time.monotonic()
        try:
            return effects + self.machine.receive(parse(value))
        except FrameError as exc:
            return effects + self.machine.refuse(str(exc))

    def _gone(self) -> None:
        level = logging.INFO if self.machine.busy else logging.DEBUG  # mid-turn: the turn is lost
        log.log(level, "azure sdk: client closed the socket")
        self.open = False

    def _due(self, now: float) -> list[Any]:
        """Effects due by time: the machine's timers, the drain, the watchdog, the idle limit,
        the ping."""
        effects = self.watch(now) + self.drain(now)
        if self.machine.busy:
            self.active = now
            if now - self.progress >= self.limits.stall:
                level = logging.INFO if self.client_stalled() else logging.WARNING
                log.log(level, "azure sdk: turn made no progress for %g s; ending it", self.limits.stall)
                self.progress = now
                effects += self.machine.stalled()
        elif now - self.active >= self.limits.idle:
            log.info("azure sdk: no client frame for %g s; closing the idle socket", self.limits.idle)
            effects += self.machine.expire(f"idle for more than {self.limits.idle:g} s")
        if now >= self.ping_due:
            self.ping_due = now + self.limits.ping
            effects += self._ping()
        return effects

    def _ping(self) -> list[Any]:
        try:
            if self.wire.ping():
                log.debug("azure sdk: ping sent")
                return []
            reason = f"no answer to a ping within {self.limits.ping:g} s"
        except OSError as exc:
            reason = f"a ping could not be sent ({type(exc).__name__})"
        log.info("azure sdk: the client is gone: %s; closing", reason)
        self.lost = True
        return self.machine.expire(reason)

    def _deadline(self) -> float:
        """When the loop must look again with nothing in the inbox."""
        due = [self.ping_due]
        due.append(self.progress + self.limits.stall if self.machine.busy else self.active + self.limits.idle)
        if self.drain_until is not None:
            due.append(self.drain_until)
        timer = self.timer()
        if timer is not None:
            due.append(timer)
        return min(due)

    def apply(self, effects: Iterable[Any]) -> None:
        pending = deque(effects)
        while pending and self.open:
            effect = pending.popleft()
            try:
                if isinstance(effect, fx.Send):
                    self.wire.send(effect.frame)
                elif isinstance(effect, fx.Close):
                    log.info("azure sdk: closing %d: %s", effect.code, effect.reason)
                    self.open = False
                    with contextlib.suppress(OSError):  # a client that stopped reading: cut below
                        self.wire.close(effect.code, effect.reason)
                else:
                    self.carry_out(effect)
            except SpeechError as exc:
                pending.extendleft(reversed(self.fail(exc)))
            except ConnectionClosed:
                self._gone()
            except OSError as exc:  # the send timed out or the connection broke: the client is gone
                log.info("azure sdk: a send to the client failed (%s); closing", type(exc).__name__)
                self.open = False
                self.lost = True

    def drain(self, now: float) -> list[Any]:
        """Once the server is stopping: the machine's drain, then its expiry after the bound."""
        if self.drain_until is None:
            if not self.shutdown.is_set():
                return []
            self.drain_until = now + DRAIN_SECONDS
            log.info("azure sdk: the service is stopping; draining the socket")
            return self.machine.drain()
        if now < self.drain_until:
            return []
        log.warning("azure sdk: the turn did not end within %g s of shutdown; closing", DRAIN_SECONDS)
        return self.machine.drain_expired()

    def fail(self, error: SpeechError) -> list[Any]:
        """The service failed the turn: the machine's effects, and one log line for operators.

        An upstream, capacity or timeout failure is a WARNING; input the service refused
        (an unknown language, say) is the client's business and only INFO.
        """
        level = logging.WARNING if error.status >= 500 or error.status == 429 else logging.INFO
        log.log(level, "azure sdk: the turn failed: %s: %s", error.code, error.message)
        return self.machine.fail(error)

    # -- per machine ---------------------------------------------------------------------------

    @abstractmethod
    def service_item(self, kind: str, value: Any) -> list[Any]:
        """The effects of an inbox item the service put there."""

    def pending(self) -> list[Any]:
        """Effects of service events ready now (taken before a client frame is handled)."""
        return []

    def watch(self, now: float) -> list[Any]:
        """Effects that are due by time alone (none, unless a machine has timers)."""
        return []

    def timer(self) -> float | None:
        """When :meth:`watch` next has something to do, if ever."""
        return None

    def client_stalled(self) -> bool:
        """Whether a turn with no progress waits for the client (else the upstream failed it)."""
        return False

    @abstractmethod
    def carry_out(self, effect: Any) -> None:
        """Start, feed or stop the service's work for an effect that is not a frame or a close."""

    @abstractmethod
    def release(self) -> None:
        """Stop the service's work for the socket (it is closing)."""
