"""The client's WebSocket for the Azure SDK socket loop: flask-sock's connection (a
``simple_websocket.Server``) with the blocking receive, pings and release the loop needs.

simple-websocket reads the socket on a thread of its own, answers the client's pings and notes
the client's pongs (``pong_received``); its own ping timer is not used, so that every frame,
pings included, is written by the one thread that runs the socket's loop and no two writes
interleave.
"""

from __future__ import annotations

import contextlib
import socket
from typing import Any

from wsproto.events import Ping


class WebSocketWire:
    """A ``simple_websocket.Server`` as a :class:`~.socket_loop.Wire`."""

    def __init__(self, ws: Any) -> None:
        self._ws = ws

    def receive(self) -> str | bytes:
        data: str | bytes = self._ws.receive()  # timeout None: a frame, or ConnectionClosed
        return data

    def send(self, frame: str | bytes) -> None:
        self._ws.send(frame)

    def close(self, code: int, reason: str) -> None:
        self._ws.close(reason=code, message=reason)

    def ping(self) -> bool:
        if not self._ws.pong_received:
            return False
        self._ws.pong_received = False
        self._ws.sock.send(self._ws.ws.send(Ping()))
        return True

    def release(self, *, abort: bool) -> None:
        if abort:  # a peer gone without FIN: nothing would ever end simple-websocket's read
            with contextlib.suppress(OSError):
                self._ws.sock.shutdown(socket.SHUT_RDWR)
        self._ws.connected = False
        self._ws.event.set()  # the loop's reader returns (ConnectionClosed) instead of waiting on
