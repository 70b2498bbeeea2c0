"""Transcription sessions: a connection opened with ``intent=transcription``, as transcription-only
deployments (``gpt-live-transcribe``, ``gpt-realtime-whisper``) serve them.

A transcription session transcribes every committed item and never responds: its turn detection
only marks and commits turns, ``response.create`` is refused, and it is configured by GA
``session.update`` with ``session.type: "transcription"`` or preview
``transcription_session.update``. A realtime session refuses transcription updates and the other
way round, with the real services' message. ``include`` (log probabilities), ``noise_reduction``
and the newer transcription fields (``keywords``, ``languages``, ``delay``) are checked and
accepted; the engine's recognizer does not use them, so completed transcriptions carry no
``logprobs``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..realtime.events import Dialect
from .parsing import ClientEventError, ga_wire_format, invalid, optional_object, reject_unknown, wire_format
from .session_update import parse_transcription, parse_turn_detection
from .state import Config, Transcription, TurnDetection

LOGPROBS_INCLUDE = "item.input_audio_transcription.logprobs"
NOISE_REDUCTIONS = ("near_field", "far_field")
REALTIME_IN_TRANSCRIPTION = (
    "Passing a realtime session update event to a transcription session is not allowed."
)


def transcription_config() -> Config:
    """A new transcription session: transcription on, server VAD that never responds."""
    vad = TurnDetection(create_response=False, interrupt_response=False)
    return Config(audio_out=False, transcription=Transcription(), turn_detection=vad)


def refused(message: str) -> ClientEventError:
    return ClientEventError("invalid_parameter", message, "session")


def apply_transcription_update(config: Config, kind: str, session: Any, dialect: Dialect) -> Config:
    """The configuration after the update event ``kind`` with ``session`` in a transcription
    session: GA ``session.update`` of type ``transcription``, preview
    ``transcription_session.update``; anything else is a realtime update, refused."""
    if not isinstance(session, dict):
        raise invalid("session", session, "an object")
    if dialect == Dialect.GA:
        transcription = kind == "session.update" and session.get("type") == "transcription"
    else:
        transcription = kind == "transcription_session.update"
    if not transcription:
        raise refused(REALTIME_IN_TRANSCRIPTION)
    if dialect == Dialect.GA:
        reject_unknown(session, {"type", "audio", "include"}, "session")
        audio = optional_object(session, "audio", "session.audio")
        reject_unknown(audio, {"input"}, "session.audio")
        fields = optional_object(audio, "input", "session.audio.input")
        param = "session.audio.input"
        names = {"format": "format", "transcription": "transcription", "noise_reduction": "noise_reduction"}
    else:
        fields, param = session, "session"
        names = {
            "format": "input_audio_format",
            "transcription": "input_audio_transcription",
            "noise_reduction": "input_audio_noise_reduction",
        }
    known = {*names.values(), "turn_detection"}
    if dialect == Dialect.PREVIEW:
        known |= {"include", "modalities", "client_secret"}
    reject_unknown(fields, known, param)
    _check_include(session.get("include"), "session.include")
    _check_noise_reduction(fields.get(names["noise_reduction"]), f"{param}.{names['noise_reduction']}")
    changes: dict[str, Any] = {}
    if names["format"] in fields:
        name = f"{param}.{names['format']}"
        value = fields[names["format"]]
        changes["input_format"] = (
            ga_wire_format(value, name) if dialect == Dialect.GA else wire_format(value, name)
        )
    if names["transcription"] in fields:
        name = f"{param}.{names['transcription']}"
        parsed = parse_transcription(fields[names["transcription"]], name, ga=dialect == Dialect.GA)
        changes["transcription"] = parsed or Transcription()
    if "turn_detection" in fields:
        vad = parse_turn_detection(fields["turn_detection"], f"{param}.turn_detection")
        changes["turn_detection"] = vad and replace(vad, create_response=False, interrupt_response=False)
    return replace(config, **changes)


def _check_include(value: Any, param: str) -> None:
    if value is not None and (
        not isinstance(value, list) or any(entry != LOGPROBS_INCLUDE for entry in value)
    ):
        raise invalid(param, value, f"null or a list of '{LOGPROBS_INCLUDE}'")


def _check_noise_reduction(value: Any, param: str) -> None:
    if value is None:
        return
    if not isinstance(value, dict) or value.get("type", "near_field") not in NOISE_REDUCTIONS:
        raise invalid(param, value, "null or an object with type near_field or far_field")
    reject_unknown(value, {"type", "strength"}, param)
