"""The HTTP server: gunicorn with a thread worker that holds slow, idle and long-lived clients cheaply.

Why threads and not an evented worker: the service does CPU work on request threads (decoding
and resampling uploads, encoding audio, the verbatim check, websocket-client frames). Under
gevent every such stretch blocks every other connection of the worker, so all of it would have
to move to a pool. Threads keep that code as it is; what a thread worker lacked was bounds,
which :class:`SpeechWorker` adds (figures in docs/concurrency.md):

- a new connection waits in the worker's poller, not on a thread, until its first byte
  arrives, and is closed if nothing comes within the client timeout (idle sockets are free);
- headers and body must arrive within the client timeout, plus one second per
  ``MIN_UPLOAD_RATE`` bytes of body, or the client is answered 408 and dropped (slow senders
  hold a thread for a bounded time);
- every write of the response must make progress within the client timeout, or the connection is
  closed and the response iterable's ``close()`` releases its upstream session (stalled readers;
  a bounded kernel send buffer makes a stalled reader block the writes within seconds); on a
  WebSocket every frame is written whole or the connection ends (:mod:`.websocket_writer`);
- the thread budget is the session limit plus the WebSocket budget plus a few threads for
  cheap routes, and WebSocket upgrades beyond their budget are answered 503, so long-lived
  sockets can never take the threads REST requests and ``/info`` need;
- every answer gunicorn itself gives (400, 408, 414, 431, 500, 503) is JSON;
- on SIGTERM the worker sets the app's shutdown event (``extensions["shutdown"]``), so that
  long-lived Azure SDK sockets drain within seconds instead of holding the graceful timeout;
- no gunicorn control socket, so instances never share or delete each other's.
"""

from __future__ import annotations

import errno
import json
import logging
import selectors
import socket
import struct
import threading
import time
from dataclasses import dataclass
from functools import partial
from http import HTTPStatus
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.http import errors as http_errors
from gunicorn.workers.gthread import TConn, ThreadWorker

from .. import metrics
from ..config import Settings
from ..errors import RequestTimeout, Saturated, SpeechError
from .access_log import TEXT_ACCESS_FORMAT, logger_class
from .sdk_setup import SHUTDOWN
from .websocket_writer import FrameWriter

log = logging.getLogger(__name__)

#: Threads beyond sessions and WebSockets: cheap routes, bodies being read, requests refused 503.
HEADROOM_THREADS = 8
#: Upload rate (bytes/s) at which a body earns time beyond the client timeout: a 25 MiB upload
#: may take the timeout plus 400 s, while a client trickling bytes gets the timeout and no more.
MIN_UPLOAD_RATE = 64 * 1024
#: Kernel send buffer per client socket (the kernel doubles it). Small enough that a client that
#: stops reading blocks the response within seconds of audio, so the send timeout notices it
#: (autotuning grows it to 4 MiB, minutes of speech); large enough for 20 Mbit/s at 100 ms RTT.
SEND_BUFFER = 128 * 1024
#: How long writing one of gunicorn's own error answers may take.
ERROR_WRITE_TIMEOUT = 2.0

#: gunicorn's parse errors: the status and code each is answered with (first match wins). A
#: header the app tried to send is the app's fault, not the client's.
_STATUS_FOR: tuple[tuple[type[Exception], int, str], ...] = (
    (http_errors.InvalidResponseHeader, 500, "internal_error"),
    (http_errors.InvalidResponseHeaderName, 500, "internal_error"),
    (http_errors.LimitRequestLine, 414, "uri_too_long"),
    (http_errors.LimitRequestHeaders, 431, "headers_too_large"),
    (http_errors.UnsupportedTransferCoding, 501, "not_implemented"),
    (http_errors.ExpectationFailed, 417, "expectation_failed"),
    (http_errors.ForbiddenProxyRequest, 403, "forbidden"),
    (http_errors.ConfigurationProblem, 500, "internal_error"),
    (http_errors.ParseException, 400, "invalid_request"),
)


@dataclass(frozen=True)
class ClientLimits:
    """What the worker allows its clients; from :class:`Settings`."""

    timeout: float
    max_websockets: int

    @classmethod
    def from_settings(cls, settings: Settings) -> ClientLimits:
        return cls(settings.client_timeout, settings.max_websockets)


def thread_budget(settings: Settings) -> int:
    """Threads per worker: one per upstream session, one per WebSocket, and some headroom."""
    return settings.max_sessions + settings.max_websockets + HEADROOM_THREADS


def error_bytes(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> bytes:
    """A complete HTTP/1.1 answer with the reference's JSON error body; the connection closes."""
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Error"
    lines = [
        f"HTTP/1.1 {status} {reason}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        "Connection: close",
        *(f"{name}: {value}" for name, value in (headers or {}).items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class _ReadDeadline:
    """The socket as gunicorn's request parser sees it: every read bounded by a deadline.

    The parser reads headers and (through ``wsgi.input``) the body with ``recv``; each call
    waits at most the client timeout and never past the deadline, and every byte read earns
    more time at ``MIN_UPLOAD_RATE``. Past either, ``recv`` raises :class:`RequestTimeout`,
    which the app renders as a 408 in its family's envelope (body) or the worker answers
    (headers). Once expired, reads fail at once with ``TimeoutError`` so gunicorn stops
    draining the body and closes the connection. With no deadline (between requests) reads
    pass straight through. Everything else (``settimeout``, ``fileno``, ...) is the real socket's.
    """

    def __init__(self, sock: socket.socket, limits: ClientLimits) -> None:
        self._sock = sock
        self._limits = limits
        self.deadline: float | None = None
        self.expired = False

    def start(self) -> None:
        """A request starts: its headers and body are due within the client timeout."""
        self.deadline = time.monotonic() + self._limits.timeout
        self.expired = False

    def stop(self) -> None:
        """The app is done with the request; any leftover body is gunicorn's to drain."""
        self.deadline = None

    def recv(self, size: int) -> bytes:
        if self.expired:
            raise TimeoutError("the client's time to send its request ran out")
        if self.deadline is None:
            return self._sock.recv(size)
        remaining = self.deadline - time.monotonic()
        try:
            if remaining <= 0:
                raise TimeoutError
            self._sock.settimeout(min(remaining, self._limits.timeout))
            data = self._sock.recv(size)
        except TimeoutError:
            self.expired = True
            raise RequestTimeout(
                f"the request did not arrive in time (client timeout {self._limits.timeout:g} s)",
                param="body",
            ) from None
        finally:
            self._sock.settimeout(self._limits.timeout)
        self.deadline += len(data) / MIN_UPLOAD_RATE
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


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


class _Connection(TConn):
    """A gunicorn connection whose request parser reads through a :class:`_ReadDeadline`.

    It is closed on the thread that served it: gunicorn's graceful close lingers up to 2 s for
    the client to hang up, which on the poller's thread would stall every other connection. A
    connection whose client stopped reading is closed at once (``abort``): its answer is cut
    short anyway.
    """

    def __init__(self, cfg: Any, sock: socket.socket, client: Any, server: Any, limits: ClientLimits) -> None:
        super().__init__(cfg, sock, client, server)
        self.reader = _ReadDeadline(sock, limits)
        self.abort = False
        self.closed = False

    def close(self, graceful: bool = False) -> None:
        if not self.closed:
            self.closed = True
            super().close(graceful=graceful and not self.abort)

    def init(self) -> None:
        first = not self.initialized
        super().init()
        unreader = getattr(self.parser, "unreader", None)
        if first and getattr(unreader, "sock", None) is self.sock:
            unreader.sock = self.reader


def _is_websocket(req: Any) -> bool:
    return any(name == "UPGRADE" and value.strip().lower() == "websocket" for name, value in req.headers)


class SpeechWorker(ThreadWorker):
    """gunicorn's thread worker with bounds on slow, idle and stalled clients, and JSON errors."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Run by SpeechServer, the limits come from its settings; under plain gunicorn, the defaults.
        limits = getattr(self.app, "limits", None)
        self.limits: ClientLimits = limits or ClientLimits.from_settings(Settings())
        self._websockets = 0
        self._websockets_lock = threading.Lock()

    def handle_exit(self, sig: int, frame: Any) -> None:
        """SIGTERM: gunicorn stops accepting and waits for open connections; the app's
        long-lived sockets are told to end (an Event: safe to set from a signal handler here,
        since the worker's main thread never waits on it)."""
        super().handle_exit(sig, frame)
        extensions = getattr(self.wsgi, "extensions", None)
        shutdown = extensions.get(SHUTDOWN) if isinstance(extensions, dict) else None
        if shutdown is not None:
            shutdown.set()

    def accept(self, listener: socket.socket) -> None:
        """Park a new connection in the poller until it sends something; it costs no thread."""
        try:
            client_sock, client_addr = listener.accept()
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                return
            raise
        self.nr_conns += 1
        client_sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
        conn = _Connection(self.cfg, client_sock, client_addr, listener.getsockname(), self.limits)
        conn.timeout = time.monotonic() + self.limits.timeout
        self.pending_conns.append(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self.on_pending_socket_readable, conn))

    def handle(self, conn: _Connection) -> Any:
        """Serve one request (a thread runs this once the connection is readable)."""
        conn.reader.start()
        keep_alive = super().handle(conn)
        if keep_alive is False:
            conn.close(graceful=True)
        return keep_alive

    def handle_request(self, req: Any, conn: _Connection) -> bool:
        """Run the app with a send timeout; a WebSocket upgrade counts against its budget."""
        if not _is_websocket(req):
            sock = conn.sock
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
        with self._websockets_lock:
            admitted = self._websockets < self.limits.max_websockets
            self._websockets += admitted
        if not admitted:
            refused = Saturated(
                f"all {self.limits.max_websockets} WebSocket connections are in use; retry later",
                retry_after=1,
            )
            self._answer(conn.sock, refused.status, refused.code, refused.message, refused.headers)
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
        finally:
            with self._websockets_lock:
                self._websockets -= 1

    def handle_error(self, req: Any, client: socket.socket, addr: Any, exc: BaseException) -> None:
        """gunicorn's own answers (bad request line, headers too large, ...) as JSON, not HTML."""
        headers: dict[str, str] = {}
        if isinstance(exc, SpeechError):
            status, code, message, headers = exc.status, exc.code, exc.message, exc.headers
            self.log.info("answered %d %s to %s", status, code, addr[0] if addr else "?")
        else:
            status, code = next(((s, c) for kind, s, c in _STATUS_FOR if isinstance(exc, kind)), (500, ""))
            if code and status < 500:
                message = str(exc) or HTTPStatus(status).phrase
                self.log.warning("invalid request from %s: %s", addr[0] if addr else "?", message)
            else:
                code, message = "internal_error", "internal error; see the service log"
                self.log.error("error handling request", exc_info=exc)
        self._answer(client, status, code, message, headers)

    def _answer(
        self, sock: socket.socket, status: int, code: str, message: str, headers: dict[str, str]
    ) -> None:
        try:
            sock.settimeout(ERROR_WRITE_TIMEOUT)
            sock.sendall(error_bytes(status, code, message, headers))
        except OSError:
            self.log.debug("could not send the %d answer", status)


class SpeechServer(BaseApplication):  # type: ignore[misc]
    """gunicorn running ``app`` with :class:`SpeechWorker` and options from :func:`server_options`."""

    def __init__(self, app: Any, options: dict[str, Any], limits: ClientLimits) -> None:
        self.application = app
        self.options = options
        self.limits = limits
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return self.application


def server_options(
    settings: Settings, *, host: str, port: int, workers: int = 1, threads: int | None = None
) -> dict[str, Any]:
    """gunicorn settings for ``serve``: the worker, its thread budget, and no control socket."""
    return {
        "bind": f"{host}:{port}",
        "workers": max(1, workers),
        "threads": max(1, threads or thread_budget(settings)),
        "worker_class": SpeechWorker,
        "timeout": int(settings.request_timeout) + 30,
        "graceful_timeout": int(settings.request_timeout) + 5,
        "control_socket_disable": True,
        "accesslog": "-",
        "access_log_format": TEXT_ACCESS_FORMAT,
        "logger_class": logger_class(settings.log_format),
        "loglevel": settings.log_level.lower(),
        "child_exit": lambda _arbiter, worker: metrics.worker_exited(worker.pid, settings.metrics_dir),
    }


def serve(
    app: Any, settings: Settings, *, host: str, port: int, workers: int = 1, threads: int | None = None
) -> None:
    """Run ``app`` under gunicorn until it is stopped (SIGINT/SIGTERM)."""
    options = server_options(settings, host=host, port=port, workers=workers, threads=threads)
    SpeechServer(app, options, ClientLimits.from_settings(settings)).run()
