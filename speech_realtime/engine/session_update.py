"""``session.update`` in both dialects: validated into a new :class:`Config`, so a rejected update
changes nothing."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from ..realtime.events import Dialect
from .parsing import (
    MODALITIES,
    ClientEventError,
    boolean,
    ga_wire_format,
    integer,
    invalid,
    number,
    optional_object,
    parse_modalities,
    reject_unknown,
    string,
    voice,
    wire_format,
)
from .state import MAX_SPEED, MIN_SPEED, SEMANTIC_PAUSES, Config, Transcription, TurnDetection

#: Bounds of the VAD durations, in milliseconds.
MAX_VAD_MS = 10_000

TRANSCRIPTION_IN_REALTIME = (
    "Passing a transcription session update event to a realtime session is not allowed."
)

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


#: GA transcription fields of the newer models (accepted; the engine's recognizer has no use
#: for them): ``keywords``, ``languages`` (gpt-transcribe, gpt-live-transcribe), ``delay``.
_GA_TRANSCRIPTION_EXTRAS = {"keywords", "languages", "delay"}


def parse_transcription(value: Any, param: str, *, ga: bool = False) -> Transcription | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise invalid(param, value, "an object or null")
    reject_unknown(value, {"model", "language", "prompt", *(_GA_TRANSCRIPTION_EXTRAS if ga else ())}, param)
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
    eagerness = value.get("eagerness", default.eagerness)
    if not isinstance(eagerness, str) or eagerness not in SEMANTIC_PAUSES:
        raise invalid(f"{param}.eagerness", eagerness, "one of 'low', 'medium', 'high', 'auto'")
    return TurnDetection(
        semantic=value.get("type") == "semantic_vad",
        eagerness=eagerness,
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


def apply_session_update(config: Config, session: Any, dialect: Dialect) -> Config:
    """The configuration after ``session.update`` with ``session``."""
    if not isinstance(session, dict):
        raise invalid("session", session, "an object")
    return _apply_ga(config, session) if dialect == Dialect.GA else _apply_preview(config, session)


def _apply_ga(config: Config, session: dict[str, Any]) -> Config:
    if session.get("type") == "transcription":
        raise ClientEventError("invalid_parameter", TRANSCRIPTION_IN_REALTIME, "session")
    if session.get("type", "realtime") != "realtime":
        raise invalid("session.type", session.get("type"), "'realtime'")
    reject_unknown(session, {"type", "output_modalities", "instructions", "audio", *_IGNORED_GA}, "session")
    changes: dict[str, Any] = {}
    if "output_modalities" in session:
        changes["audio_out"] = parse_modalities(
            session["output_modalities"], "session.output_modalities", MODALITIES[Dialect.GA]
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
            audio_in["transcription"], "session.audio.input.transcription", ga=True
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
            session["modalities"], "session.modalities", MODALITIES[Dialect.PREVIEW]
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
