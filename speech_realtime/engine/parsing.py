"""Client events of the engine's sessions: strict validation into engine state, with the real codes.

Every function here raises :class:`ClientEventError` and nothing else for bad input (wrong
types anywhere, values out of range, undecodable audio); the session turns it into an ``error``
event and keeps the socket open. A session update is validated into a new :class:`Config`, so
a rejected update changes nothing.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..audio import WIRE_FORMATS, WireFormat, decode_wire, resample
from ..realtime.events import Dialect
from ..voices import voices_for
from .models import ASR_RATE
from .state import MAX_SPEED, MIN_SPEED, Config, Item, Transcription, TurnDetection, new_id

GA_FORMATS = {"audio/pcm": "pcm16", "audio/pcmu": "g711_ulaw", "audio/pcma": "g711_alaw"}
#: Largest base64 audio payload of one event, as on the real service.
MAX_AUDIO_B64 = 15 * 1024 * 1024
#: Bounds of the VAD durations, in milliseconds.
MAX_VAD_MS = 10_000

_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$")

#: Fields the engine accepts but that do not change what an echo model does.
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
    "tracing",
    "input_audio_noise_reduction",
    "client_secret",
}
_IGNORED_RESPONSE = {"metadata", "tools", "tool_choice", "prompt", "temperature"}


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


# -- session.update ----------------------------------------------------------------------------------


def parse_transcription(value: Any, param: str) -> Transcription | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise invalid(param, value, "an object or null")
    reject_unknown(value, {"model", "language", "prompt"}, param)
    model = string(value.get("model", "whisper-1"), f"{param}.model") or "whisper-1"
    language = value.get("language")
    if language is not None and not (isinstance(language, str) and _LANGUAGE.match(language)):
        raise invalid(f"{param}.language", language, "a language code such as 'en' or 'en-US'")
    prompt = value.get("prompt")
    if prompt is not None:
        string(prompt, f"{param}.prompt")
    return Transcription(model, language or None, prompt or None)


def parse_turn_detection(value: Any, param: str) -> TurnDetection | None:
    if value is None:
        return None
    if not isinstance(value, dict) or value.get("type", "server_vad") not in ("server_vad", "semantic_vad"):
        raise invalid(param, value, "null or an object with type server_vad or semantic_vad")
    known = {"type", "threshold", "prefix_padding_ms", "silence_duration_ms", "create_response"}
    reject_unknown(value, {*known, "interrupt_response", "idle_timeout_ms", "eagerness"}, param)
    default = TurnDetection()
    return TurnDetection(
        threshold=number(value.get("threshold", default.threshold), f"{param}.threshold", 0, 1),
        prefix_padding_ms=integer(
            value.get("prefix_padding_ms", default.prefix_padding_ms),
            f"{param}.prefix_padding_ms",
            0,
            MAX_VAD_MS,
        ),
        silence_duration_ms=integer(
            value.get("silence_duration_ms", default.silence_duration_ms),
            f"{param}.silence_duration_ms",
            0,
            MAX_VAD_MS,
        ),
        create_response=boolean(value.get("create_response", True), f"{param}.create_response"),
        interrupt_response=boolean(value.get("interrupt_response", True), f"{param}.interrupt_response"),
    )


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


def apply_session_update(config: Config, session: Any, dialect: Dialect) -> Config:
    """The configuration after ``session.update`` with ``session``."""
    if not isinstance(session, dict):
        raise invalid("session", session, "an object")
    return _apply_ga(config, session) if dialect == Dialect.GA else _apply_preview(config, session)


def _apply_ga(config: Config, session: dict[str, Any]) -> Config:
    if session.get("type", "realtime") != "realtime":
        raise invalid("session.type", session.get("type"), "'realtime'")
    reject_unknown(session, {"type", "output_modalities", "instructions", "audio", *_IGNORED_GA}, "session")
    changes: dict[str, Any] = {}
    if "output_modalities" in session:
        changes["audio_out"] = parse_modalities(
            session["output_modalities"], "session.output_modalities", [["audio"], ["text"]]
        )
    if session.get("instructions") is not None:
        changes["instructions"] = string(session["instructions"], "session.instructions")
    audio = optional_object(session, "audio", "session.audio")
    reject_unknown(audio, {"input", "output"}, "session.audio")
    audio_in = optional_object(audio, "input", "session.audio.input")
    audio_out = optional_object(audio, "output", "session.audio.output")
    reject_unknown(
        audio_in, {"format", "transcription", "turn_detection", "noise_reduction"}, "session.audio.input"
    )
    reject_unknown(audio_out, {"format", "voice", "speed"}, "session.audio.output")
    if "format" in audio_in:
        changes["input_format"] = ga_wire_format(audio_in["format"], "session.audio.input.format")
    if "transcription" in audio_in:
        changes["transcription"] = parse_transcription(
            audio_in["transcription"], "session.audio.input.transcription"
        )
    if "turn_detection" in audio_in:
        changes["turn_detection"] = parse_turn_detection(
            audio_in["turn_detection"], "session.audio.input.turn_detection"
        )
    if "format" in audio_out:
        changes["output_format"] = ga_wire_format(audio_out["format"], "session.audio.output.format")
    if "voice" in audio_out:
        changes["voice"] = voice(audio_out["voice"], "session.audio.output.voice", Dialect.GA)
    if "speed" in audio_out:
        changes["speed"] = number(audio_out["speed"], "session.audio.output.speed", MIN_SPEED, MAX_SPEED)
    return replace(config, **changes)


def _apply_preview(config: Config, session: dict[str, Any]) -> Config:
    known = {
        "modalities",
        "instructions",
        "voice",
        "speed",
        "input_audio_format",
        "output_audio_format",
        "input_audio_transcription",
        "turn_detection",
        *_IGNORED_PREVIEW,
    }
    reject_unknown(session, known, "session")
    changes: dict[str, Any] = {}
    if "modalities" in session:
        changes["audio_out"] = parse_modalities(
            session["modalities"], "session.modalities", [["text", "audio"], ["text"]]
        )
    if session.get("instructions") is not None:
        changes["instructions"] = string(session["instructions"], "session.instructions")
    if "voice" in session:
        changes["voice"] = voice(session["voice"], "session.voice", Dialect.PREVIEW)
    if "speed" in session:
        changes["speed"] = number(session["speed"], "session.speed", MIN_SPEED, MAX_SPEED)
    if "input_audio_format" in session:
        changes["input_format"] = wire_format(session["input_audio_format"], "session.input_audio_format")
    if "output_audio_format" in session:
        changes["output_format"] = wire_format(session["output_audio_format"], "session.output_audio_format")
    if "input_audio_transcription" in session:
        changes["transcription"] = parse_transcription(
            session["input_audio_transcription"], "session.input_audio_transcription"
        )
    if "turn_detection" in session:
        changes["turn_detection"] = parse_turn_detection(session["turn_detection"], "session.turn_detection")
    return replace(config, **changes)


# -- items and responses -----------------------------------------------------------------------------


def parse_item(raw: Any, input_format: WireFormat, param: str = "item") -> Item:
    """A conversation item (messages only: the echo model has no tools).

    ``input_audio`` content is decoded in the session's input format.
    """
    if not isinstance(raw, dict):
        raise invalid(param, raw, "an object")
    if raw.get("type", "message") != "message":
        raise invalid(f"{param}.type", raw.get("type"), "'message'")
    reject_unknown(raw, {"id", "type", "object", "role", "status", "content"}, param)
    role = raw.get("role")
    if role not in ("user", "assistant", "system"):
        raise invalid(f"{param}.role", role, "user, assistant or system")
    content = raw.get("content")
    if not isinstance(content, list) or not content:
        raise invalid(f"{param}.content", content, "a non-empty array of content parts")
    item_id = raw.get("id", None)
    if item_id is not None and not (isinstance(item_id, str) and 0 < len(item_id) <= 64):
        raise invalid(f"{param}.id", item_id, "a string of at most 64 characters")
    parts: list[dict[str, Any]] = []
    samples = None
    for index, part in enumerate(content):
        where = f"{param}.content[{index}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in ("input_text", "text", "output_text"):
            text = string(part.get("text"), f"{where}.text")
            parts.append({"type": "input_text" if role != "assistant" else "output_text", "text": text})
        elif kind == "input_audio" and role == "user":
            audio = audio_bytes(part.get("audio"), input_format, f"{where}.audio")
            samples = asr_samples(audio, input_format)
            transcript = part.get("transcript")
            if transcript is not None:
                string(transcript, f"{where}.transcript")
            parts.append({"type": "input_audio", "transcript": transcript})
        else:
            raise invalid(f"{where}.type", kind, "input_text, or input_audio in a user message")
    return Item(item_id or new_id("item"), role, parts, samples=samples)


@dataclass(frozen=True)
class ResponseOptions:
    """``response.create`` options, validated against the session configuration."""

    voice: str
    output_format: WireFormat
    audio_out: bool
    in_conversation: bool
    inputs: list[Item] | None


def parse_response(options: Any, config: Config, dialect: Dialect) -> ResponseOptions:
    if options is None:
        options = {}
    if not isinstance(options, dict):
        raise invalid("response", options, "an object")
    if dialect == Dialect.GA:
        known = {"audio", "output_modalities", "instructions", "conversation", "input", "max_output_tokens"}
        reject_unknown(options, {*known, *_IGNORED_RESPONSE}, "response")
        audio = optional_object(options, "audio", "response.audio")
        reject_unknown(audio, {"output"}, "response.audio")
        output = optional_object(audio, "output", "response.audio.output")
        reject_unknown(output, {"format", "voice"}, "response.audio.output")
        chosen_voice = voice(output.get("voice", config.voice), "response.audio.output.voice", dialect)
        fmt = (
            ga_wire_format(output["format"], "response.audio.output.format")
            if "format" in output
            else config.output_format
        )
        modalities = options.get("output_modalities")
        audio_out = (
            config.audio_out
            if modalities is None
            else parse_modalities(modalities, "response.output_modalities", [["audio"], ["text"]])
        )
    else:
        known = {"modalities", "voice", "output_audio_format", "instructions", "conversation", "input"}
        reject_unknown(options, {*known, "max_response_output_tokens", *_IGNORED_RESPONSE}, "response")
        chosen_voice = voice(options.get("voice", config.voice), "response.voice", dialect)
        fmt = (
            wire_format(options["output_audio_format"], "response.output_audio_format")
            if "output_audio_format" in options
            else config.output_format
        )
        modalities = options.get("modalities")
        audio_out = (
            config.audio_out
            if modalities is None
            else parse_modalities(modalities, "response.modalities", [["text", "audio"], ["text"]])
        )
    if options.get("instructions") is not None:
        string(options["instructions"], "response.instructions")
    conversation = options.get("conversation", "auto")
    if conversation not in ("auto", "none"):
        raise invalid("response.conversation", conversation, "'auto' or 'none'")
    inputs = None
    if options.get("input") is not None:
        raw = options["input"]
        if not isinstance(raw, list):
            raise invalid("response.input", raw, "an array of items")
        inputs = [
            parse_item(entry, config.input_format, f"response.input[{n}]") for n, entry in enumerate(raw)
        ]
    return ResponseOptions(chosen_voice, fmt, audio_out, conversation != "none", inputs)


def asr_samples(audio: bytes, fmt: WireFormat) -> np.ndarray:
    """Wire audio as float32 at the ASR rate (whole, not streamed)."""
    return resample(decode_wire(audio, fmt), fmt.sample_rate, ASR_RATE)
