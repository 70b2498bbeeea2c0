"""A raw WebSocket client for engine tests: sends client events, checks every server event."""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np
import websocket
from openai_types import validate_server_event

from speech_realtime.audio import float_to_pcm16
from speech_realtime.engine.models import Models


class EngineConnection:
    """One session with the engine; every event received is validated for the dialect."""

    def __init__(
        self, base_url: str, path: str = "/v1/realtime?model=local-echo", *, dialect: str = "ga"
    ) -> None:
        self.dialect = dialect
        self.ws = websocket.create_connection(base_url.replace("http://", "ws://") + path, timeout=30)
        self.received: list[dict[str, Any]] = []
        self.created = self.expect("session.created")

    def send(self, type_: str, **fields: Any) -> None:
        self.ws.send(json.dumps({"type": type_, **fields}))

    def send_raw(self, text: str) -> None:
        self.ws.send(text)

    def next(self) -> dict[str, Any]:
        event = json.loads(self.ws.recv())
        validate_server_event(self.dialect, event)
        self.received.append(event)
        return event

    def expect(self, type_: str) -> dict[str, Any]:
        """The next event, which must be of ``type_``."""
        event = self.next()
        assert event["type"] == type_, event
        return event

    def until(self, type_: str) -> list[dict[str, Any]]:
        """Every event up to and including the first of ``type_``."""
        events = [self.next()]
        while events[-1]["type"] != type_:
            events.append(self.next())
        return events

    def close(self) -> None:
        self.ws.close()

    def __enter__(self) -> EngineConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def audio_of(events: list[dict[str, Any]], suffix: str = "audio.delta") -> bytes:
    return b"".join(base64.b64decode(e["delta"]) for e in events if e["type"].endswith(suffix))


def speech_pcm(models: Models, text: str) -> bytes:
    """``text`` spoken by the engine's voice, as PCM16 24 kHz."""
    return float_to_pcm16(np.concatenate([audio for _, audio in models.synthesize(text)]))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
