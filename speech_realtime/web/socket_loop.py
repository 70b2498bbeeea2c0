"""The loop every Azure SDK socket runs: receive client frames, collect service events, watch the
time, and carry out what the socket's USP machine returns.

Shutdown: the server sets the app's ``extensions[SHUTDOWN]`` event when it begins a graceful
stop; each socket's loop sees it within :data:`IDLE_RECEIVE_SECONDS` and drains: an idle socket
closes at once, a running turn ends properly and then the socket closes, and whatever is still
running after :data:`DRAIN_SECONDS` closes 4000 ("the service is shutting down").
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Iterable
from typing import Any

from flask_sock import ConnectionClosed

from ..errors import SpeechError
from ..speech import SpeechService
from ..usp import recognition as rec
from ..usp import synthesis as syn
from ..usp.frames import FrameError, parse

log = logging.getLogger(__name__)

#: How long the loop waits for one source while a turn runs before looking at the other.
TICK_SECONDS = 0.02
#: How long an idle socket blocks in receive between checks (no turn: only shutdown to watch for).
IDLE_RECEIVE_SECONDS = 0.5
#: How long a running turn may take to end once shutdown begins (recognition: the last phrases
#: of the audio heard; synthesis: the rest of the speech) before the socket closes 4000.
DRAIN_SECONDS = 5.0


class SocketLoop:
    """The loop shared by both machines: receive, collect service events, watch, apply."""

    def __init__(
        self,
        ws: Any,
        machine: rec.RecognitionMachine | syn.SynthesisMachine,
        service: SpeechService,
        idle_limit: float,
        shutdown: threading.Event | None = None,
    ) -> None:
        self.ws = ws
        self.machine = machine
        self.service = service
        self.idle_limit = idle_limit
        self.progress = self.heard = time.monotonic()
        self.open = True
        self.shutdown = shutdown or threading.Event()  # none: a socket nothing will shut down
        self.drain_until: float | None = None

    def run(self) -> None:
        try:
            while self.open:
                busy = self.machine.busy
                data = self.ws.receive(timeout=0 if busy else IDLE_RECEIVE_SECONDS)
                effects: list[Any] = []
                if busy:  # first: the client's frame may end this turn and start another
                    effects += self.service_effects(TICK_SECONDS if data is None else 0)
                    if effects:
                        self.progress = time.monotonic()
                if data is not None:
                    self.progress = self.heard = time.monotonic()
                    try:
                        effects += self.machine.receive(parse(data))
                    except FrameError as exc:
                        effects += self.machine.refuse(str(exc))
                effects += self.watch() + self.drain()
                if self.machine.busy and time.monotonic() - self.progress > self.idle_limit:
                    level = logging.INFO if self.client_stalled() else logging.WARNING
                    log.log(level, "azure sdk: turn made no progress for %g s; ending it", self.idle_limit)
                    self.progress = time.monotonic()
                    effects += self.machine.stalled()
                self.apply(effects)
        except ConnectionClosed:
            level = logging.INFO if self.machine.busy else logging.DEBUG  # mid-turn: the turn is lost
            log.log(level, "azure sdk: client closed the socket")
        except Exception:  # a bug must not leave the SDK waiting: close with an error code
            log.exception("azure sdk: socket failed")
            with contextlib.suppress(Exception):
                self.ws.close(reason=1011, message="internal error; see the service log")
        finally:
            self.release()

    def apply(self, effects: Iterable[Any]) -> None:
        pending = deque(effects)
        while pending and self.open:
            effect = pending.popleft()
            try:
                if isinstance(effect, rec.Send):
                    self.ws.send(effect.frame)
                elif isinstance(effect, rec.Close):
                    log.info("azure sdk: closing %d: %s", effect.code, effect.reason)
                    self.open = False
                    self.ws.close(reason=effect.code, message=effect.reason)
                else:
                    self.carry_out(effect)
            except SpeechError as exc:
                pending.extendleft(reversed(self.fail(exc)))

    def drain(self) -> list[Any]:
        """Once the server is stopping: the machine's drain, then its expiry after the bound."""
        if self.drain_until is None:
            if not self.shutdown.is_set():
                return []
            self.drain_until = time.monotonic() + DRAIN_SECONDS
            log.info("azure sdk: the service is stopping; draining the socket")
            return self.machine.drain()
        if time.monotonic() < self.drain_until:
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

    def service_effects(self, timeout: float) -> list[Any]:
        raise NotImplementedError

    def watch(self) -> list[Any]:
        """Effects that are due by time alone (none, unless a machine has timers)."""
        return []

    def client_stalled(self) -> bool:
        """Whether a turn with no progress waits for the client (else the upstream failed it)."""
        return False

    def carry_out(self, effect: Any) -> None:
        raise NotImplementedError

    def release(self) -> None:
        raise NotImplementedError
