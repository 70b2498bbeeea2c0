"""A pool of pre-connected upstream sessions (``SPEECH_POOL_SIZE``), so that a request does not
wait for the WebSocket handshake (and, against a cloud region, TCP and TLS).

- Each pooled session is opened in the background and kept only once the server's
  ``session.created`` arrived: the handshake is done and the session is known alive (the event
  is given back to whoever takes the session, who sees what a fresh connection shows). Nothing
  more is sent: a request's own ``session.update`` (voice, formats, instructions) goes out with
  its other opening events without waiting for an answer, so configuring a session ahead would
  save no round trip, and a neutral update could leave a setting the request's own does not
  name. The request's settings therefore always win.
- A session serves one request and is never reused; taking one wakes the filler, which opens
  the replacement on a thread of its own. Transcription sessions (a transcription-only
  deployment) are not pooled: they go to another endpoint, and recognition is dominated by the
  upload, not the handshake.
- Idle sessions are watched: pings are answered, a session the server closed or spoke on is
  dropped, and each is retired after ``SPEECH_POOL_MAX_IDLE`` seconds or before the server's
  ``expires_at`` (with room for the longest request), whichever is sooner.
- Every pooled session, opening or idle, holds one of the runner's session slots, taken only
  when free: the pool never waits for a slot, and a request that finds none free takes one from
  the pool (:meth:`SessionPool.reclaim`), so requests are never starved of slots.
- Failures of pooled sessions are the pool's: they never reach the circuit breaker or a
  request; the filler backs off (doubling up to :data:`MAX_BACKOFF`) while opening fails.
- Started lazily by the first :meth:`SessionPool.connect` or by :meth:`SessionPool.start` in a
  server worker, never at construction (the gunicorn master builds the app too, and must not
  hold connections its workers would inherit); :meth:`SessionPool.close` drains it.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import select
import socket
import threading
import time
from dataclasses import dataclass, field

from .. import metrics
from ..config import Settings
from ..errors import SpeechError, UpstreamError, UpstreamTimeout
from .events import Kind, parse_server_event
from .transport import Connection
from .upstream_errors import error_from_event

log = logging.getLogger(__name__)

#: How often idle sessions are looked at (seconds): pings answered, closes noticed, ages checked.
TICK = 0.5
#: How often an idle session is pinged, so that nothing on the way drops it as idle (seconds).
PING_INTERVAL = 20.0
#: The longest pause between attempts while opening pooled sessions keeps failing (seconds).
MAX_BACKOFF = 30.0
#: How long :meth:`SessionPool.close` waits for sessions still opening (seconds).
CLOSE_WAIT = 1.0
#: Room left before the server's ``expires_at`` beyond the request timeout (seconds).
EXPIRY_MARGIN = 60.0


@dataclass(eq=False)
class _Pooled:
    """One pooled session: opening (``conn`` None) or idle. ``revoked``: its slot was given to a
    request (it must not release it, and is closed as soon as it is open)."""

    retire_at: float = 0.0
    pinged: float = field(default_factory=time.monotonic)
    conn: Connection | None = None
    revoked: bool = False
    created: str | bytes = ""  # the server's session.created, given back on handover


class SessionPool:
    """Pre-connected realtime sessions for one worker, opened with ``connector``."""

    def __init__(self, connector: object, settings: Settings, slots: threading.BoundedSemaphore) -> None:
        self._connector = connector
        self._settings = settings
        self._slots = slots
        self.size = settings.pool_size
        self._cond = threading.Condition()
        self._idle: collections.deque[_Pooled] = collections.deque()
        self._opening: set[_Pooled] = set()
        self._inspecting = 0  # idle sessions the watcher took out to read
        self._thread: threading.Thread | None = None
        self._closed = False
        self._failures = 0
        self._resume_at = 0.0
        self._wake_reader: socket.socket | None = None  # made by start(): only a started pool has it
        self._wake_writer: socket.socket | None = None

    @property
    def idle(self) -> int:
        with self._cond:
            return len(self._idle)

    def start(self) -> None:
        """Start filling (once; not after :meth:`close`)."""
        with self._cond:
            if self._thread is not None or self._closed:
                return
            self._wake_reader, self._wake_writer = socket.socketpair()
            self._wake_reader.setblocking(False)
            self._wake_writer.setblocking(False)
            self._thread = threading.Thread(target=self._run, name="speech-pool", daemon=True)
            self._thread.start()

    def connect(self, timeout: float, *, transcription: bool = False) -> Connection:
        """A pooled session if one is idle and alive (its slot goes back: the caller holds its
        own), else a new connection from the connector."""
        if transcription:
            return self._connector.connect(timeout, transcription=True)  # type: ignore[attr-defined]
        self.start()
        while True:
            with self._cond:
                # Sessions the watcher is reading (a ping) are back within milliseconds.
                self._cond.wait_for(lambda: self._idle or not self._inspecting, timeout=0.1)
                entry = self._idle.popleft() if self._idle else None
                metrics.pool_idle(len(self._idle))
            self._wake()  # the filler opens a replacement
            if entry is None:
                metrics.pool_taken(hit=False)
                return self._connector.connect(timeout)  # type: ignore[attr-defined]
            self._slots.release()
            assert entry.conn is not None
            if time.monotonic() < entry.retire_at and self._still_idle(entry.conn):
                metrics.pool_taken(hit=True)
                entry.conn.received = 0
                entry.conn.pooled = True
                entry.conn.replay(entry.created)
                return entry.conn
            self._retire(entry.conn, "stale")

    def reclaim(self) -> bool:
        """Give one pooled session's slot to a request that found none free: an idle session is
        closed, or one still opening gives its slot up. False: the pool holds no slot."""
        with self._cond:
            if self._idle:
                entry = self._idle.popleft()
                metrics.pool_idle(len(self._idle))
            else:
                waiting = (
                    opening for opening in self._opening if opening.conn is None and not opening.revoked
                )
                entry = next(waiting, None)
                if entry is None:
                    return False
                entry.revoked = True
                return True
        assert entry.conn is not None
        self._retire(entry.conn, "reclaimed")
        return True

    def close(self) -> None:
        """Stop filling and close every idle session (those opening close when they open)."""
        with self._cond:
            self._closed = True
            idle, self._idle = list(self._idle), collections.deque()
            thread = self._thread
            metrics.pool_idle(0)
        self._wake()
        for entry in idle:
            self._slots.release()
            assert entry.conn is not None
            self._retire(entry.conn, "drained")
        with self._cond:  # those opening close themselves as they open: give them a moment
            self._cond.wait_for(lambda: not self._opening, timeout=CLOSE_WAIT)
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    # -- the filler and watcher -------------------------------------------------------------

    def _run(self) -> None:
        while True:
            self._tend()
            self._fill()
            with self._cond:
                if self._closed:
                    break
                idle = [
                    entry.conn for entry in self._idle if entry.conn is not None and entry.conn.fileno() >= 0
                ]
            # Wake as soon as an idle session has something to read (a ping wants its pong now),
            # something was taken, or the tick is up.
            with contextlib.suppress(OSError, ValueError):
                ready = select.select([self._wake_reader, *idle], [], [], TICK)[0]
                if self._wake_reader in ready:
                    self._wake_reader.recv(4096)
        for end in (self._wake_reader, self._wake_writer):
            if end is not None:
                end.close()

    def _wake(self) -> None:
        """Wake the filler now (a session was taken or the pool is closing)."""
        if self._wake_writer is not None:
            with contextlib.suppress(OSError):
                self._wake_writer.send(b"w")

    def _fill(self) -> None:
        """Open sessions until the idle and opening ones make the pool's size, while slots are
        free and no back-off is running."""
        with self._cond:
            if self._closed or time.monotonic() < self._resume_at:
                return
            wanted = self.size - len(self._idle) - len(self._opening)
            for _ in range(wanted):
                if not self._slots.acquire(blocking=False):
                    return  # every slot is in use: requests come first
                entry = _Pooled()
                self._opening.add(entry)
                threading.Thread(
                    target=self._open, args=(entry,), name="speech-pool-open", daemon=True
                ).start()

    def _open(self, entry: _Pooled) -> None:
        settings = self._settings
        opened = time.monotonic()
        conn: Connection | None = None
        try:
            conn = self._connector.connect(settings.connect_timeout)  # type: ignore[attr-defined]
            entry.created = conn.receive(opened + settings.connect_timeout, settings.connect_timeout)
            created = parse_server_event(entry.created)
            if created.kind is Kind.ERROR:
                raise error_from_event(created)
            if created.kind is not Kind.SESSION_CREATED:
                raise UpstreamError(f"upstream opened a session with {created.type}, not session.created")
        except SpeechError as exc:
            if conn is not None:
                conn.close()
            self._failed(entry, exc)
            return
        entry.conn = conn
        entry.retire_at = self._retire_at(opened, created.data.get("session"))
        with self._cond:
            keep = not entry.revoked and not self._closed
            if keep:
                self._idle.append(entry)
                self._failures = 0
                metrics.pool_idle(len(self._idle))
        if keep:
            self._wake()  # the watcher reads it from now on
        else:
            if not entry.revoked:
                self._slots.release()
            self._retire(conn, "drained" if self._closed else "reclaimed")
        with self._cond:
            self._opening.discard(entry)
            self._cond.notify_all()

    def _failed(self, entry: _Pooled, exc: SpeechError) -> None:
        """An opening failed: its slot goes back and the filler waits before trying again."""
        with self._cond:
            self._opening.discard(entry)
            self._cond.notify_all()
            if not entry.revoked:
                self._slots.release()
            self._failures += 1
            backoff = min(MAX_BACKOFF, 0.5 * 2 ** (self._failures - 1))
            self._resume_at = time.monotonic() + backoff
        metrics.pool_retired("failed")
        log.warning(
            "could not open a pooled session (%s: %s); next try in %g s", exc.code, exc.message, backoff
        )

    def _retire_at(self, opened: float, session: object) -> float:
        """When a session opened at ``opened`` leaves the pool: its maximum idle age, or before
        the server's ``expires_at`` with room for a request, whichever is sooner."""
        retire = opened + self._settings.pool_max_idle
        expires = session.get("expires_at") if isinstance(session, dict) else None
        if isinstance(expires, int | float) and not isinstance(expires, bool) and expires > 0:
            room = self._settings.request_timeout + EXPIRY_MARGIN
            retire = min(retire, time.monotonic() + (expires - time.time()) - room)
        return retire

    def _tend(self) -> None:
        """Retire idle sessions that are too old, closed or spoken on; ping the others. Only
        those that need it leave the pool while they are looked at."""
        now = time.monotonic()
        with self._cond:
            due = [
                e
                for e in self._idle
                if now >= e.retire_at or now - e.pinged >= PING_INTERVAL or e.conn.pending()
            ]  # type: ignore[union-attr]
            for entry in due:
                self._idle.remove(entry)
            self._inspecting = len(due)
        kept = [entry for entry in due if self._healthy(entry, now)]
        with self._cond:
            self._idle.extend(kept)
            self._inspecting = 0
            self._cond.notify_all()
            closed = self._closed
            metrics.pool_idle(len(self._idle))
        if closed:
            self.close()

    def _healthy(self, entry: _Pooled, now: float) -> bool:
        """Whether an idle session may stay (else it is retired and its slot freed)."""
        assert entry.conn is not None
        reason = "age" if now >= entry.retire_at else None if self._still_idle(entry.conn) else "closed"
        if reason is None and now - entry.pinged >= PING_INTERVAL:
            entry.pinged = now
            try:
                entry.conn.ping()
            except SpeechError:
                reason = "closed"
        if reason is None:
            return True
        self._slots.release()
        self._retire(entry.conn, reason)
        return False

    @staticmethod
    def _still_idle(conn: Connection) -> bool:
        """Read what is waiting on an idle session: pings are answered inside the read; a close,
        a failure or any event (an idle session has nothing to say) means it cannot be used."""
        if not conn.pending():
            return True
        try:
            conn.receive_idle(0.01)
        except UpstreamTimeout:
            return True  # only control frames were waiting
        except SpeechError:
            return False
        return False

    @staticmethod
    def _retire(conn: Connection, reason: str) -> None:
        metrics.pool_retired(reason)
        with contextlib.suppress(SpeechError):
            conn.close()
