"""The HTTP server: gunicorn with a thread worker that holds slow, idle and long-lived clients cheaply.

Why threads and not an evented worker: the service does CPU work on request threads (decoding
and resampling uploads, encoding audio, the verbatim check, websocket-client frames). Under
gevent every such stretch blocks every other connection of the worker, so all of it would have
to move to a pool. Threads keep that code as it is; what a thread worker lacked was bounds,
which :class:`SpeechWorker` adds (figures in docs/concurrency.md):

- a connection waits in the worker's poller, not on a thread, until its request is there
  (headers, and a body of up to 1 MiB: :mod:`.prefetch`), and is answered 408 and closed if it
  does not come within the client timeout (idle sockets and slow senders are free);
- headers and the rest of a large body must arrive within the client timeout, plus one second
  per ``MIN_UPLOAD_RATE`` bytes of body, or the client is answered 408 and dropped;
- every write of the response must make progress within the client timeout, or the connection is
  closed and the response iterable's ``close()`` releases its upstream session (stalled readers;
  a bounded kernel send buffer makes a stalled reader block the writes within seconds); on a
  WebSocket every frame is written whole or the connection ends (:mod:`.websocket_writer`);
- the thread budget is the worker's share of the session limit plus its share of the WebSocket
  budget plus a few threads for cheap routes (:mod:`.limits`: the limits are totals over every
  worker), and WebSocket upgrades beyond their budget are answered 503, so long-lived sockets
  can never take the threads REST requests and ``/info`` need;
- every answer gunicorn itself gives (400, 408, 414, 431, 500, 503) is in the envelope of the
  family of its path (:mod:`.wire_errors`);
- SIGTERM, SIGINT and SIGQUIT start the same drain (:mod:`.drain`): the listener refuses new
  connections, parked ones close (or get 503), requests in flight finish within the graceful
  timeout, and the app's shutdown event (``extensions["shutdown"]``) makes Azure SDK sockets end;
- no gunicorn control socket, so instances never share or delete each other's.
"""

from __future__ import annotations

import contextlib
import io
import logging
import socket
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gunicorn.app.base import BaseApplication

from ..config import Settings
from ..errors import Saturated, SpeechError
from .drain import RETRY_AFTER, Drain, SpeechArbiter, shut_listeners
from .forwarded import believe_forwarded
from .gunicorn_config import server_options, thread_budget
from .limits import ClientLimits
from .prefetch import READ_SIZE, Connection, PrefetchWorker, request_path
from .sdk_setup import SHUTDOWN
from .websocket_writer import FrameWriter
from .wire_errors import classify

log = logging.getLogger(__name__)

#: Kernel send buffer per client socket (the kernel doubles it). Small enough that a client that
#: stops reading blocks the response within seconds of audio, so the send timeout notices it
#: (autotuning grows it to 4 MiB, minutes of speech); large enough for 20 Mbit/s at 100 ms RTT.
SEND_BUFFER = 128 * 1024
#: How long writing one of gunicorn's own error answers may take.
ERROR_WRITE_TIMEOUT = 2.0
#: Bytes of a request's start kept to name its path in an error answer.
HEAD_KEPT = 8192

__all__ = ["SpeechServer", "SpeechWorker", "serve", "server_options", "thread_budget"]


class _ProgressWriter:
    """The socket as gunicorn's response writer sees it: a write fails only when it stalls.

    The socket's timeout (the client timeout) bounds each ``send``, which returns as soon as the
    kernel takes some bytes, so a client that reads slowly but steadily gets an answer of any
    size, while one that stops reading fails the write within the timeout. (``socket.sendall``
    with a timeout bounds the whole call instead, which would cut off a long download.)
    """

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def sendall(self, data: bytes) -> None:
        view = memoryview(data).cast("B")
        while view:
            view = view[self._sock.send(view) :]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


def _is_websocket(req: Any) -> bool:
    return any(name == "UPGRADE" and value.strip().lower() == "websocket" for name, value in req.headers)


class SpeechWorker(PrefetchWorker):
    """gunicorn's thread worker with bounds on slow, idle and stalled clients, answers in each
    family's shape, and a complete drain.

    It relies on these internals of gunicorn 27's gthread worker (setup.cfg pins gunicorn 27;
    ``tests/test_web_server_gunicorn.py`` fails if one of them is gone): ``TConn`` (``sock``,
    ``parser``, ``initialized``, ``data_ready``, ``timeout``, ``init``, ``close``), the
    ``parser.unreader.sock`` it reads from, ``ThreadWorker.handle``, ``handle_request``,
    ``handle_error``, ``handle_exit``, ``handle_quit``, ``accept``, ``enqueue_req``,
    ``on_pending_socket_readable``, ``on_client_socket_readable``, ``murder_pending``,
    ``_cap_keepalive`` (called once when its loop ends: where the drain starts),
    ``is_parent_alive``, ``set_accept_enabled``, and the attributes ``poller``, ``pending_conns``,
    ``keepalived_conns``, ``nr_conns``, ``sockets``, ``alive``, ``wsgi``, ``cfg``, ``log``.
    """

    send_buffer = SEND_BUFFER

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.slot = 0  # set by the pre_fork hook (assign_slot) before the fork
        self.limits = ClientLimits.from_settings(Settings())
        self.drain = Drain(self.limits.graceful_timeout)
        self._websockets = 0
        self._websockets_lock = threading.Lock()
        self._orphaned = False
        self._heads = threading.local()

    def init_process(self) -> None:
        """In the worker, after the fork: the limits of its slot (run by SpeechServer; under
        plain gunicorn, the defaults), then gunicorn's start (which runs the loop)."""
        limits_for = getattr(self.app, "limits_for", None)
        if limits_for is not None:
            self.limits = limits_for(self.slot)
            self.drain = Drain(self.limits.graceful_timeout)
        super().init_process()

    def load_wsgi(self) -> None:
        """The app of this worker's slot (its share of the limits), else gunicorn's loading."""
        build = getattr(self.app, "app_for", None)
        if build is None:
            super().load_wsgi()
        else:
            self.wsgi = build(self.slot)
        self._runner_call("start")  # the session pool fills here, after the fork

    # -- the drain --------------------------------------------------------------------------

    def handle_exit(self, sig: int, frame: Any) -> None:
        """SIGTERM: stop the loop and tell the app's long-lived sockets to end (an Event: safe to
        set from a signal handler here, since the worker's main thread never waits on it)."""
        super().handle_exit(sig, frame)
        self._signal_shutdown()

    def handle_quit(self, sig: int, frame: Any) -> None:
        """SIGQUIT and SIGINT drain like SIGTERM (gunicorn's would exit on the spot)."""
        self.handle_exit(sig, frame)

    def is_parent_alive(self) -> bool:
        alive = super().is_parent_alive()
        self._orphaned = not alive
        return alive

    def _runner_call(self, name: str) -> None:
        """Call the app's session runner's ``start`` or ``close`` (its pool), if it has one."""
        extensions = getattr(getattr(self, "wsgi", None), "extensions", None)
        service = extensions.get("speech") if isinstance(extensions, dict) else None
        method = getattr(getattr(service, "runner", None), name, None)
        if callable(method):
            method()

    def _signal_shutdown(self) -> None:
        # A signal may come while the worker is still booting, before its app is loaded.
        extensions = getattr(getattr(self, "wsgi", None), "extensions", None)
        shutdown = extensions.get(SHUTDOWN) if isinstance(extensions, dict) else None
        if shutdown is not None:
            shutdown.set()

    def _cap_keepalive(self, deadline: float) -> None:
        """The worker's loop has ended: begin the drain (gunicorn calls this once, then waits
        for the connections in flight)."""
        self.drain.begin()
        self._signal_shutdown()
        self._runner_call("close")  # idle pooled sessions close; none are opened any more
        if self._orphaned:
            shut_listeners(self.sockets)
        for conn in [*self.keepalived_conns, *self.pending_conns]:
            self._refuse_parked(conn)
        self.keepalived_conns.clear()
        self.pending_conns.clear()

    def _refuse_parked(self, conn: Connection) -> None:
        """Close a connection waiting in the poller; one that sent (part of) a request is
        answered 503 first."""
        with contextlib.suppress(KeyError, ValueError, OSError):
            self.poller.unregister(conn.sock)
        self.nr_conns -= 1
        started = bytes(conn.prefetch.buffer) if conn.prefetch else b""
        with contextlib.suppress(OSError):
            started = started or conn.sock.recv(READ_SIZE, socket.MSG_PEEK)
        if started:
            self._answer_now(conn.sock, request_path(started), self._draining_answer())
        conn.close()

    def murder_pending(self) -> None:
        """Abort what outlived the drain, then close parked connections past their deadline."""
        self.drain.tick()
        super().murder_pending()

    @staticmethod
    def _draining_answer() -> Saturated:
        return Saturated("the service is shutting down; retry shortly", retry_after=RETRY_AFTER)

    # -- serving ------------------------------------------------------------------------------

    def handle(self, conn: Connection) -> Any:
        """Serve one request (a thread runs this once its request is there); a draining worker
        answers 503 instead of starting it."""
        if self.drain.draining:
            self._answer_now(conn.sock, request_path(conn.reader.ahead()), self._draining_answer())
            conn.close()
            return False
        conn.reader.start()
        self._heads.ahead = conn.reader.ahead()[:HEAD_KEPT]  # for handle_error's path
        keep_alive = super().handle(conn)
        if keep_alive is False:
            conn.close(graceful=True)
        elif conn.reader.ahead():
            # A pipelined request read ahead in the poller: where gunicorn looks for one (after
            # what its parser already buffered), so it is served next instead of waiting for
            # the socket to become readable again.
            buffered = conn.parser.unreader.buf
            buffered.seek(0, io.SEEK_END)
            buffered.write(conn.reader.take_ahead())
        return keep_alive

    def handle_request(self, req: Any, conn: Connection) -> bool:
        """Run the app with a send timeout; a WebSocket upgrade counts against its budget."""
        sock = conn.sock
        self.drain.serving(sock, _is_websocket(req))
        try:
            if _is_websocket(req):
                return self._handle_websocket(req, conn)
            sock.settimeout(self.limits.timeout)
            conn.sock = _ProgressWriter(sock)
            try:
                return super().handle_request(req, conn)
            except TimeoutError:
                conn.abort = True
                log.warning(
                    "closed %s %s: the client did not read the response for %g s",
                    req.method,
                    req.path,
                    self.limits.timeout,
                )
                return False
            finally:
                conn.sock = sock
                conn.reader.stop()
        finally:
            self.drain.served(sock)

    def _handle_websocket(self, req: Any, conn: Connection) -> bool:
        with self._websockets_lock:
            admitted = self._websockets < self.limits.max_websockets
            self._websockets += admitted
        if not admitted:
            refused = Saturated(
                f"all {self.limits.max_websockets} WebSocket connections are in use; retry later",
                retry_after=1,
            )
            self._answer(conn.sock, req.path, refused.status, refused.code, refused.message, refused.headers)
            return False
        try:
            # The socket now belongs to the WebSocket: reads block (its reader thread waits for
            # frames), while a send to a client that stopped reading still gives up in time.
            conn.reader.stop()
            conn.sock.settimeout(None)
            seconds = int(self.limits.timeout)
            micros = int((self.limits.timeout - seconds) * 1e6)
            conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", seconds, micros))
            sock = conn.sock
            client = conn.client[0] if isinstance(conn.client, tuple) else conn.client
            conn.sock = FrameWriter(sock, self.limits.timeout, f"{req.path} from {client}")
            try:
                return super().handle_request(req, conn)
            finally:
                conn.sock = sock
                # simple-websocket reads on a thread of its own (not a daemon) and leaves the
                # socket to the server: shut it down to wake that read, or it blocks for good
                # and the process cannot exit (a silent peer held serve's exit 35 s).
                conn.abort = True
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        finally:
            with self._websockets_lock:
                self._websockets -= 1

    def handle_error(self, req: Any, client: socket.socket, addr: Any, exc: BaseException) -> None:
        """gunicorn's own answers (bad request line, headers too large, ...) in the family's
        envelope of the path, never HTML."""
        peer = addr[0] if addr else "?"
        status, code, message, headers = classify(exc)
        if isinstance(exc, SpeechError):
            self.log.info("answered %d %s to %s", status, code, peer)
        elif status < 500:
            self.log.warning("invalid request from %s: %s", peer, message)
        else:
            self.log.error("error handling request", exc_info=exc)
        path = getattr(req, "path", None) or request_path(getattr(self._heads, "ahead", b""))
        self._answer(client, path, status, code, message, headers)

    def _answer(
        self, sock: socket.socket, path: str, status: int, code: str, message: str, headers: dict[str, str]
    ) -> None:
        try:
            sock.settimeout(ERROR_WRITE_TIMEOUT)
            sock.sendall(self._render(path, status, code, message, headers))
        except OSError:
            self.log.debug("could not send the %d answer", status)


@dataclass(frozen=True)
class PerWorker:
    """An app built in each worker from that worker's settings (its share of the limits)."""

    build: Callable[[Settings], Any]


class SpeechServer(BaseApplication):  # type: ignore[misc]
    """gunicorn running ``app`` (a WSGI app, or :class:`PerWorker`) with :class:`SpeechWorker`
    under :class:`SpeechArbiter`, with options from :func:`.gunicorn_config.server_options`."""

    def __init__(self, app: Any, options: dict[str, Any], settings: Settings) -> None:
        self.application = app
        self.options = options
        self.settings = settings
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return self.app_for(0)

    def limits_for(self, slot: int) -> ClientLimits:
        return ClientLimits.from_settings(self.settings.with_changes(worker_slot=slot))

    def app_for(self, slot: int) -> Any:
        """The app of ``slot``, believing forwarding headers from the configured proxies only."""
        if isinstance(self.application, PerWorker):
            app = self.application.build(self.settings.with_changes(worker_slot=slot))
        else:
            app = self.application
        return believe_forwarded(app, self.settings.forwarded_allow_ips)

    def run(self) -> None:
        SpeechArbiter(self).run()


def serve(
    app: Any, settings: Settings, *, host: str, port: int, workers: int = 1, threads: int | None = None
) -> None:
    """Run ``app`` under gunicorn until it is stopped (SIGTERM, SIGINT or SIGQUIT: a drain).
    ``SPEECH_MAX_SESSIONS`` and ``SPEECH_MAX_WEBSOCKETS`` are shared out among the workers."""
    settings = settings.with_changes(workers=max(1, workers))
    settings.check_workers()
    options = server_options(settings, host=host, port=port, workers=workers, threads=threads)
    SpeechServer(app, options, settings).run()
