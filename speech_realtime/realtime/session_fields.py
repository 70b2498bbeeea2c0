"""Which session, response and item fields a pass-through client may set, per dialect, and the
options a client secret fixes.

An allow-list is a mapping from field name to ``True`` (any value; the upstream checks it) or
to a nested allow-list (the value must be an object, checked field by field). The lists hold
what a speech application needs: instructions, voice and speed, audio formats, turn detection,
input transcription and noise reduction, output modalities and length; tools only when the
service allows them (``SPEECH_REALTIME_TOOLS``). The model is the service's choice, never the
client's: a ``model`` field is refused like any other field not listed.

Client secrets carry their session in the GA shape (OpenAI's ``/v1/realtime/client_secrets``);
:func:`preview_session` moves it onto the preview dialect's flat fields for a client that
connects with the preview protocol.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .events import PREVIEW, Dialect

AllowList = Mapping[str, Any]

TOOLS: AllowList = {"tools": True, "tool_choice": True}

GA_SESSION: AllowList = {
    "type": True,
    "instructions": True,
    "output_modalities": True,
    "max_output_tokens": True,
    "include": True,
    "audio": {
        "input": {"format": True, "transcription": True, "turn_detection": True, "noise_reduction": True},
        "output": {"format": True, "voice": True, "speed": True},
    },
}
PREVIEW_SESSION: AllowList = {
    "modalities": True,
    "instructions": True,
    "voice": True,
    "speed": True,
    "input_audio_format": True,
    "output_audio_format": True,
    "input_audio_transcription": True,
    "input_audio_noise_reduction": True,
    "turn_detection": True,
    "temperature": True,
    "max_response_output_tokens": True,
}
GA_RESPONSE: AllowList = {
    "conversation": True,
    "instructions": True,
    "output_modalities": True,
    "max_output_tokens": True,
    "metadata": True,
    "input": True,
    "audio": {"output": {"format": True, "voice": True}},
}
PREVIEW_RESPONSE: AllowList = {
    "conversation": True,
    "instructions": True,
    "modalities": True,
    "voice": True,
    "output_audio_format": True,
    "temperature": True,
    "max_response_output_tokens": True,
    "metadata": True,
    "input": True,
}
#: The session type a GA pass-through session may have (a transcription session needs its own
#: deployment and connection).
SESSION_TYPE = "realtime"
#: GA audio format types and the preview names of the same formats.
PREVIEW_FORMATS = {"audio/pcm": "pcm16", "audio/pcmu": "g711_ulaw", "audio/pcma": "g711_alaw"}
#: GA session fields (paths) and the preview field each one is.
PREVIEW_FIELDS = {
    ("instructions",): "instructions",
    ("max_output_tokens",): "max_response_output_tokens",
    ("audio", "output", "voice"): "voice",
    ("audio", "output", "speed"): "speed",
    ("audio", "input", "turn_detection"): "turn_detection",
    ("audio", "input", "transcription"): "input_audio_transcription",
    ("audio", "input", "noise_reduction"): "input_audio_noise_reduction",
    ("tools",): "tools",
    ("tool_choice",): "tool_choice",
}


def session_fields(dialect: Dialect, tools: bool) -> AllowList:
    base = PREVIEW_SESSION if dialect == PREVIEW else GA_SESSION
    return {**base, **TOOLS} if tools else base


def response_fields(dialect: Dialect, tools: bool) -> AllowList:
    base = PREVIEW_RESPONSE if dialect == PREVIEW else GA_RESPONSE
    return {**base, **TOOLS} if tools else base


def unknown_field(value: Mapping[str, Any], allowed: AllowList, prefix: str) -> str | None:
    """The dotted path of the first field of ``value`` that ``allowed`` does not list (or that
    must be an object and is not), else None."""
    for key, item in value.items():
        path = f"{prefix}.{key}"
        rule = allowed.get(key)
        if rule is None:
            return path
        if isinstance(rule, Mapping):
            if not isinstance(item, dict):
                return path
            found = unknown_field(item, rule, path)
            if found:
                return found
    return None


def leaves(value: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    """Every leaf of a nested object by its path (lists and scalars are leaves)."""
    found: dict[tuple[str, ...], Any] = {}
    for key, item in value.items():
        path = (*prefix, key)
        if isinstance(item, dict) and item:
            found.update(leaves(item, path))
        else:
            found[path] = item
    return found


def _lookup(value: Any, path: tuple[str, ...]) -> tuple[bool, Any]:
    """Whether ``value`` sets ``path`` (or replaces an object on it with something else), and what."""
    for depth, key in enumerate(path):
        if not isinstance(value, dict):
            return depth > 0, value
        if key not in value:
            return False, None
        value = value[key]
    return True, value


def changed_fixed(update: Mapping[str, Any], fixed: Mapping[tuple[str, ...], Any]) -> tuple[str, ...] | None:
    """The first fixed field (path) that ``update`` would give another value, else None."""
    for path, wanted in fixed.items():
        found, given = _lookup(update, path)
        if found and given != wanted:
            return path
    return None


def _preview_format(value: Any) -> Any:
    if isinstance(value, dict):
        return PREVIEW_FORMATS.get(str(value.get("type")), value.get("type"))
    return value


def preview_session(session: Mapping[str, Any]) -> dict[str, Any]:
    """A GA session (a client secret's) as the preview dialect's fields."""
    flat = leaves(session)
    out: dict[str, Any] = {}
    for path, name in PREVIEW_FIELDS.items():
        found, value = _lookup(session, path)
        if found:
            out[name] = value
    for direction in ("input", "output"):
        found, value = _lookup(session, ("audio", direction, "format"))
        if found:
            out[f"{direction}_audio_format"] = _preview_format(value)
    if ("output_modalities",) in flat:
        out["modalities"] = ["text"] if flat[("output_modalities",)] == ["text"] else ["audio", "text"]
    return out
