"""The seed-004 protocol: the browser's frames parsed and checked, the relay's messages built.

Client to relay: ``{"type": "user_message", "id", "text"}`` as text frames, and binary frames of
PCM16 24 kHz mono audio. Relay to client: ``control`` (``connected`` with an optional
``greeting``, ``speech_started``, ``text_done`` with the item's ``id``), ``text_delta``
(``id``, ``delta``), ``transcription`` (``id``, ``text``), binary PCM16 reply audio, and
``error`` (``code``, ``message``, and the ``id`` of the message at fault when it had one).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

#: The longest ``id`` of a ``user_message``.
MAX_ID_CHARS = 128
#: Bytes in one PCM16 sample, and in a second of PCM16 24 kHz mono.
SAMPLE_BYTES = 2
BYTES_PER_SECOND = 48000


class FrameError(Exception):
    """A client frame the relay refuses; the socket stays open (``code`` names the fault)."""

    def __init__(self, code: str, message: str, message_id: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.message_id = code, message, message_id


@dataclass(frozen=True)
class UserMessage:
    """A ``user_message``: text the user typed."""

    id: str
    text: str


@dataclass(frozen=True)
class Audio:
    """A binary frame: PCM16 24 kHz mono, whole samples."""

    pcm: bytes


def parse_frame(frame: str | bytes, *, max_bytes: int, max_text_chars: int) -> UserMessage | Audio:
    """One client frame (text: JSON; bytes: audio), or :class:`FrameError` saying what is wrong."""
    size = len(frame.encode("utf-8", "surrogatepass") if isinstance(frame, str) else frame)
    if size > max_bytes:
        raise FrameError("message_too_large", f"the frame has {size} bytes; the limit is {max_bytes}")
    if isinstance(frame, bytes | bytearray):
        if len(frame) % SAMPLE_BYTES:
            raise FrameError(
                "invalid_audio",
                f"audio frames are PCM16 (2 bytes a sample); this one has {len(frame)} bytes",
            )
        return Audio(bytes(frame))
    return _parse_json(frame, max_text_chars)


def _parse_json(frame: str, max_text_chars: int) -> UserMessage:
    try:
        data = json.loads(frame)
    except (ValueError, RecursionError):
        raise FrameError("invalid_json", "the text frame is not valid JSON") from None
    if not isinstance(data, dict):
        raise FrameError("invalid_message", "a text frame must be a JSON object with a 'type'")
    kind = data.get("type")
    raw_id = data.get("id")
    message_id = raw_id if isinstance(raw_id, str) and 0 < len(raw_id) <= MAX_ID_CHARS else None
    if kind != "user_message":
        shown = json.dumps(kind)[:64]
        raise FrameError("unknown_type", f"unknown message type {shown}; expected 'user_message'", message_id)
    if message_id is None:
        raise FrameError("invalid_id", f"'id' must be a string of 1 to {MAX_ID_CHARS} characters")
    text = data.get("text")
    if not isinstance(text, str) or not text.strip():
        raise FrameError("invalid_text", "'text' must be a non-empty string", message_id)
    if len(text) > max_text_chars:
        raise FrameError(
            "text_too_long", f"'text' has {len(text)} characters; the limit is {max_text_chars}", message_id
        )
    return UserMessage(message_id, text)


def _dump(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)


def connected(greeting: str | None) -> str:
    message: dict[str, Any] = {"type": "control", "action": "connected"}
    if greeting:
        message["greeting"] = greeting
    return _dump(message)


def control(action: str, item_id: str | None = None) -> str:
    """``speech_started`` (no id) or ``text_done`` (the assistant item's id)."""
    message: dict[str, Any] = {"type": "control", "action": action}
    if item_id is not None:
        message["id"] = item_id
    return _dump(message)


def text_delta(item_id: str, delta: str) -> str:
    return _dump({"type": "text_delta", "id": item_id, "delta": delta})


def transcription(item_id: str, text: str) -> str:
    return _dump({"type": "transcription", "id": item_id, "text": text})


def error(code: str, message: str, message_id: str | None = None) -> str:
    body: dict[str, Any] = {"type": "error", "code": code, "message": message}
    if message_id is not None:
        body["id"] = message_id
    return _dump(body)
