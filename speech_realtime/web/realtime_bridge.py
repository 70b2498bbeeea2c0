"""One pass-through connection: a client's WebSocket joined to its upstream Realtime session.

Two threads: the route's own reads client messages, puts each through the
:class:`~..realtime.policy.PassthroughPolicy` and sends what it allows upstream (a refusal goes
back to the client as an ``error`` event); a second reads the upstream and sends every server
event to the client (an ``error`` event's words replaced, :func:`~..realtime.policy.server_message`).
Either side going away ends the other at once: the client leaving aborts the upstream
connection (its reader wakes), the upstream closing closes the client's socket (1000 with the
upstream's reason when it closed cleanly, else 1011) and wakes the client reader. The policy's
session length and idle limits end the session with an ``error`` event and a close (1000); the
server stopping closes it 1001. Both threads write to the client under one lock.

Both sides are pinged every ``SPEECH_REALTIME_PING_INTERVAL`` seconds: a client that has not
answered the previous ping is taken for gone (a peer that vanished without a FIN would
otherwise hold its session slot until the idle limit) and its connection is cut; a ping the
upstream connection cannot take ends the session (1011). The pings also keep both connections
alive through proxies that close quiet ones.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
import time
from typing import Any

from flask_sock import ConnectionClosed
from wsproto.events import Ping

from ..errors import SpeechError
from ..realtime.policy import PassthroughPolicy, Refusal, server_message
from ..realtime.transport import Connection
from .sdk_setup import Shutdown

log = logging.getLogger(__name__)

#: The longest a client read waits before the loop looks at the limits and the upstream again.
WAKE_SECONDS = 0.5
#: Close codes: normal, going away (server stopping), internal error (upstream failed).
NORMAL, GOING_AWAY, UPSTREAM_FAILED = 1000, 1001, 1011


class Bridge:
    """Carries one client ``ws`` (simple-websocket's ``Server``) to and from ``conn``."""

    def __init__(self, ws: Any, conn: Connection, policy: PassthroughPolicy, shutdown: Shutdown) -> None:
        self.ws = ws
        self.conn = conn
        self.policy = policy
        self.shutdown = shutdown
        self._lock = threading.Lock()
        self._closed = threading.Event()

    def run(self) -> None:
        """Serve the connection until either side ends it or a limit does."""
        reader = threading.Thread(target=self._upstream_to_client, name="realtime-upstream", daemon=True)
        unsubscribe = self.shutdown.subscribe(lambda: self.close(GOING_AWAY, "the service is stopping"))
        try:
            for event in self.policy.opening():
                self.conn.send(event)
            reader.start()
            self._client_to_upstream()
        except SpeechError as exc:
            log.info("realtime pass-through: upstream failed: %s", exc.code)
            self.close(UPSTREAM_FAILED, "the upstream session failed")
        except Exception:  # a bug must not leave the client waiting: close with an error code
            log.exception("realtime pass-through: the bridge failed")
            self.close(UPSTREAM_FAILED, "internal error; see the service log")
        finally:
            unsubscribe()
            self.conn.abort()  # wakes the upstream reader if the client ended it
            if reader.is_alive():
                reader.join(5)

    def _client_to_upstream(self) -> None:
        ping_due = time.monotonic() + self.policy.limits.ping_seconds
        while not self._closed.is_set():
            now = time.monotonic()
            expired = self.policy.expiry(now)
            if expired is not None:
                log.info("realtime pass-through: %s", expired.message)
                self.send(json.dumps(expired.event()))
                self.close(NORMAL, expired.code)
                return
            if now >= ping_due:
                ping_due = now + self.policy.limits.ping_seconds
                if not self._ping():
                    return
            wait = min(WAKE_SECONDS, max(0.0, min(self.policy.deadline(), ping_due) - now))
            try:
                message = self.ws.receive(timeout=wait)
            except ConnectionClosed:
                return
            if message is None:
                continue
            try:
                event = self.policy.check(message, time.monotonic())
            except Refusal as refusal:
                log.info("realtime pass-through: refused %s: %s", refusal.param, refusal.code)
                self.send(json.dumps(refusal.event()))
                continue
            self.conn.send(event)

    def _upstream_to_client(self) -> None:
        try:
            while not self._closed.is_set():
                self.send(server_message(self.conn.receive_idle(None)))
        except SpeechError:
            if self.conn.aborted:
                return  # the client side ended first
            reason = self.conn.close_reason
            if reason is not None and reason[0] == NORMAL:
                self.close(NORMAL, reason[1][:120])
            else:
                log.info("realtime pass-through: the upstream connection ended (%s)", reason)
                self.close(UPSTREAM_FAILED, "the upstream session ended")

    def _ping(self) -> bool:
        """Ping both sides; False when the client did not answer the last ping (it is cut off)."""
        with self._lock:
            if self._closed.is_set():
                return False
            if not self.ws.pong_received:
                log.info("realtime pass-through: no answer to a ping; the client is gone")
                self._closed.set()
                with contextlib.suppress(OSError):
                    self.ws.sock.shutdown(socket.SHUT_RDWR)
                self._wake()
                return False
            self.ws.pong_received = False
            try:
                self.ws.sock.send(self.ws.ws.send(Ping()))
            except OSError:
                self._closed.set()
                self._wake()
                return False
        self.conn.ping()
        return True

    def send(self, message: str | bytes) -> None:
        """One message to the client (nothing once closed; a client gone closes the bridge)."""
        with self._lock:
            if self._closed.is_set():
                return
            try:
                self.ws.send(message)
            except (ConnectionClosed, OSError):
                self._closed.set()
                self._wake()

    def close(self, code: int, reason: str) -> None:
        """Close the client's socket once, and wake the client reader."""
        with self._lock:
            if self._closed.is_set():
                return
            self._closed.set()
            with contextlib.suppress(ConnectionClosed, OSError):
                self.ws.close(reason=code, message=reason)
            self._wake()

    def _wake(self) -> None:
        self.ws.connected = False
        self.ws.event.set()
