"""The session runner: where every upstream session is opened, counted, driven and released.

- a :class:`Connector` opens connections (:class:`DirectConnector`: a fresh one each time; a
  pool of pre-connected sessions plugs in here with the same method);
- session slots: at most ``max_sessions`` sessions at once, REST turns and long-lived front ends
  (:meth:`SessionRunner.hold`, :meth:`SessionRunner.duplex`) alike; none free is
  :class:`Saturated`;
- one loop drives every sans-I/O turn (:meth:`SessionRunner.run`): send what the machine
  asks, feed it what arrives, until it is done, within the request deadline and the idle
  timeout;
- :class:`TurnStream`: a turn's results as an iterator whose :meth:`~TurnStream.close`
  releases the session at once, from any thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Generic, Protocol, TypeVar

from ..callers import CallerSlots
from ..config import Settings
from ..errors import ConfigError, Saturated, SpeechError
from .auth import Auth
from .events import parse_server_event
from .session import Turn
from .transport import Connection, Endpoint

T = TypeVar("T")


class Connector(Protocol):
    """Something that gives an open, unused Realtime connection within ``timeout`` seconds;
    ``transcription``: a connection for a transcription session (a transcription-only
    deployment)."""

    def connect(self, timeout: float, *, transcription: bool = False) -> Connection: ...


class DirectConnector:
    """A new WebSocket connection for every session, to ``transcription_endpoint`` for
    transcription sessions."""

    def __init__(
        self, endpoint: Endpoint, auth: Auth, transcription_endpoint: Endpoint | None = None
    ) -> None:
        self.endpoint = endpoint
        self.auth = auth
        self.transcription_endpoint = transcription_endpoint

    def connect(self, timeout: float, *, transcription: bool = False) -> Connection:
        endpoint = self.transcription_endpoint if transcription else self.endpoint
        if endpoint is None:
            raise ConfigError("no transcription deployment is configured")
        return Connection.open(endpoint, self.auth.headers(), timeout=timeout)


class SessionRunner:
    """Opens, counts and drives upstream sessions for the service and its front ends."""

    def __init__(self, settings: Settings, connector: Connector) -> None:
        self.settings = settings
        self.connector = connector
        self._slots = threading.BoundedSemaphore(settings.worker_sessions)
        self._callers = CallerSlots(settings.max_sessions_per_key)

    @contextmanager
    def hold(self) -> Iterator[None]:
        """One session slot, for as long as the block runs (:class:`Saturated` if none is free).

        Long-lived front ends (the relay, SDK sockets) hold one for their upstream session so
        that they count against the same limit as REST requests. The caller's own cap
        (``SPEECH_MAX_SESSIONS_PER_KEY``) is checked first, so a refused caller takes no slot.
        """
        with self._callers.hold():
            if not self._slots.acquire(blocking=False):
                raise Saturated("every upstream session slot is busy; retry shortly", retry_after=1)
            try:
                yield
            finally:
                self._slots.release()

    @contextmanager
    def session(self, deadline: float | None = None, *, transcription: bool = False) -> Iterator[Connection]:
        """A slot and an open connection; both released when the block ends, however it ends.

        ``transcription``: the connection is for a transcription session."""
        with self.hold():
            timeout = self.settings.connect_timeout
            if deadline is not None:
                timeout = max(0.01, min(timeout, deadline - time.monotonic()))
            # A connector for realtime sessions only needs ``connect(timeout)``.
            connect = self.connector.connect
            conn = connect(timeout, transcription=True) if transcription else connect(timeout)
            with conn:
                yield conn

    def duplex(self) -> AbstractContextManager[Connection]:
        """A held session for a long-lived front end: no request deadline; use
        :meth:`Connection.receive_idle`, :meth:`Connection.ping` and ``close_reason``."""
        return self.session(None)

    def deadline(self) -> float:
        """The deadline of a request turn that starts now."""
        return time.monotonic() + self.settings.request_timeout

    def run(
        self,
        turn: Turn,
        deadline: float | None = None,
        *,
        connected: Callable[[Connection], None] | None = None,
    ) -> Generator[None, None, None]:
        """Run ``turn`` on a new session, yielding after each server event it is fed.

        ``connected`` is told the connection once it is open (a :class:`TurnStream` uses it to
        abort a receive from another thread).
        """
        deadline = deadline if deadline is not None else self.deadline()
        with self.session(deadline, transcription=turn.transcription_session) as conn:
            if connected is not None:
                connected(conn)
            for event in turn.start():
                conn.send(event)
            while not turn.done:
                message = conn.receive(deadline, self.settings.receive_timeout)
                for event in turn.feed(parse_server_event(message)):
                    conn.send(event)
                yield

    def complete(self, turn: Turn, deadline: float | None = None) -> None:
        """Run ``turn`` to its end."""
        for _ in self.run(turn, deadline):
            pass


class TurnStream(Generic[T]):
    """The results of a turn, as an iterator with a thread-safe :meth:`close`.

    ``produce(connected)`` is a generator of results that passes ``connected`` on to
    :meth:`SessionRunner.run`. :meth:`close` ends it at once: when the generator is suspended
    (a stalled reader) it is closed, which releases the session; when another thread is inside
    it (waiting for upstream), the connection is aborted so that the wait ends now.
    ``aborted`` is told of a failure after the first result (not of one caused by close()).
    """

    def __init__(
        self,
        produce: Callable[[Callable[[Connection], None]], Iterator[T]],
        *,
        aborted: Callable[[SpeechError], None] | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self._conn: Connection | None = None
        self._closed = False
        self._started = False
        self._aborted = aborted
        self._items = produce(self._connected)

    def _connected(self, conn: Connection) -> None:
        with self._lock:
            self._conn = conn
            closed = self._closed
        if closed:
            conn.abort()

    def __iter__(self) -> TurnStream[T]:
        return self

    def __next__(self) -> T:
        try:
            item = next(self._items)
        except SpeechError as exc:
            if self._started and not self._closed and self._aborted is not None:
                self._aborted(exc)
            raise
        self._started = True
        return item

    def close(self) -> None:
        with self._lock:
            self._closed = True
            conn = self._conn
        try:
            self._items.close()  # type: ignore[attr-defined]
        except ValueError:  # running in another thread: wake it; it ends with an error
            if conn is not None:
                conn.abort()

    def __enter__(self) -> TurnStream[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
