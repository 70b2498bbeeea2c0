"""Reading a request before it gets a thread, and the deadline its reads run under.

A worker thread is the scarce resource: slow senders (slowloris) used to hold one each until
their 408. :class:`Prefetch` collects a request in the worker's poller instead (non-blocking
reads on the poller's thread), so a connection gets a thread only once its headers, and a
body of at most :data:`PREFETCH_BODY_LIMIT` bytes, are all there. Larger bodies, chunked
bodies and ``Expect: 100-continue`` requests get their thread after the headers, as before.

:class:`DeadlineReader` is the socket as gunicorn's request parser sees it on the thread: the
prefetched bytes first, then reads bounded by the request's deadline.
"""

from __future__ import annotations

import contextlib
import errno
import selectors
import socket
import time
from functools import partial
from typing import Any

from gunicorn.workers.gthread import TConn, ThreadWorker

from ..errors import RequestTimeout, SpeechError
from .limits import ClientLimits
from .wire_errors import family_error_bytes

#: Upload rate (bytes/s) at which a body earns time beyond the client timeout: a 25 MiB upload
#: may take the timeout plus 400 s, while a client trickling bytes gets the timeout and no more.
MIN_UPLOAD_RATE = 64 * 1024
#: Header bytes collected in the poller; beyond, the thread's parser answers 414/431.
PREFETCH_HEAD_LIMIT = 64 * 1024
#: The largest body read in the poller (memory per slow connection is bounded by this).
PREFETCH_BODY_LIMIT = 1024 * 1024
#: One non-blocking read in the poller.
READ_SIZE = 64 * 1024


class Prefetch:
    """One request being collected in the poller: its bytes and the time it has left."""

    def __init__(self, limits: ClientLimits, now: float) -> None:
        self.buffer = bytearray()
        self.deadline = now + limits.timeout
        self._head_end: int | None = None
        self._body = 0

    def feed(self, data: bytes) -> bool:
        """Add bytes read; True once the request may go to a thread."""
        self.buffer += data
        self.deadline += len(data) / MIN_UPLOAD_RATE
        if self._head_end is None:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return len(self.buffer) > PREFETCH_HEAD_LIMIT
            self._head_end = end + 4
            self._body = body_to_wait_for(bytes(self.buffer[:end]))
        return len(self.buffer) - self._head_end >= self._body

    def path(self) -> str:
        """The request target so far ("" before the request line is complete)."""
        return request_path(bytes(self.buffer))


def request_path(data: bytes) -> str:
    """The path of the request line at the start of ``data`` ("" if there is none yet)."""
    line, found, _ = data.partition(b"\r\n")
    parts = line.split(b" ")
    if not found or len(parts) != 3:
        return ""
    return parts[1].split(b"?", 1)[0].decode("latin-1")


def body_to_wait_for(head: bytes) -> int:
    """How many body bytes the poller collects for a request with these headers: its
    Content-Length if small; 0 when the thread must read it (large, chunked, 100-continue)."""
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name in (b"transfer-encoding", b"expect"):
            return 0
        if name == b"content-length":
            try:
                length = int(value.strip())
            except ValueError:
                return 0  # the parser's 400
    return length if 0 <= length <= PREFETCH_BODY_LIMIT else 0


class DeadlineReader:
    """The socket as gunicorn's request parser sees it: prefetched bytes, then reads bounded by
    a deadline.

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
        self._ahead = b""
        self.deadline: float | None = None
        self.expired = False

    def preload(self, data: bytes, deadline: float) -> None:
        """Bytes the poller read, served before the socket's, and the deadline they left."""
        self._ahead += data
        self.deadline = deadline

    def start(self) -> None:
        """A request starts: its headers and body are due within the client timeout (or the
        deadline left from prefetching)."""
        now = time.monotonic()
        if self.deadline is None or not self._ahead:
            self.deadline = now + self._limits.timeout
        self.expired = False

    def stop(self) -> None:
        """The app is done with the request; any leftover body is gunicorn's to drain."""
        self.deadline = None

    def ahead(self) -> bytes:
        """The prefetched bytes not read yet (the start of a request no thread has parsed)."""
        return self._ahead

    def take_ahead(self) -> bytes:
        """The prefetched bytes not read yet, now the caller's (a pipelined next request)."""
        data, self._ahead = self._ahead, b""
        return data

    def recv(self, size: int) -> bytes:
        if self._ahead:
            data, self._ahead = self._ahead[:size], self._ahead[size:]
            return data
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


class Connection(TConn):
    """A gunicorn connection whose request parser reads through a :class:`DeadlineReader`.

    It is closed on the thread that served it: gunicorn's graceful close lingers up to 2 s for
    the client to hang up, which on the poller's thread would stall every other connection. A
    connection whose client stopped reading is closed at once (``abort``): its answer is cut
    short anyway. ``prefetch`` is the request being collected in the poller, if any.
    """

    def __init__(self, cfg: Any, sock: socket.socket, client: Any, server: Any, limits: ClientLimits) -> None:
        super().__init__(cfg, sock, client, server)
        self.reader = DeadlineReader(sock, limits)
        self.prefetch: Prefetch | None = None
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


class PrefetchWorker(ThreadWorker):
    """gunicorn's thread worker, but a connection waits in the poller, costing no thread, until
    its request is there (see :class:`Prefetch`), or until its deadline: then it is answered
    408 (if it sent anything) and closed. Connections kept alive between requests wait the
    same way for their next one."""

    #: ``SO_SNDBUF`` of client sockets (None: the kernel's default).
    send_buffer: int | None = None
    limits: ClientLimits
    #: Set once the listeners were shut down (the service is stopping): never accept again.
    listeners_shut = False

    def set_accept_enabled(self, enabled: bool) -> None:
        super().set_accept_enabled(enabled and not self.listeners_shut)

    def accept(self, listener: socket.socket) -> None:
        """Park a new connection in the poller until its request is there; it costs no thread."""
        try:
            client_sock, client_addr = listener.accept()
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                return
            if exc.errno == errno.EINVAL:  # the arbiter shut the listener down: a drain begins
                self.listeners_shut = True
                self.set_accept_enabled(False)
                return
            raise
        self.nr_conns += 1
        if self.send_buffer:
            client_sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.send_buffer)
        conn = Connection(self.cfg, client_sock, client_addr, listener.getsockname(), self.limits)
        conn.timeout = time.monotonic() + self.limits.timeout
        self.pending_conns.append(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self.on_pending_socket_readable, conn))

    def on_client_socket_readable(self, conn: Connection, client: socket.socket) -> None:
        """A kept-alive connection sends its next request: collect it like a new one's."""
        self.keepalived_conns.remove(conn)
        self.pending_conns.append(conn)
        self.poller.modify(conn.sock, selectors.EVENT_READ, partial(self.on_pending_socket_readable, conn))
        self.on_pending_socket_readable(conn, client)

    def on_pending_socket_readable(self, conn: Connection, client: socket.socket) -> None:
        """Read what arrived without blocking; hand the connection to a thread once its request
        (headers, and a small body) is complete, or the client hung up."""
        if self.cfg.is_ssl:  # TLS bytes cannot be read ahead of the handshake
            super().on_pending_socket_readable(conn, client)
            return
        try:
            data = conn.sock.recv(READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        now = time.monotonic()
        if conn.prefetch is None:
            conn.prefetch = Prefetch(self.limits, now)
        if data and not conn.prefetch.feed(data):
            conn.timeout = conn.prefetch.deadline
            return
        self.poller.unregister(conn.sock)
        self.pending_conns.remove(conn)
        conn.reader.preload(bytes(conn.prefetch.buffer), conn.prefetch.deadline)
        conn.prefetch = None
        conn.data_ready = True
        self.enqueue_req(conn)

    def murder_pending(self) -> None:
        """Close parked connections past their deadline (those that sent part of a request get
        a 408 in the family's envelope of their path)."""
        now = time.monotonic()
        for conn in [conn for conn in self.pending_conns if conn.timeout <= now]:
            self.pending_conns.remove(conn)
            with contextlib.suppress(KeyError, ValueError, OSError):
                self.poller.unregister(conn.sock)
            self.nr_conns -= 1
            if conn.prefetch is not None and conn.prefetch.buffer:
                late = RequestTimeout(
                    f"the request did not arrive in time (client timeout {self.limits.timeout:g} s)"
                )
                self._answer_now(conn.sock, conn.prefetch.path(), late)
            conn.close()

    def _answer_now(self, sock: socket.socket, path: str, error: SpeechError) -> None:
        """An answer from the poller's thread: one non-blocking send (it fits the send buffer)."""
        with contextlib.suppress(OSError):
            sock.send(self._render(path, error.status, error.code, error.message, error.headers))

    def _render(self, path: str, status: int, code: str, message: str, headers: dict[str, str]) -> bytes:
        return family_error_bytes(self.wsgi, path, status, code, message, headers)
