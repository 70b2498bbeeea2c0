"""The pass-through's policy: what a Realtime client may send upstream, and for how long (sans-I/O).

A :class:`PassthroughPolicy` judges every client message before it reaches the upstream
session: an event type on the allow-list (:data:`CLIENT_EVENTS`), session and response fields
on the dialect's allow-lists (:mod:`.session_fields`), no change to an option the client secret
fixed, conversation items of kinds a speech application sends, and the limits of
:class:`Limits` (message size, client audio per session). A refused message becomes a Realtime
``error`` event for the client naming the field (``error.param``) and nothing reaches the
upstream. :meth:`PassthroughPolicy.expiry` says when the session is over (its length, or idle
time with no client message). :func:`server_message` replaces the words of an upstream ``error``
event by the stable message of :mod:`.upstream_errors` (the operator's log keeps them).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..config import Settings
from ..errors import BadRequest, UpstreamError
from .events import GA, PREVIEW, Dialect, parse_server_event
from .session_fields import (
    SESSION_TYPE,
    changed_fixed,
    leaves,
    preview_session,
    response_fields,
    session_fields,
    unknown_field,
)
from .upstream_errors import error_from_event, upstream_code

#: Client event types the pass-through forwards (the rest of the API is refused).
CLIENT_EVENTS = frozenset(
    {
        "session.update",
        "input_audio_buffer.append",
        "input_audio_buffer.commit",
        "input_audio_buffer.clear",
        "conversation.item.create",
        "conversation.item.retrieve",
        "conversation.item.truncate",
        "conversation.item.delete",
        "response.create",
        "response.cancel",
    }
)
#: Conversation item types a client may add; the function ones only with tools allowed.
ITEM_TYPES = frozenset({"message"})
TOOL_ITEM_TYPES = frozenset({"function_call", "function_call_output"})
#: Message roles a client may add; ``system`` only while the instructions are not fixed.
ITEM_ROLES = frozenset({"user", "assistant", "system"})
#: Bytes per second of client audio, by input format (GA type or preview name); PCM16 24 kHz
#: for anything else.
AUDIO_RATES = {"audio/pcmu": 8000, "audio/pcma": 8000, "g711_ulaw": 8000, "g711_alaw": 8000}
PCM_RATE = 48000


@dataclass(frozen=True)
class Limits:
    """What one pass-through session may use, in seconds and bytes, and how often both sides
    are pinged."""

    session_seconds: float
    idle_seconds: float
    message_bytes: int
    audio_seconds: float
    tools: bool = False
    ping_seconds: float = 20.0

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            settings.realtime_max_session_seconds,
            settings.realtime_idle_timeout,
            settings.realtime_max_message_bytes,
            settings.realtime_max_audio_seconds,
            settings.realtime_tools,
            settings.realtime_ping_interval,
        )


@dataclass(eq=False)
class Refusal(Exception):
    """A client message the policy will not forward."""

    code: str
    message: str
    param: str | None = None
    event_id: str | None = None

    def event(self) -> dict[str, Any]:
        """The Realtime ``error`` event that tells the client."""
        return error_event("invalid_request_error", self.code, self.message, self.param, self.event_id)


def error_event(
    kind: str, code: str, message: str, param: str | None = None, event_id: str | None = None
) -> dict[str, Any]:
    """A Realtime ``error`` server event (the same shape in both dialects)."""
    error = {"type": kind, "code": code, "message": message, "param": param, "event_id": event_id}
    return {"type": "error", "event_id": f"event_{secrets.token_hex(8)}", "error": error}


class PassthroughPolicy:
    """The policy of one pass-through session in ``dialect``, opened at ``now`` (monotonic).

    ``fixed``: the GA session a client secret was minted with; its options are applied when the
    session opens (:meth:`opening`) and no later client event may change them.
    """

    def __init__(
        self, dialect: Dialect, limits: Limits, now: float, fixed: Mapping[str, Any] | None = None
    ) -> None:
        self.dialect = dialect
        self.limits = limits
        self.started = self.active = now
        self.audio_used = 0.0  # seconds of client audio forwarded
        self.input_format: str | None = None
        fixed = dict(fixed or {})
        self.fixed_session = preview_session(fixed) if dialect == PREVIEW else fixed
        self.fixed = leaves(self.fixed_session)
        self.session_fields = session_fields(dialect, limits.tools)
        self.response_fields = response_fields(dialect, limits.tools)

    def opening(self) -> list[dict[str, Any]]:
        """The events that apply the fixed options when the upstream session opens."""
        if not self.fixed_session:
            return []
        session = dict(self.fixed_session)
        if self.dialect != PREVIEW:
            session.setdefault("type", SESSION_TYPE)
        self._note_format(session)
        return [{"type": "session.update", "session": session}]

    def expiry(self, now: float) -> Refusal | None:
        """Why the session is over at ``now`` (too long, or idle), else None."""
        if now - self.started >= self.limits.session_seconds:
            limit = self.limits.session_seconds
            return Refusal("session_expired", f"the session reached its limit of {limit:g} s")
        if now - self.active >= self.limits.idle_seconds:
            limit = self.limits.idle_seconds
            return Refusal("idle_timeout", f"no client event for {limit:g} s; the session is closed")
        return None

    def deadline(self) -> float:
        """When :meth:`expiry` may next be due (monotonic)."""
        return min(self.started + self.limits.session_seconds, self.active + self.limits.idle_seconds)

    def check(self, message: str | bytes, now: float) -> dict[str, Any]:
        """The event to forward for client ``message``, or :class:`Refusal`."""
        self.active = now
        if isinstance(message, bytes):
            raise Refusal("invalid_event", "Realtime client events are JSON text messages", "event")
        size = len(message.encode("utf-8", "surrogateescape"))
        if size > self.limits.message_bytes:
            limit = self.limits.message_bytes
            raise Refusal("message_too_large", f"the event is {size} bytes; the limit is {limit}", "event")
        try:
            event = json.loads(message)
        except ValueError:
            raise Refusal("invalid_json", "the event is not valid JSON", "event") from None
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            raise Refusal("invalid_event", "an event must be a JSON object with a 'type'", "type")
        event_id = event.get("event_id") if isinstance(event.get("event_id"), str) else None
        try:
            self._check_event(event)
        except Refusal as refusal:
            raise Refusal(refusal.code, refusal.message, refusal.param, event_id) from None
        return event

    def _check_event(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        if kind not in CLIENT_EVENTS:
            raise Refusal("event_not_allowed", f"the event type {kind[:64]!r} is not allowed here", "type")
        if kind == "session.update":
            self._check_session(event.get("session"))
        elif kind == "response.create":
            self._check_response(event.get("response"))
        elif kind == "conversation.item.create":
            self._check_item(event.get("item"))
        elif kind == "input_audio_buffer.append":
            self._count_audio(event.get("audio"))

    def _check_session(self, session: object) -> None:
        if not isinstance(session, dict):
            raise Refusal("invalid_value", "'session' must be an object", "session")
        self._check_fields(session, self.session_fields, "session")
        if self.dialect != PREVIEW and session.get("type", SESSION_TYPE) != SESSION_TYPE:
            raise Refusal("invalid_value", f"the session type must be {SESSION_TYPE!r}", "session.type")
        self._note_format(session)

    def _check_response(self, response: object) -> None:
        if response is None:
            return
        if not isinstance(response, dict):
            raise Refusal("invalid_value", "'response' must be an object", "response")
        self._check_fields(response, self.response_fields, "response")

    def _check_fields(self, value: dict[str, Any], allowed: Mapping[str, Any], name: str) -> None:
        field = unknown_field(value, allowed, name)
        if field is not None:
            raise Refusal("field_not_allowed", f"the field {field!r} may not be set here", field)
        fixed = changed_fixed(value, self.fixed)
        if fixed is not None:
            field = ".".join((name, *fixed))
            raise Refusal("field_fixed", f"{field!r} was fixed when the client secret was minted", field)

    def _check_item(self, item: object) -> None:
        if not isinstance(item, dict):
            raise Refusal("invalid_value", "'item' must be an object", "item")
        kinds = ITEM_TYPES | TOOL_ITEM_TYPES if self.limits.tools else ITEM_TYPES
        kind = item.get("type", "message")
        if kind not in kinds:
            raise Refusal(
                "item_not_allowed", f"items of type {str(kind)[:64]!r} are not allowed", "item.type"
            )
        roles = ITEM_ROLES - {"system"} if ("instructions",) in self.fixed else ITEM_ROLES
        if kind == "message" and item.get("role") not in roles:
            raise Refusal(
                "item_not_allowed", f"the role must be one of {', '.join(sorted(roles))}", "item.role"
            )
        content = item.get("content")
        for part in content if isinstance(content, list) else ():
            if isinstance(part, dict) and "audio" in part:  # counted like appended audio
                self._count_audio(part["audio"])

    def _count_audio(self, audio: object) -> None:
        if not isinstance(audio, str):
            raise Refusal("invalid_value", "'audio' must be base64 text", "audio")
        rate = AUDIO_RATES.get(self.input_format or "", PCM_RATE)
        seconds = (len(audio) * 3 // 4 - audio[-2:].count("=")) / rate  # base64's decoded size
        limit = self.limits.audio_seconds
        if self.audio_used + seconds > limit:
            raise Refusal(
                "audio_limit_reached", f"the session may send at most {limit:g} s of audio", "audio"
            )
        self.audio_used += seconds

    def _note_format(self, session: dict[str, Any]) -> None:
        """Remember the input audio format a forwarded session update sets (for the audio limit)."""
        if self.dialect == PREVIEW:
            value = session.get("input_audio_format")
        else:
            audio = session.get("audio")
            given = audio.get("input", {}).get("format") if isinstance(audio, dict) else None
            value = given.get("type") if isinstance(given, dict) else None
        if isinstance(value, str):
            self.input_format = value


def server_message(message: str | bytes) -> str | bytes:
    """An upstream message for the client: an ``error`` event's words replaced by the service's
    stable message and the upstream's code; anything else unchanged."""
    if isinstance(message, bytes) or '"error"' not in message:
        return message
    try:
        event = parse_server_event(message)
    except UpstreamError:
        return message
    if event.type != "error":
        return message
    details = event.data.get("error") if isinstance(event.data.get("error"), dict) else {}
    replaced = error_from_event(event)
    kind = str(details.get("type") or "server_error")[:64]
    code = upstream_code(details, "unknown")
    param, event_id = details.get("param"), details.get("event_id")
    error = error_event(kind, code, replaced.message, param if isinstance(param, str) else None)
    error["error"]["event_id"] = event_id if isinstance(event_id, str) else None
    if isinstance(event.data.get("event_id"), str):
        error["event_id"] = event.data["event_id"]
    return json.dumps(error, separators=(",", ":"))


def minted_session(session: object, tools: bool) -> dict[str, Any]:
    """The GA session a client secret or a WebRTC call fixes: ``session`` checked against the GA
    allow-list (:class:`BadRequest` naming the field). Its ``model`` is dropped: the service
    chooses the model, and the answer shows which."""
    if session is None:
        return {}
    if not isinstance(session, dict):
        raise BadRequest("'session' must be an object", code="invalid_value", param="session")
    session = {key: value for key, value in session.items() if key != "model"}
    field = unknown_field(session, session_fields(GA, tools), "session")
    if field is not None:
        raise BadRequest(f"the field {field!r} may not be set here", code="field_not_allowed", param=field)
    if session.get("type", SESSION_TYPE) != SESSION_TYPE:
        raise BadRequest(
            f"the session type must be {SESSION_TYPE!r}", code="invalid_value", param="session.type"
        )
    session.pop("type", None)
    return session
