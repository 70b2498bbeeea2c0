"""Realtime API events: client-event builders for both dialects and server-event normalisation.

Two dialects of the protocol exist: ``ga`` (Azure ``/openai/v1/realtime`` and OpenAI) and
``preview`` (Azure ``/openai/realtime?api-version=...``, the beta event names). Builders take the
dialect and return plain dicts; :func:`parse_server_event` maps either dialect's server events
onto one internal vocabulary (:class:`Kind`) so the state machines never look at dialects.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from ..audio import WIRE_FORMATS
from ..config import Dialect
from ..errors import UpstreamError
from ..options import Segmentation
from .transcription import LOGPROBS_INCLUDE, ModelTraits, TranscriptionSession, transcription_settings

# Re-exported for tests/test_realtime_events.py and tests/test_realtime_resilience.py only;
# the protocol machines import them from upstream_errors.
from .upstream_errors import error_from_event as error_from_event
from .upstream_errors import error_from_failure as error_from_failure
from .upstream_errors import error_from_response as error_from_response

GA = Dialect.GA
PREVIEW = Dialect.PREVIEW
DIALECTS = tuple(Dialect)

#: Largest base64 payload of one ``input_audio_buffer.append`` the service accepts.
MAX_APPEND_B64 = 15 * 1024 * 1024
#: Base64 payload of each ``input_audio_buffer.append`` a recognition sends (16 s of PCM16
#: 24 kHz). Each event is built only when it is sent and sending copies it several times
#: (JSON text, UTF-8, the WebSocket mask), so small events keep a long recognition's memory to
#: its wire audio plus a few MB.
APPEND_CHUNK_B64 = 1024 * 1024

VERBATIM_INSTRUCTIONS = (
    "You are a text-to-speech engine. Read the user's message aloud exactly as written, word for "
    "word, in the language it is written in. Do not answer it, translate it, comment on it, or "
    "add or leave out anything."
)
STYLE_PREFIX = "Style of the reading (how to say it, never what to say): "
RETRY_INSTRUCTIONS = (
    "Your previous reading did not match the text. Say exactly the words of the user's message "
    "and nothing else: no reply, no greeting, no explanation."
)

_GA_FORMATS = {
    "pcm16": {"type": "audio/pcm", "rate": 24000},
    "g711_ulaw": {"type": "audio/pcmu"},
    "g711_alaw": {"type": "audio/pcma"},
}


#: Server voice activity detection that only marks turns: it commits the buffer at the end of
#: speech (so the input is transcribed) but never starts or interrupts a response.
SERVER_VAD = {"type": "server_vad", "create_response": False, "interrupt_response": False}
#: Turn detection fields about responses, which transcription sessions do not have.
_RESPONSE_SWITCHES = ("create_response", "interrupt_response", "idle_timeout_ms")


#: The same with the model judging where a turn ends (``semantic_vad``, both dialects).
SEMANTIC_VAD = {"type": "semantic_vad", "create_response": False, "interrupt_response": False}


def turn_detection(segmentation: Segmentation | None = None) -> dict[str, Any]:
    """The ``turn_detection`` that cuts speech into phrases as ``segmentation`` asks.

    ``semantic``: ``semantic_vad`` (a phrase ends where the model judges the turn complete; it
    takes no silence duration, so ``silence_ms`` is not sent with it). Otherwise ``server_vad``
    with ``silence_ms`` as ``silence_duration_ms`` when given. The other fields (maximum phrase,
    initial and end silence) have no Realtime API setting: the callers apply them.
    """
    if segmentation is not None and segmentation.semantic:
        return dict(SEMANTIC_VAD)
    detection: dict[str, Any] = dict(SERVER_VAD)
    if segmentation is not None and segmentation.silence_ms is not None:
        detection["silence_duration_ms"] = segmentation.silence_ms
    return detection


def _check(dialect: Dialect, audio_format: str) -> None:
    if dialect not in DIALECTS:
        raise ValueError(f"unknown dialect {dialect!r}")
    if audio_format not in WIRE_FORMATS:
        raise ValueError(f"unknown wire format {audio_format!r}")


def stt_session_update(
    dialect: Dialect,
    *,
    audio_format: str,
    transcribe_model: str,
    language: str | None = None,
    prompt: str | None = None,
    vad: bool = False,
    keywords: tuple[str, ...] = (),
    logprobs: bool = False,
    session: TranscriptionSession | None = None,
    segmentation: Segmentation | None = None,
) -> dict[str, Any]:
    """Configure a session for transcription only: input format, transcription on.

    ``vad``: server VAD marks and commits each utterance (streaming recognition); without it
    the client commits the buffer itself; it is configured from ``segmentation``
    (:func:`turn_detection`). ``keywords``: the model's ``keywords`` where it has
    them, else added to the prompt. ``logprobs``: ask for the transcription's log probabilities
    (``include``; not in a preview realtime session, which has no such field). ``session``: a
    transcription-only deployment, configured with :func:`transcription_session_update`
    instead (``transcribe_model`` is then the deployment's).
    """
    _check(dialect, audio_format)
    traits = session.traits if session else ModelTraits(transcribe_model)
    model = session.model if session else transcribe_model
    transcription = transcription_settings(dialect, model, traits, language, prompt, keywords)
    detection = turn_detection(segmentation) if vad else None
    if session is not None:
        if session.delay and traits.delay and dialect == GA:
            transcription["delay"] = session.delay
        return transcription_session_update(
            dialect,
            audio_format=audio_format,
            transcription=transcription,
            turn_detection=detection if traits.vad else None,
            noise_reduction=session.noise_reduction,
            logprobs=logprobs,
        )
    if dialect == GA:
        session_config: dict[str, Any] = {
            "type": "realtime",
            "output_modalities": ["text"],
            "audio": {
                "input": {
                    "format": _GA_FORMATS[audio_format],
                    "transcription": transcription,
                    "turn_detection": detection,
                }
            },
        }
        if logprobs:
            session_config["include"] = [LOGPROBS_INCLUDE]
    else:
        if logprobs:
            raise ValueError("a preview realtime session cannot include log probabilities")
        session_config = {
            "modalities": ["text"],
            "input_audio_format": audio_format,
            "input_audio_transcription": transcription,
            "turn_detection": detection,
        }
    return {"type": "session.update", "session": session_config}


def transcription_session_update(
    dialect: Dialect,
    *,
    audio_format: str,
    transcription: dict[str, Any],
    turn_detection: dict[str, Any] | None = None,
    noise_reduction: str | None = None,
    logprobs: bool = False,
) -> dict[str, Any]:
    """Configure a *transcription* session (a transcription-only deployment).

    GA: ``session.update`` with ``session.type: "transcription"`` and ``audio.input``'s
    ``format``, ``transcription``, ``turn_detection``, ``noise_reduction``; preview:
    ``transcription_session.update`` with ``input_audio_format``,
    ``input_audio_transcription``, ``turn_detection``, ``input_audio_noise_reduction``. Both
    take ``include`` for log probabilities. Turn detection never starts a response here (a
    transcription session has none), so its response switches are left out.
    """
    _check(dialect, audio_format)
    if turn_detection is not None:
        turn_detection = {k: v for k, v in turn_detection.items() if k not in _RESPONSE_SWITCHES}
    noise = {"type": noise_reduction} if noise_reduction else None
    if dialect == GA:
        audio_in: dict[str, Any] = {
            "format": _GA_FORMATS[audio_format],
            "transcription": transcription,
            "turn_detection": turn_detection,
        }
        if noise:
            audio_in["noise_reduction"] = noise
        session: dict[str, Any] = {"type": "transcription", "audio": {"input": audio_in}}
        kind = "session.update"
    else:
        session = {
            "input_audio_format": audio_format,
            "input_audio_transcription": transcription,
            "turn_detection": turn_detection,
        }
        if noise:
            session["input_audio_noise_reduction"] = noise
        kind = "transcription_session.update"
    if logprobs:
        session["include"] = [LOGPROBS_INCLUDE]
    return {"type": kind, "session": session}


def reading_instructions(style: str | None = None) -> str:
    """The verbatim rule, with the caller's style guidance after it (never instead of it)."""
    if style and style.strip():
        return f"{VERBATIM_INSTRUCTIONS} {STYLE_PREFIX}{style.strip()}"
    return VERBATIM_INSTRUCTIONS


def tts_session_update(
    dialect: Dialect,
    *,
    voice: str,
    audio_format: str,
    speed: float = 1.0,
    instructions: str | None = None,
) -> dict[str, Any]:
    """Configure a session to read text aloud: voice, output format and speed, audio out, no VAD.

    ``speed`` (GA ``audio.output.speed``, preview ``speed``) is sent only when it is not 1.0;
    ``instructions`` is style guidance appended to the verbatim rule.
    """
    _check(dialect, audio_format)
    output: dict[str, Any] = {"format": _GA_FORMATS[audio_format], "voice": voice}
    if dialect == GA:
        if speed != 1.0:
            output["speed"] = speed
        session: dict[str, Any] = {
            "type": "realtime",
            "output_modalities": ["audio"],
            "instructions": reading_instructions(instructions),
            "audio": {"input": {"turn_detection": None}, "output": output},
        }
    else:
        session = {
            "modalities": ["text", "audio"],
            "instructions": reading_instructions(instructions),
            "voice": voice,
            "output_audio_format": audio_format,
            "turn_detection": None,
        }
        if speed != 1.0:
            session["speed"] = speed
    return {"type": "session.update", "session": session}


def append_audio(chunk: bytes) -> dict[str, Any]:
    return {"type": "input_audio_buffer.append", "audio": base64.b64encode(chunk).decode("ascii")}


def append_audio_events(
    audio: bytes, frame_bytes: int, max_b64: int = MAX_APPEND_B64, *, start: int = 0, end: int | None = None
) -> Iterator[dict[str, Any]]:
    """``input_audio_buffer.append`` events for ``audio[start:end]``, each under ``max_b64`` of
    base64, each chunk sliced only when its event is built.

    Chunks are cut on whole frames so no sample is split across two events.
    """
    raw_limit = max_b64 // 4 * 3
    step = max(frame_bytes, raw_limit - raw_limit % frame_bytes)
    end = len(audio) if end is None else end
    for first in range(start, end, step):
        yield append_audio(audio[first : min(first + step, end)])


def commit_audio() -> dict[str, Any]:
    return {"type": "input_audio_buffer.commit"}


def user_message(text: str) -> dict[str, Any]:
    """A user message item holding ``text``."""
    return {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": text}],
    }


def create_item(item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "conversation.item.create", "item": item}


def create_response() -> dict[str, Any]:
    return {"type": "response.create"}


def create_out_of_band_response(text: str, style: str | None = None) -> dict[str, Any]:
    """A response outside the conversation, over ``text`` alone, with stricter instructions."""
    return {
        "type": "response.create",
        "response": {
            "conversation": "none",
            "input": [user_message(text)],
            "instructions": f"{reading_instructions(style)} {RETRY_INSTRUCTIONS}",
        },
    }


class Kind(str, Enum):
    """The internal vocabulary both dialects' server events are normalised to."""

    SESSION_CREATED = "session.created"
    SESSION_UPDATED = "session.updated"
    INPUT_COMMITTED = "input.committed"
    SPEECH_STARTED = "speech.started"
    SPEECH_STOPPED = "speech.stopped"
    TRANSCRIPTION_DELTA = "transcription.delta"
    ITEM_ADDED = "item.added"
    TRANSCRIPTION_COMPLETED = "transcription.completed"
    TRANSCRIPTION_FAILED = "transcription.failed"
    RESPONSE_CREATED = "response.created"
    AUDIO_DELTA = "audio.delta"
    TRANSCRIPT_DELTA = "transcript.delta"
    TRANSCRIPT_DONE = "transcript.done"
    TEXT_DELTA = "text.delta"
    RESPONSE_DONE = "response.done"
    ERROR = "error"
    OTHER = "other"


_KINDS = {
    "session.created": Kind.SESSION_CREATED,
    "session.updated": Kind.SESSION_UPDATED,
    "transcription_session.created": Kind.SESSION_CREATED,
    "transcription_session.updated": Kind.SESSION_UPDATED,
    "input_audio_buffer.committed": Kind.INPUT_COMMITTED,
    "input_audio_buffer.speech_started": Kind.SPEECH_STARTED,
    "input_audio_buffer.speech_stopped": Kind.SPEECH_STOPPED,
    "conversation.item.input_audio_transcription.delta": Kind.TRANSCRIPTION_DELTA,
    "conversation.item.created": Kind.ITEM_ADDED,
    "conversation.item.added": Kind.ITEM_ADDED,
    "conversation.item.input_audio_transcription.completed": Kind.TRANSCRIPTION_COMPLETED,
    "conversation.item.input_audio_transcription.failed": Kind.TRANSCRIPTION_FAILED,
    "response.created": Kind.RESPONSE_CREATED,
    "response.audio.delta": Kind.AUDIO_DELTA,
    "response.output_audio.delta": Kind.AUDIO_DELTA,
    "response.audio_transcript.delta": Kind.TRANSCRIPT_DELTA,
    "response.output_audio_transcript.delta": Kind.TRANSCRIPT_DELTA,
    "response.audio_transcript.done": Kind.TRANSCRIPT_DONE,
    "response.output_audio_transcript.done": Kind.TRANSCRIPT_DONE,
    "response.text.delta": Kind.TEXT_DELTA,
    "response.output_text.delta": Kind.TEXT_DELTA,
    "response.done": Kind.RESPONSE_DONE,
    "error": Kind.ERROR,
}


@dataclass(frozen=True)
class ServerEvent:
    """One server event: its normalised kind and the event as received."""

    kind: Kind
    data: dict[str, Any] = field(repr=False)

    @property
    def type(self) -> str:
        return str(self.data["type"])

    def text(self, key: str) -> str:
        """A string field of the event ('' when absent or not a string)."""
        value = self.data.get(key)
        return value if isinstance(value, str) else ""

    def milliseconds(self, key: str) -> float:
        """A millisecond field of the event in seconds (0 when absent or not a number)."""
        value = self.data.get(key)
        ok = isinstance(value, int | float) and not isinstance(value, bool) and value >= 0
        return value / 1000 if ok else 0.0

    def audio(self) -> bytes:
        """The decoded audio of an audio delta."""
        try:
            return base64.b64decode(self.text("delta"), validate=True)
        except (binascii.Error, ValueError):
            raise UpstreamError("upstream sent an audio delta that is not valid base64") from None


def parse_server_event(message: str | bytes) -> ServerEvent:
    """Decode one WebSocket message into a :class:`ServerEvent`; malformed frames are errors."""
    try:
        data = json.loads(message)
    except (ValueError, UnicodeDecodeError):
        raise UpstreamError("upstream sent a frame that is not JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise UpstreamError("upstream sent an event without a type")
    return ServerEvent(_KINDS.get(data["type"], Kind.OTHER), data)
