"""Shared validation of client events: the error every parser raises, typed field access, audio.

Every parser of the engine (this module, :mod:`.session_update`, :mod:`.items`,
:mod:`.response_create`) raises :class:`ClientEventError` and nothing else for bad input (wrong
types anywhere, values out of range, undecodable audio); the session turns it into an ``error``
event and keeps the socket open.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from ..audio import WIRE_FORMATS, WireFormat
from ..realtime.events import Dialect
from ..voices import voices_for

GA_FORMATS = {"audio/pcm": "pcm16", "audio/pcmu": "g711_ulaw", "audio/pcma": "g711_alaw"}
#: Largest base64 audio payload of one event, as on the real service.
MAX_AUDIO_B64 = 15 * 1024 * 1024
#: The modality sets each dialect accepts, in sessions and responses alike.
MODALITIES = {Dialect.GA: [["audio"], ["text"]], Dialect.PREVIEW: [["text", "audio"], ["text"]]}


class ClientEventError(Exception):
    """A client event the real service would answer with an ``error`` event."""

    def __init__(self, code: str, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.param = code, message, param


def invalid(param: str, value: Any, expected: str) -> ClientEventError:
    shown = repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return ClientEventError(
        "invalid_value", f"Invalid value for '{param}': {shown}. Expected {expected}.", param
    )


# -- typed field access ----------------------------------------------------------------------------


def parse_message(message: str | bytes) -> dict[str, Any]:
    """One client message as a JSON object with a string ``type``."""
    try:
        event = json.loads(message)
    except (ValueError, RecursionError):
        raise ClientEventError("invalid_json", "The client event is not valid JSON.") from None
    if not isinstance(event, dict):
        raise ClientEventError("invalid_type", "A client event must be a JSON object.")
    if not isinstance(event.get("type"), str):
        raise ClientEventError("missing_required_parameter", "Missing required parameter: 'type'.", "type")
    return event


_KIND_NAMES = {str: "a string", dict: "an object"}


def required(event: dict[str, Any], name: str, kind: type[str] | type[dict]) -> Any:
    """``event[name]``, which must be there and be a ``kind``."""
    if name not in event:
        raise ClientEventError("missing_required_parameter", f"Missing required parameter: '{name}'.", name)
    value = event[name]
    if not isinstance(value, kind):
        raise invalid(name, value, _KIND_NAMES[kind])
    return value


def optional_object(parent: dict[str, Any], name: str, param: str) -> dict[str, Any]:
    """``parent[name]`` when it is an object, ``{}`` when absent or null."""
    value = parent.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise invalid(param, value, "an object")
    return value


def string(value: Any, param: str) -> str:
    if not isinstance(value, str):
        raise invalid(param, value, "a string")
    return value


def boolean(value: Any, param: str) -> bool:
    if not isinstance(value, bool):
        raise invalid(param, value, "a boolean")
    return value


def number(value: Any, param: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise invalid(param, value, f"a number from {low:g} to {high:g}")
    return float(value)


def integer(value: Any, param: str, low: int, high: int) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise invalid(param, value, f"an integer from {low} to {high}")
    return value


def reject_unknown(fields: dict[str, Any], known: set[str], prefix: str) -> None:
    for name in fields:
        if name not in known:
            param = f"{prefix}.{name}"
            raise ClientEventError("unknown_parameter", f"Unknown parameter: '{param}'.", param)


# -- audio -----------------------------------------------------------------------------------------


def audio_bytes(value: Any, fmt: WireFormat, param: str) -> bytes:
    """Base64 audio in ``fmt``: decodable, at most 15 MiB of base64, whole samples."""
    data = string(value, param)
    if len(data) > MAX_AUDIO_B64:
        raise invalid(param, f"{len(data)} characters", f"at most {MAX_AUDIO_B64} characters of base64")
    try:
        audio = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise ClientEventError(
            "invalid_value", f"Invalid '{param}': expected base64-encoded audio.", param
        ) from None
    if len(audio) % fmt.sample_width:
        raise invalid(param, f"{len(audio)} bytes", f"whole {fmt.sample_width}-byte {fmt.name} samples")
    return audio


def wire_format(name: Any, param: str) -> WireFormat:
    if not isinstance(name, str) or name not in WIRE_FORMATS:
        raise invalid(param, name, "one of pcm16, g711_ulaw, g711_alaw")
    return WIRE_FORMATS[name]


def ga_wire_format(value: Any, param: str) -> WireFormat:
    kind = value.get("type") if isinstance(value, dict) else None
    if not isinstance(kind, str) or kind not in GA_FORMATS:
        raise invalid(param, value, "an object with type audio/pcm, audio/pcmu or audio/pcma")
    reject_unknown(value, {"type", "rate"}, param)
    if value["type"] == "audio/pcm" and value.get("rate", 24000) != 24000:
        raise invalid(f"{param}.rate", value.get("rate"), "24000")
    if value["type"] != "audio/pcm" and "rate" in value:
        raise ClientEventError("unknown_parameter", f"Unknown parameter: '{param}.rate'.", f"{param}.rate")
    return WIRE_FORMATS[GA_FORMATS[value["type"]]]


# -- choices shared by sessions and responses ------------------------------------------------------


def parse_modalities(value: Any, param: str, allowed: list[list[str]]) -> bool:
    """Whether the modalities include audio; ``allowed`` lists the accepted sets."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise invalid(param, value, " or ".join(json.dumps(a) for a in allowed))
    if sorted(value) not in [sorted(a) for a in allowed]:
        raise invalid(param, value, " or ".join(json.dumps(a) for a in allowed))
    return "audio" in value


def voice(value: Any, param: str, dialect: Dialect) -> str:
    valid = voices_for(dialect)
    if not isinstance(value, str) or value not in valid:
        raise invalid(param, value, f"one of {', '.join(valid)}")
    return value
