"""A seed-004 client for the relay's tests (websocket-client), every call under a time limit."""

from __future__ import annotations

import json
import queue
import threading
import time
from typing import Any

import websocket

#: The longest any single receive waits (seconds).
RECEIVE_SECONDS = 10.0


class RelayClient:
    """One relay connection: JSON messages as dicts, binary frames as bytes, with arrival times.

    A reader thread takes every frame as it arrives (so arrival times are true while the test
    sends); the close frame ends it with a ``("close", code)`` item.
    """

    def __init__(
        self,
        base_url: str,
        path: str = "/realtime",
        *,
        header: list[str] | None = None,
        subprotocols: list[str] | None = None,
        timeout: float = RECEIVE_SECONDS,
    ) -> None:
        self.ws = websocket.create_connection(
            base_url.replace("http://", "ws://") + path,
            timeout=timeout,
            header=header or [],
            subprotocols=subprotocols,
        )
        #: every message taken by :meth:`next`: (monotonic arrival time, dict or bytes)
        self.received: list[tuple[float, dict[str, Any] | bytes]] = []
        self._frames: queue.Queue[tuple[float, Any]] = queue.Queue()
        self.ws.settimeout(None)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            while True:
                opcode, data = self.ws.recv_data(control_frame=True)
                now = time.monotonic()
                if opcode == websocket.ABNF.OPCODE_CLOSE:
                    code = int.from_bytes(data[:2], "big") if len(data) >= 2 else 1005
                    self._frames.put((now, ("close", code)))
                    return
                if opcode == websocket.ABNF.OPCODE_BINARY:
                    self._frames.put((now, data))
                elif opcode == websocket.ABNF.OPCODE_TEXT:
                    self._frames.put((now, json.loads(data)))
        except Exception:
            self._frames.put((time.monotonic(), ("close", 1006)))

    def send(self, message: dict[str, Any]) -> None:
        self.ws.send(json.dumps(message))

    def say(self, text: str, message_id: str = "m1") -> None:
        self.send({"type": "user_message", "id": message_id, "text": text})

    def send_audio(self, pcm: bytes) -> None:
        self.ws.send_binary(pcm)

    def next(self, timeout: float = RECEIVE_SECONDS) -> dict[str, Any] | bytes:
        """The next message; a close raises ``WebSocketConnectionClosedException``, silence for
        ``timeout`` seconds ``queue.Empty``."""
        at, message = self._frames.get(timeout=timeout)
        if isinstance(message, tuple):
            self._frames.put((at, message))  # stays closed
            raise websocket.WebSocketConnectionClosedException(f"closed {message[1]}")
        self.received.append((at, message))
        return message

    def until(self, kind: str, action: str | None = None, timeout: float = RECEIVE_SECONDS) -> list[Any]:
        """Every message up to and including the first JSON one of ``kind`` (and ``action``)."""
        deadline = time.monotonic() + timeout
        messages = []
        while True:
            message = self.next(max(0.01, deadline - time.monotonic()))
            messages.append(message)
            if (
                isinstance(message, dict)
                and message["type"] == kind
                and action in (None, message.get("action"))
            ):
                return messages

    def closed(self, timeout: float = RECEIVE_SECONDS) -> tuple[int, list[Any]]:
        """Read until the relay closes; its close code and the messages before."""
        deadline = time.monotonic() + timeout
        messages = []
        while True:
            _, message = self._frames.get(timeout=max(0.01, deadline - time.monotonic()))
            if isinstance(message, tuple):
                return message[1], messages
            messages.append(message)

    def close(self) -> None:
        self.ws.close(timeout=1)

    def __enter__(self) -> RelayClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def audio_of(messages: list[Any]) -> bytes:
    return b"".join(m for m in messages if isinstance(m, bytes))


def json_of(messages: list[Any], kind: str | None = None) -> list[dict[str, Any]]:
    return [m for m in messages if isinstance(m, dict) and kind in (None, m["type"])]
