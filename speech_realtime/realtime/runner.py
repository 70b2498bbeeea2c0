"""The session runner: where every upstream session is opened, counted, driven and released.

- a :class:`Connector` opens connections (:class:`DirectConnector`: a fresh one each time);
  with ``SPEECH_POOL_SIZE`` a :class:`~.pool.SessionPool` of pre-connected sessions stands in
  front of it, holding slots of its own that a request short of one takes back;
- session slots: at most ``max_sessions`` sessions at once, REST turns and long-lived front ends
  (:meth:`SessionRunner.hold`, :meth:`SessionRunner.duplex`) alike; none free is
  :class:`Saturated`;
- one loop drives every sans-I/O turn (:meth:`SessionRunner.run`): send what the machine
  asks, feed it what arrives, until it is done, within a deadline that progress moves on (up
  to a hard bound that grows with the turn's audio) and the idle timeout;
- resilience (:mod:`.resilience`): a per-runner circuit breaker around every session, and one
  retry on a fresh turn for a retryable failure before anything reached the client
  (:meth:`SessionRunner.complete`, :meth:`SessionRunner.retrying`);
- :class:`TurnStream`: a turn's results as an iterator whose :meth:`~TurnStream.close`
  releases the session at once, from any thread.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Generic, Protocol, TypeVar

from .. import metrics, timings
from ..callers import CallerSlots
from ..config import Settings
from ..errors import ConfigError, Saturated, SpeechError
from .auth import Auth
from .events import Kind, parse_server_event
from .pool import SessionPool
from .resilience import CircuitBreaker, retryable, upstream_fault
from .session import Turn
from .transport import Connection, Endpoint

log = logging.getLogger(__name__)

T = TypeVar("T")
TurnT = TypeVar("TurnT", bound=Turn)

#: Server events that show a turn is getting on with its work (they move its deadline on).
PROGRESS = frozenset(
    {Kind.AUDIO_DELTA, Kind.TRANSCRIPT_DELTA, Kind.TRANSCRIPTION_DELTA, Kind.TRANSCRIPTION_COMPLETED}
)


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
        self.breaker = CircuitBreaker(settings.breaker_failures, settings.breaker_cooldown)
        #: pre-connected sessions (None: ``SPEECH_POOL_SIZE`` is 0); started on first use
        self.pool = SessionPool(connector, settings, self._slots) if settings.pool_size > 0 else None

    def start(self) -> None:
        """Start filling the pool now (a server worker, once it has forked), if there is one."""
        if self.pool is not None:
            self.pool.start()

    def close(self) -> None:
        """Close the pool's idle sessions and stop filling it (the worker's drain)."""
        if self.pool is not None:
            self.pool.close()

    @contextmanager
    def hold(self) -> Iterator[None]:
        """One session slot, for as long as the block runs (:class:`Saturated` if none is free).

        Long-lived front ends (the relay, SDK sockets) hold one for their upstream session so
        that they count against the same limit as REST requests. The caller's own cap
        (``SPEECH_MAX_SESSIONS_PER_KEY``) is checked first, so a refused caller takes no slot.
        """
        started = time.perf_counter()
        with self._callers.hold():
            if not self._slots.acquire(blocking=False) and not (self.pool and self.pool.reclaim()):
                metrics.slot_refused()
                raise Saturated("every upstream session slot is busy; retry shortly", retry_after=1)
            timings.record("slot", time.perf_counter() - started)
            try:
                yield
            finally:
                self._slots.release()

    @contextmanager
    def session(
        self,
        deadline: float | None = None,
        *,
        transcription: bool = False,
        connect: Callable[[float], Connection] | None = None,
    ) -> Iterator[Connection]:
        """A slot and an open connection; both released when the block ends, however it ends.

        ``transcription``: the connection is for a transcription session; ``connect``: opens it
        instead of the connector (the pass-through's, to the client's dialect). The circuit breaker
        admits it first (an open one raises :class:`BreakerOpen` before any connection) and is
        told how it ended: upstream failures count, a stream we aborted or a client-side error
        is neutral, anything else is a success. A pooled session that fails before its first
        message is neutral too: the pool's session went stale, the upstream did not fail the
        request (the failure is retryable, so the request gets one more, fresh session)."""
        probe = self.breaker.admit()
        outcome: bool | None = None
        failures: metrics.UpstreamFailures | None = None  # set once a slot is held
        try:
            with self.hold(), metrics.upstream_errors() as failures:
                timeout = self.settings.connect_timeout
                if deadline is not None:
                    timeout = max(0.01, min(timeout, deadline - time.monotonic()))
                conn = self._connect(timeout, transcription, connect)
                with conn, metrics.upstream_session():
                    failures.connection = conn
                    yield conn
            outcome = True
        except SpeechError as exc:
            ours = failures is None or failures.ours()  # our own limits, or our abort
            conn = failures.connection if failures is not None else None
            stale = getattr(conn, "pooled", False) and getattr(conn, "received", 1) == 0
            outcome = False if upstream_fault(exc) and not ours and not stale else None
            raise
        finally:
            self.breaker.record(outcome, probe=probe)

    def _connect(
        self, timeout: float, transcription: bool, connect: Callable[[float], Connection] | None
    ) -> Connection:
        """A connection from ``connect`` (the pass-through's own), the pool or the connector, its
        time recorded for Server-Timing (``pooled``, ``new``, or ``failed``)."""
        if connect is None:
            # A connector for realtime sessions only needs ``connect(timeout)``.
            source = self.pool.connect if self.pool is not None else self.connector.connect
            connect = functools.partial(source, transcription=True) if transcription else source
        started = time.perf_counter()
        note = "failed"
        try:
            conn = connect(timeout)
            note = "pooled" if getattr(conn, "pooled", False) else "new"
            return conn
        finally:
            timings.record("connect", time.perf_counter() - started, note)

    def duplex(
        self, connect: Callable[[float], Connection] | None = None
    ) -> AbstractContextManager[Connection]:
        """A held session for a long-lived front end: no request deadline; use
        :meth:`Connection.receive_idle`, :meth:`Connection.ping` and ``close_reason``.
        ``connect``: as for :meth:`session`."""
        return self.session(None, connect=connect)

    def run(
        self, turn: Turn, *, connected: Callable[[Connection], None] | None = None
    ) -> Generator[None, None, None]:
        """Run ``turn`` on a new session, yielding after each server event it is fed.

        Deadlines measure progress, not length: the turn must finish within the request timeout
        of its last progress (an audio or transcription delta, a completed transcription), and
        every wait ends after the idle timeout; a turn that keeps making progress runs on, up to
        the hard bound of the request timeout plus its ``budget`` (seconds of audio it sends or
        expects), so nothing runs for ever. ``connected`` is told the connection once it is
        open (a :class:`TurnStream` uses it to abort a receive from another thread).
        """
        started = time.monotonic()
        limit = self.settings.request_timeout
        hard = started + limit + turn.budget
        deadline = min(hard, started + limit)
        with self.session(deadline, transcription=turn.transcription_session) as conn:
            if connected is not None:
                connected(conn)
            opened = time.perf_counter()
            waiting = True  # for the first upstream delta (recorded in Server-Timing)
            sender = _Sender(conn, turn.start())
            try:
                while not turn.done:
                    message = conn.receive(deadline, self.settings.receive_timeout)
                    event = parse_server_event(message)
                    if event.kind in PROGRESS:
                        deadline = min(hard, time.monotonic() + limit)
                        if waiting:
                            waiting = False
                            timings.record("upstream", time.perf_counter() - opened)
                    for answer in turn.feed(event):
                        conn.send(answer)
                    sender.check()
                    yield
                sender.check()
            finally:
                sender.stop()

    def complete(self, make: Callable[[], TurnT]) -> TurnT:
        """Run a turn from ``make`` to its end and return it; after a retryable failure, once
        more on a fresh turn and session (a turn is a state machine: it cannot be replayed)."""

        def attempt() -> Iterator[TurnT]:
            turn = make()
            for _ in self.run(turn):
                pass
            yield turn

        attempts = self.retrying(attempt)
        try:
            return next(attempts)
        finally:
            attempts.close()

    def retrying(self, attempt: Callable[[], Iterator[T]]) -> Generator[T, None, None]:
        """The items of ``attempt()``; when it fails before its first item with a
        :func:`~.resilience.retryable` failure, the items of one fresh ``attempt()`` instead,
        after the failure's Retry-After, if that still leaves time within the request deadline.
        A failure after the first item (bytes may have reached the client) is never retried."""
        deadline = time.monotonic() + self.settings.request_timeout
        items = attempt()
        try:
            first = next(items)
        except StopIteration:
            return
        except SpeechError as exc:
            wait = retryable(exc)
            if wait is None or time.monotonic() + wait >= deadline:
                raise
            log.warning("retrying on a fresh session after %s: %s", exc.code, exc.message)
            metrics.retried(exc.code)
            time.sleep(wait)
            yield from attempt()
            return
        yield first
        yield from items


class _Sender:
    """Sends a turn's opening events on a thread of its own, so that the server's events are
    read while a long upload is still going out: a server that transcribes the first items
    before the last is sent never blocks on a full socket buffer, and its progress counts."""

    def __init__(self, conn: Connection, events: Iterable[dict[str, Any]]) -> None:
        self._conn = conn
        self._events = events
        self._stopping = threading.Event()
        self._error: SpeechError | None = None
        self._thread = threading.Thread(target=self._send, name="turn-sender", daemon=True)
        self._thread.start()

    def _send(self) -> None:
        try:
            for event in self._events:
                if self._stopping.is_set():
                    return
                self._conn.send(event)
        except SpeechError as exc:
            self._error = exc

    def check(self) -> None:
        """Raise the sending thread's failure, if it had one."""
        if self._error is not None and not self._stopping.is_set():
            raise self._error

    def stop(self) -> None:
        """Stop sending; a send blocked on the socket is woken by aborting the connection."""
        self._stopping.set()
        if self._thread.is_alive():
            self._conn.abort()
        self._thread.join()


class TurnStream(Generic[T]):
    """The results of a turn, as an iterator with a thread-safe :meth:`close`.

    ``produce(connected)`` is a generator of results that passes ``connected`` on to
    :meth:`SessionRunner.run`. :meth:`close` ends it at once, from any thread: when no thread is
    inside the generator (a stalled reader) it is closed there and then, which releases the
    session; when the consumer is inside it (waiting for upstream), the connection is aborted
    so that the wait ends now, and the consumer closes the generator as it comes out. Either
    way the consumer's next ``next()`` simply ends the iteration: a close is never an error.
    Only one thread at a time ever runs the generator (a second would raise "generator already
    executing"). ``aborted`` is told of a failure after the first result (not of one caused by
    close()).
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
        self._inside = False  # the consumer is running the generator
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
        with self._lock:
            if self._closed:
                raise StopIteration
            self._inside = True
        try:
            item = next(self._items)
        except SpeechError as exc:
            if self._leave():
                raise StopIteration from None  # the failure is the close's doing
            if self._started and self._aborted is not None:
                self._aborted(exc)
            raise
        except BaseException:
            self._leave()
            raise
        if self._leave():
            raise StopIteration
        self._started = True
        return item

    def _leave(self) -> bool:
        """The consumer is out of the generator; if :meth:`close` came meanwhile, the generator
        is closed now, on this thread, and True is returned."""
        with self._lock:
            if not self._closed:
                self._inside = False
                return False
        self._items.close()  # type: ignore[attr-defined]
        return True

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            inside, conn = self._inside, self._conn
        if not inside:
            self._items.close()  # type: ignore[attr-defined]
        elif conn is not None:
            conn.abort()

    def __enter__(self) -> TurnStream[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
