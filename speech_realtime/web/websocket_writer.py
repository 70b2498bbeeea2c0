"""The socket of an upgraded WebSocket as simple-websocket writes to it: whole frames or a clean end.

simple-websocket writes each frame with one ``socket.send``. On the worker's WebSocket sockets
(blocking, with ``SO_SNDTIMEO`` set to the client timeout) a send to a slow reader may take part
of a frame and return when the timeout passes, and simple-websocket drops the rest without a
word: the reader's stream is torn. A send to a reader that stopped raises ``BlockingIOError``,
which reached the app as an ERROR traceback.

:class:`FrameWriter` makes every send write all of its bytes, as long as each wait makes
progress within the timeout (a slow but steady reader gets every frame whole, however long a
frame takes), one frame at a time (the app thread and simple-websocket's reader thread, which
answers pings, both send). A wait with no progress at all means the client stopped reading:
that is logged once, the connection is shut down (nothing follows the frame in progress) and
:class:`ReaderStalled` is raised, now and from every later send.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import socket
import threading
from typing import Any

from simple_websocket import ConnectionClosed

log = logging.getLogger(__name__)

#: The WebSocket close code for a connection that ended without a close frame.
ABNORMAL_CLOSURE = 1006


class ReaderStalled(ConnectionClosed, BrokenPipeError):
    """The client stopped reading and the connection was shut down.

    A :class:`ConnectionClosed` for the app (flask-sock and the socket loops end quietly on
    it) and a broken pipe for simple-websocket's reader thread and gunicorn, which both treat
    that as a client gone away.
    """

    def __init__(self, message: str) -> None:
        super().__init__(ABNORMAL_CLOSURE, message)
        self.errno = errno.EPIPE


class FrameWriter:
    """``sock`` (an upgraded WebSocket's) whose ``send`` and ``sendall`` write everything or raise
    :class:`ReaderStalled`; anything else is the real socket's."""

    def __init__(self, sock: socket.socket, timeout: float, peer: str) -> None:
        self._sock = sock
        self._timeout = timeout
        self._peer = peer
        self._lock = threading.Lock()
        self._stalled = False

    def sendall(self, data: bytes) -> None:
        view = memoryview(data).cast("B")
        with self._lock:
            if self._stalled:
                raise ReaderStalled("the client stopped reading")
            try:
                while view:
                    view = view[self._sock.send(view) :]
            except (BlockingIOError, TimeoutError):  # SO_SNDTIMEO passed with nothing taken
                self._stalled = True
                log.warning(
                    "websocket to %s: the client read nothing for %g s; closing the connection",
                    self._peer,
                    self._timeout,
                )
                with contextlib.suppress(OSError):
                    self._sock.shutdown(socket.SHUT_RDWR)
                raise ReaderStalled("the client stopped reading") from None

    def send(self, data: bytes) -> int:
        """All of ``data``, as :meth:`sendall` (simple-websocket ignores a short count)."""
        self.sendall(data)
        return len(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)
