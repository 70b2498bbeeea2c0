"""Realtime clients for the pass-through tests: the openai SDK's GA and beta connections and a
raw websocket-client socket, every wait bounded."""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import websocket
from openai import OpenAI

#: Seconds any one wait for a server event may take.
EVENT_LIMIT = 10.0
CONNECT_OPTIONS = {"open_timeout": EVENT_LIMIT, "close_timeout": 2}


def sdk(base: str, key: str = "sk-anything") -> OpenAI:
    return OpenAI(base_url=f"{base}/v1", api_key=key, timeout=EVENT_LIMIT, max_retries=0)


def next_event(conn: Any, limit: float = EVENT_LIMIT) -> Any:
    """The next server event of an SDK connection, within ``limit`` seconds."""
    return conn.parse_event(conn._connection.recv(timeout=limit, decode=False))


def events_until(conn: Any, last: str, limit: float = EVENT_LIMIT) -> list[Any]:
    """Server events up to and including the first of type ``last`` (or an ``error``)."""
    events = []
    while True:
        event = next_event(conn, limit)
        events.append(event)
        if event.type in (last, "error"):
            return events


@contextmanager
def raw_socket(url: str, **options: Any) -> Iterator[websocket.WebSocket]:
    """A websocket-client connection (subprotocols, headers) with a receive timeout."""
    ws = websocket.create_connection(url, timeout=EVENT_LIMIT, **options)
    try:
        yield ws
    finally:
        ws.close(timeout=1)


def receive_json(ws: websocket.WebSocket) -> dict[str, Any]:
    return json.loads(ws.recv())


def receive_until(ws: websocket.WebSocket, last: str) -> list[dict[str, Any]]:
    events = []
    while True:
        event = receive_json(ws)
        events.append(event)
        if event["type"] in (last, "error"):
            return events


def ws_url(base: str, path: str) -> str:
    return "ws" + base.removeprefix("http") + path


def close_code(ws: websocket.WebSocket) -> int:
    """The status of the close frame the server sends next (other frames skipped)."""
    while True:
        opcode, frame = ws.recv_data_frame(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            return struct.unpack("!H", frame.data[:2])[0] if len(frame.data) >= 2 else 1005
