"""USP frames: the text and binary WebSocket messages of the Azure Speech SDK protocol.

A text frame is ``Name:value`` header lines joined by CRLF, an empty line, then the body. A binary
frame is a 2-byte big-endian header length N, N bytes of CRLF-terminated header lines, then the
payload. Every message carries ``Path``; server messages must repeat the turn's ``X-RequestId``
byte for byte and spell the header names exactly as below, or the SDK ignores them and waits
forever (see ``azure-speech-protocol.md`` section 2).
"""

from __future__ import annotations

import json
import re
import struct
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

PATH = "Path"
REQUEST_ID = "X-RequestId"
TIMESTAMP = "X-Timestamp"
CONTENT_TYPE = "Content-Type"
STREAM_ID = "X-StreamId"

JSON_TYPE = "application/json; charset=utf-8"
MAX_HEADER_BYTES = 8192
#: Deepest nesting of a JSON body (the SDKs' bodies nest a few levels); deeper is refused
#: before anything walks it.
MAX_JSON_DEPTH = 32
#: A request id the service can repeat byte for byte in its own frames: visible ASCII (the SDKs
#: send 32 hex digits).
_REQUEST_ID = re.compile(r"[\x21-\x7e]{1,128}")


class FrameError(ValueError):
    """A client frame that does not follow the USP framing (answered with close 1007)."""


@dataclass(frozen=True)
class Message:
    """One USP message; header names are looked up case-insensitively, values kept verbatim."""

    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    binary: bool = False

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lowered:
                return value
        return None

    @property
    def request_id(self) -> str | None:
        return self.header(REQUEST_ID)

    def json(self) -> dict[str, Any]:
        """The body as a JSON object; an empty body is an empty object."""
        if not self.body.strip():
            return {}
        try:
            value = json.loads(self.body)
        except RecursionError:
            raise FrameError(f"{self.path} body is nested more than {MAX_JSON_DEPTH} deep") from None
        except (UnicodeDecodeError, ValueError) as exc:
            raise FrameError(f"{self.path} body is not JSON: {exc}") from None
        if not isinstance(value, dict):
            raise FrameError(f"{self.path} body must be a JSON object")
        if _depth(value) > MAX_JSON_DEPTH:
            raise FrameError(f"{self.path} body is nested more than {MAX_JSON_DEPTH} deep")
        return value

    def check(self, binary: bool) -> None:
        """:class:`FrameError` unless this message is the kind of frame its path is sent in
        (``binary`` or text) and its request id, if any, can be repeated in the service's frames."""
        if self.binary != binary:
            raise FrameError(f"{self.path} must be sent in a {'binary' if binary else 'text'} frame")
        request_id = self.request_id
        if request_id and not _REQUEST_ID.fullmatch(request_id):
            raise FrameError(f"{REQUEST_ID} must be at most 128 visible ASCII characters")


def _depth(value: Any) -> int:
    """How deeply ``value`` nests objects and arrays (walked without recursion)."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        item, level = pending.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_JSON_DEPTH:
            return deepest
        pending.extend((child, level + 1) for child in children)
    return deepest


def _headers(block: str) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in block.split("\r\n"):
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            raise FrameError(f"malformed header line {line[:40]!r}")
        headers[name.strip()] = value.strip()
    return headers


def _message(headers: dict[str, str], body: bytes, binary: bool) -> Message:
    message = Message("", headers, body, binary)
    path = message.header(PATH)
    if not path:
        raise FrameError("message has no Path header")
    return Message(path, headers, body, binary)


def parse_text(frame: str) -> Message:
    """A client text frame: headers, an empty line, then the body."""
    head, sep, body = frame.partition("\r\n\r\n")
    if not sep:
        head, body = frame.rstrip("\r\n"), ""
    return _message(_headers(head), body.encode("utf-8"), binary=False)


def parse_binary(frame: bytes) -> Message:
    """A client binary frame: 2-byte big-endian header length, headers, payload."""
    if len(frame) < 2:
        raise FrameError("binary frame shorter than its header length")
    (size,) = struct.unpack(">H", frame[:2])
    if size > len(frame) - 2 or size > MAX_HEADER_BYTES:
        raise FrameError(f"binary frame header length {size} exceeds the frame")
    try:
        head = frame[2 : 2 + size].decode("ascii")
    except UnicodeDecodeError:
        raise FrameError("binary frame headers are not ASCII") from None
    return _message(_headers(head), frame[2 + size :], binary=True)


def parse(frame: str | bytes) -> Message:
    return parse_binary(frame) if isinstance(frame, (bytes, bytearray)) else parse_text(frame)


def timestamp(now: datetime | None = None) -> str:
    """ISO-8601 UTC with milliseconds and ``Z``, as the SDK writes ``X-Timestamp``."""
    now = now or datetime.now(timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def _head(path: str, request_id: str, extra: dict[str, str]) -> str:
    lines = [f"{PATH}:{path}", f"{REQUEST_ID}:{request_id}", f"{TIMESTAMP}:{timestamp()}"]
    lines += [f"{name}:{value}" for name, value in extra.items()]
    return "\r\n".join(lines) + "\r\n"


def text_frame(path: str, request_id: str, body: dict[str, Any] | str, content_type: str = JSON_TYPE) -> str:
    """A server text message; a dict body is sent as compact JSON."""
    payload = body if isinstance(body, str) else json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    return _head(path, request_id, {CONTENT_TYPE: content_type}) + "\r\n" + payload


def binary_frame(path: str, request_id: str, payload: bytes, headers: dict[str, str] | None = None) -> bytes:
    """A server (or, in tests, client) binary message."""
    head = _head(path, request_id, headers or {}).encode("ascii")
    return struct.pack(">H", len(head)) + head + payload
