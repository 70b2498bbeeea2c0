"""Client events of the engine's sessions: validation into engine state, with the real service's codes.

Each function raises :class:`ClientEventError` for what the real service answers with an
``error`` event; the session turns it into that event and keeps the socket open.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..audio import PCM16, WIRE_FORMATS, WireFormat, decode_wire, resample
from .models import ASR_RATE

GA_FORMATS = {"audio/pcm": "pcm16", "audio/pcmu": "g711_ulaw", "audio/pcma": "g711_alaw"}
GA_FORMAT_OF = {v: k for k, v in GA_FORMATS.items()}

#: session.update fields the engine accepts but that do not change what an echo model does.
_IGNORED_GA = {
    "model",
    "tools",
    "tool_choice",
    "max_output_tokens",
    "tracing",
    "include",
    "prompt",
    "truncation",
}
_IGNORED_PREVIEW = {
    "model",
    "tools",
    "tool_choice",
    "temperature",
    "max_response_output_tokens",
    "speed",
    "tracing",
    "input_audio_noise_reduction",
    "client_secret",
}


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:20]}"


class ClientEventError(Exception):
    """A client event the real service would answer with an ``error`` event."""

    def __init__(self, code: str, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.param = code, message, param


def invalid(param: str, value: Any, expected: str) -> ClientEventError:
    return ClientEventError(
        "invalid_value", f"Invalid value for '{param}': {value!r}. Expected {expected}.", param
    )


@dataclass
class Config:
    """The effective session configuration, independent of dialect."""

    input_format: WireFormat = PCM16
    output_format: WireFormat = PCM16
    voice: str = "alloy"
    audio_out: bool = True
    instructions: str = ""
    transcription: dict[str, Any] | None = None
    turn_detection: dict[str, Any] | None = field(
        default_factory=lambda: {
            "type": "server_vad",
            "threshold": 0.5,
            "prefix_padding_ms": 300,
            "silence_duration_ms": 500,
            "create_response": True,
            "interrupt_response": True,
        }
    )


@dataclass
class Item:
    """A conversation item; ``samples`` holds a user audio message's audio for the echo model."""

    id: str
    role: str
    parts: list[dict[str, Any]]
    type: str = "message"
    status: str = "completed"
    samples: np.ndarray | None = None


def to_ms(samples: int) -> int:
    return int(samples * 1000 // ASR_RATE)


def required(event: dict[str, Any], name: str, kind: type) -> Any:
    if name not in event:
        raise ClientEventError("missing_required_parameter", f"Missing required parameter: '{name}'.", name)
    value = event[name]
    if not isinstance(value, kind):
        raise invalid(
            name, value, f"a {'string' if kind is str else 'object' if kind is dict else kind.__name__}"
        )
    return value


def decode_base64(data: str, param: str) -> bytes:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise ClientEventError(
            "invalid_value", f"Invalid '{param}': expected base64-encoded audio.", param
        ) from None


def wire_format(name: Any, param: str) -> WireFormat:
    if name not in WIRE_FORMATS:
        raise invalid(param, name, "one of pcm16, g711_ulaw, g711_alaw")
    return WIRE_FORMATS[name]


def render_ga_format(fmt: WireFormat) -> dict[str, Any]:
    rendered: dict[str, Any] = {"type": GA_FORMAT_OF[fmt.name]}
    if fmt is PCM16:
        rendered["rate"] = fmt.sample_rate
    return rendered


def ga_wire_format(value: Any, param: str) -> WireFormat:
    if not isinstance(value, dict) or value.get("type") not in GA_FORMATS:
        raise invalid(param, value, "an object with type audio/pcm, audio/pcmu or audio/pcma")
    if value.get("type") == "audio/pcm" and value.get("rate", 24000) != 24000:
        raise invalid(f"{param}.rate", value.get("rate"), "24000")
    return WIRE_FORMATS[GA_FORMATS[value["type"]]]


def parse_transcription(value: Any, param: str) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise invalid(param, value, "an object or null")
    result = {"model": str(value.get("model") or "whisper-1")}
    if value.get("language"):
        result["language"] = str(value["language"])
    if value.get("prompt"):
        result["prompt"] = str(value["prompt"])
    return result


def parse_turn_detection(value: Any, param: str) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or value.get("type", "server_vad") not in ("server_vad", "semantic_vad"):
        raise invalid(param, value, "null or an object with type server_vad")
    threshold = value.get("threshold", 0.5)
    if not isinstance(threshold, int | float) or not 0 <= threshold <= 1:
        raise invalid(f"{param}.threshold", threshold, "a number between 0 and 1")
    return {
        "type": "server_vad",
        "threshold": float(threshold),
        "prefix_padding_ms": int(value.get("prefix_padding_ms", 300)),
        "silence_duration_ms": int(value.get("silence_duration_ms", 500)),
        "create_response": bool(value.get("create_response", True)),
        "interrupt_response": bool(value.get("interrupt_response", True)),
    }


def parse_modalities(value: Any, param: str, allowed: list[list[str]]) -> bool:
    if not isinstance(value, list) or sorted(value) not in [sorted(a) for a in allowed]:
        raise invalid(param, value, " or ".join(json.dumps(a) for a in allowed))
    return "audio" in value


def reject_unknown(session: dict[str, Any], known: set[str], prefix: str) -> None:
    for name in session:
        if name not in known:
            raise ClientEventError(
                "unknown_parameter", f"Unknown parameter: '{prefix}.{name}'.", f"{prefix}.{name}"
            )


def apply_ga_session(config: Config, session: dict[str, Any]) -> None:
    if session.get("type", "realtime") != "realtime":
        raise invalid("session.type", session.get("type"), "'realtime'")
    reject_unknown(session, {"type", "output_modalities", "instructions", "audio", *_IGNORED_GA}, "session")
    if "output_modalities" in session:
        config.audio_out = parse_modalities(
            session["output_modalities"], "session.output_modalities", [["audio"], ["text"]]
        )
    if "instructions" in session:
        config.instructions = str(session["instructions"] or "")
    audio = session.get("audio") or {}
    if not isinstance(audio, dict):
        raise invalid("session.audio", audio, "an object")
    reject_unknown(audio, {"input", "output"}, "session.audio")
    audio_in, audio_out = audio.get("input") or {}, audio.get("output") or {}
    reject_unknown(
        audio_in, {"format", "transcription", "turn_detection", "noise_reduction"}, "session.audio.input"
    )
    reject_unknown(audio_out, {"format", "voice", "speed"}, "session.audio.output")
    if "format" in audio_in:
        config.input_format = ga_wire_format(audio_in["format"], "session.audio.input.format")
    if "transcription" in audio_in:
        config.transcription = parse_transcription(
            audio_in["transcription"], "session.audio.input.transcription"
        )
    if "turn_detection" in audio_in:
        config.turn_detection = parse_turn_detection(
            audio_in["turn_detection"], "session.audio.input.turn_detection"
        )
    if "format" in audio_out:
        config.output_format = ga_wire_format(audio_out["format"], "session.audio.output.format")
    if "voice" in audio_out:
        config.voice = str(audio_out["voice"])


def apply_preview_session(config: Config, session: dict[str, Any]) -> None:
    known = {
        "modalities",
        "instructions",
        "voice",
        "input_audio_format",
        "output_audio_format",
        "input_audio_transcription",
        "turn_detection",
        *_IGNORED_PREVIEW,
    }
    reject_unknown(session, known, "session")
    if "modalities" in session:
        config.audio_out = parse_modalities(
            session["modalities"], "session.modalities", [["text", "audio"], ["text"]]
        )
    if "instructions" in session:
        config.instructions = str(session["instructions"] or "")
    if "voice" in session:
        config.voice = str(session["voice"])
    if "input_audio_format" in session:
        config.input_format = wire_format(session["input_audio_format"], "session.input_audio_format")
    if "output_audio_format" in session:
        config.output_format = wire_format(session["output_audio_format"], "session.output_audio_format")
    if "input_audio_transcription" in session:
        config.transcription = parse_transcription(
            session["input_audio_transcription"], "session.input_audio_transcription"
        )
    if "turn_detection" in session:
        config.turn_detection = parse_turn_detection(session["turn_detection"], "session.turn_detection")


def parse_item(raw: dict[str, Any]) -> Item:
    """A conversation item from a client event (messages only: the echo model has no tools)."""
    if raw.get("type", "message") != "message":
        raise invalid("item.type", raw.get("type"), "'message'")
    role = raw.get("role")
    if role not in ("user", "assistant", "system"):
        raise invalid("item.role", role, "user, assistant or system")
    content = raw.get("content")
    if not isinstance(content, list) or not content:
        raise invalid("item.content", content, "a non-empty array of content parts")
    parts: list[dict[str, Any]] = []
    samples = None
    for index, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in ("input_text", "text", "output_text"):
            text = part.get("text")
            if not isinstance(text, str):
                raise invalid(f"item.content[{index}].text", text, "a string")
            parts.append({"type": "input_text" if role != "assistant" else "output_text", "text": text})
        elif kind == "input_audio":
            audio = decode_base64(part.get("audio") or "", f"item.content[{index}].audio")
            samples = resample(decode_wire(audio, PCM16), PCM16.sample_rate, ASR_RATE)
            parts.append({"type": "input_audio", "transcript": part.get("transcript")})
        else:
            raise invalid(f"item.content[{index}].type", kind, "input_text or input_audio")
    item_id = raw.get("id") if isinstance(raw.get("id"), str) else new_id("item")
    return Item(item_id, role, parts, samples=samples)
