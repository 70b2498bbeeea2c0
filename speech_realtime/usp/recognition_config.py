"""What a recognition client asks for: the socket's query, ``speech.config``'s audio source,
``speech.context``'s turn settings (and the features the service refuses), the segmentation and
silence settings, a WAV header's format."""

from __future__ import annotations

import struct
from dataclasses import dataclass, replace
from typing import Any

from ..errors import BadRequest
from ..options import Segmentation
from .frames import FrameError

#: Keys of ``speech.context`` asking for features the service does not provide.
UNSUPPORTED_CONTEXT = {
    "translation": "translation",
    "pronunciationScore": "pronunciation assessment",
    "pronunciationAssessment": "pronunciation assessment",
    "keywordDetection": "keyword recognition",
}


@dataclass(frozen=True)
class QuerySettings:
    """The socket's query: ``language``, ``format=detailed``, ``wordLevelTimestamps``, ``lidEnabled``."""

    language: str | None
    detailed: bool
    word_times: bool
    identify: bool

    @classmethod
    def parse(cls, query: dict[str, str]) -> QuerySettings:
        return cls(
            language=query.get("language") or None,
            detailed=query.get("format", "").lower() == "detailed",
            word_times=query.get("wordLevelTimestamps", "").lower() == "true",
            identify=bool(query.get("lidEnabled")),
        )


@dataclass(frozen=True)
class TurnContext:
    """A ``speech.context``'s settings for its turn: each ``None`` or false when not given."""

    language: str | None
    mode: str | None  # phraseDetection.mode, lower case
    detailed: bool

    @classmethod
    def parse(cls, context: dict[str, Any]) -> TurnContext:
        detection = context.get("phraseDetection") or {}
        output = context.get("phraseOutput") or {}
        if not isinstance(detection, dict):
            detection = {}
        mode = detection.get("mode")
        return cls(
            language=detection.get("language"),
            mode=mode.lower() if isinstance(mode, str) else None,
            detailed=isinstance(output, dict) and str(output.get("format", "")).lower() == "detailed",
        )


def unsupported_feature(context: Any) -> str | None:
    """The name of an unsupported feature that ``context`` (``speech.context``) asks for."""
    if isinstance(context, dict):
        for key, value in context.items():
            if key in UNSUPPORTED_CONTEXT and value:
                return UNSUPPORTED_CONTEXT[key]
            found = unsupported_feature(value)
            if found:
                return found
    elif isinstance(context, list):
        for item in context:
            found = unsupported_feature(item)
            if found:
                return found
    return None


def phrase_list(context: Any) -> tuple[str, ...]:
    """The phrase list (``PhraseListGrammar``) of a ``speech.context``: the texts of its
    ``dgi`` (dynamic grammar) ``Generic`` groups, as the SDKs send them:
    ``{"dgi": {"Groups": [{"Type": "Generic", "Items": [{"Text": "Contoso"}]}]}}``."""
    grammar = context.get("dgi") if isinstance(context, dict) else None
    groups = grammar.get("Groups") if isinstance(grammar, dict) else None
    phrases: list[str] = []
    for group in groups if isinstance(groups, list) else ():
        if not isinstance(group, dict) or str(group.get("Type", "")).lower() != "generic":
            continue
        items = group.get("Items")
        for item in items if isinstance(items, list) else ():
            text = item.get("Text") if isinstance(item, dict) else None
            if isinstance(text, str) and text.strip():
                phrases.append(text)
    return tuple(phrases)


def audio_source(config: dict[str, Any], rate: int, channels: int, bits: int) -> tuple[int, int, int]:
    """``(rate, channels, bits)`` from ``speech.config``'s audio source, each defaulting to the
    value given; :class:`FrameError` if the path to it holds something other than objects."""
    source = _member(_member(_member(config, "context"), "audio"), "source")
    rate = _positive(source.get("samplerate"), rate)
    channels = _positive(source.get("channelcount"), channels)
    bits = _positive(source.get("bitspersample"), bits)
    return rate, channels, bits


def _member(parent: dict[str, Any], key: str) -> dict[str, Any]:
    """``parent[key]`` of ``speech.config`` as an object (empty when absent)."""
    value = parent.get(key, {})
    if not isinstance(value, dict):
        raise FrameError(f"speech.config: {key} must be an object")
    return value


def wav_format(data: bytes) -> tuple[int, int, int, int]:
    """``(rate, channels, bits, header_length)`` of a WAV header at the start of ``data``."""
    if len(data) < 12 or data[8:12] != b"WAVE":
        raise FrameError("audio starts with RIFF but is not WAVE")
    position = 12
    fmt: tuple[int, int, int] | None = None
    while position + 8 <= len(data):
        chunk, size = data[position : position + 4], struct.unpack("<I", data[position + 4 : position + 8])[0]
        body = position + 8
        if chunk != b"data" and body + size > len(data):
            name = chunk.decode("latin-1").strip()
            raise FrameError(f"WAV {name!r} chunk of {size} bytes runs past the frame; send the header whole")
        if chunk == b"fmt ":
            if size < 16 or body + 16 > len(data):
                raise FrameError("WAV fmt chunk is truncated")
            tag, channels, rate, _, _, bits = struct.unpack("<HHIIHH", data[body : body + 16])
            if tag not in (1, 0xFFFE):
                raise FrameError(f"WAV audio encoding {tag} is not PCM; send 16-bit PCM")
            fmt = (rate, channels, bits)
        elif chunk == b"data":
            if fmt is None:
                raise FrameError("WAV data chunk before its fmt chunk")
            return (*fmt, body)
        position = body + size + (size & 1)
    if fmt is None:
        raise FrameError("WAV header has no fmt chunk")
    return (*fmt, len(data))


def _positive(value: Any, default: int) -> int:
    """A positive whole number, given as a number or as its digits (the Python SDK 1.53 sends
    ``"samplerate": "16000"``); anything else is ``default``."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 9:
        value = int(value)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else default


# -- segmentation and silence settings ------------------------------------------------------------

#: The socket query's segmentation and silence parameters (the SDKs' ``SpeechConfig`` properties):
#: the Python SDK 1.53 sends the two silence timeouts there (and in ``speech.context``), the
#: JavaScript SDK also the segmentation ones.
QUERY_SEGMENTATION = {
    "segmentationSilenceTimeoutMs": "silence_ms",
    "segmentationMaximumTimeMs": "max_phrase_ms",
    "initialSilenceTimeoutMs": "initial_silence_ms",
    "endSilenceTimeoutMs": "end_silence_ms",
}
#: ``speech.context``'s ``phraseDetection`` fields, and those of its ``<mode>.segmentation``.
CONTEXT_SILENCE = {"initialSilenceTimeout": "initial_silence_ms", "trailingSilenceTimeout": "end_silence_ms"}
CONTEXT_SEGMENTATION = {
    "segmentationSilenceTimeoutMs": "silence_ms",
    "segmentationForcedTimeoutMs": "max_phrase_ms",
}
_MODES = ("interactive", "conversation", "dictation")
#: The VAD silence an end silence timeout may set, in milliseconds (the Realtime API's useful range).
END_SILENCE_RANGE = (100, 5_000)


def segmentation_query(query: dict[str, str]) -> dict[str, str]:
    """The segmentation and silence parameters of the socket's query, as sent (checked per turn)."""
    names = (*QUERY_SEGMENTATION, "segmentationStrategy")
    return {name: query[name] for name in names if query.get(name)}


def turn_segmentation(context: Any, query: dict[str, str]) -> Segmentation:
    """The :class:`Segmentation` a turn asks for: ``speech.context``'s settings, else the query's.

    From ``phraseDetection``: ``initialSilenceTimeout``, ``trailingSilenceTimeout`` and, under the
    key of the recognition mode (``INTERACTIVE``, ``CONVERSATION``, ``DICTATION``, any case),
    ``segmentation`` with ``mode`` (``Semantic`` selects semantic segmentation; ``Custom``,
    ``Normal`` and ``Disabled`` change nothing by themselves), ``segmentationSilenceTimeoutMs``
    and ``segmentationForcedTimeoutMs``. From the query: the parameters of
    :data:`QUERY_SEGMENTATION` and ``segmentationStrategy``. A value that is not a whole number,
    or out of :data:`~speech_realtime.options.SEGMENTATION_RANGES`, raises :class:`BadRequest`.
    """
    values: dict[str, Any] = {field: _query_number(query, name) for name, field in QUERY_SEGMENTATION.items()}
    semantic = query.get("segmentationStrategy", "").lower() == "semantic"
    detection = context.get("phraseDetection") if isinstance(context, dict) else None
    if isinstance(detection, dict):
        values.update(_present(detection, CONTEXT_SILENCE))
        segmentation = _mode_segmentation(detection)
        values.update(_present(segmentation, CONTEXT_SEGMENTATION))
        if isinstance(segmentation.get("mode"), str):
            semantic = segmentation["mode"].lower() == "semantic"
    return Segmentation(
        semantic=semantic, **{field: value for field, value in values.items() if value is not None}
    )


def stream_segmentation(asked: Segmentation, single_shot: bool) -> Segmentation:
    """The segmentation the recognition stream runs with.

    For a single-shot turn (``recognize_once``) the end silence is the pause that ends its one
    phrase: without a segmentation silence it becomes the VAD's silence, moved into
    :data:`END_SILENCE_RANGE` (0 keeps the default). Continuous recognition has no end silence.
    """
    end = asked.end_silence_ms
    if not single_shot or asked.silence_ms is not None or asked.semantic or not end:
        return asked
    low, high = END_SILENCE_RANGE
    return replace(asked, silence_ms=min(high, max(low, end)))


def initial_silence(segmentation: Segmentation, default: float) -> float:
    """Seconds of audio without speech after which an interactive turn gives up (0: ``default``)."""
    asked = segmentation.initial_silence_ms
    return asked / 1000 if asked else default


def _mode_segmentation(detection: dict[str, Any]) -> dict[str, Any]:
    """``phraseDetection.<mode>.segmentation`` for the turn's mode (or the only mode given)."""
    mode = detection.get("mode")
    wanted = mode.lower() if isinstance(mode, str) else None
    for key, value in detection.items():
        name = key.lower()
        if name in _MODES and (wanted is None or name == wanted) and isinstance(value, dict):
            segmentation = value.get("segmentation")
            return segmentation if isinstance(segmentation, dict) else {}
    return {}


def _present(source: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """The fields of ``source`` named in ``names``, under their :class:`Segmentation` names."""
    return {
        field: _whole(source[name], name) for name, field in names.items() if source.get(name) is not None
    }


def _query_number(query: dict[str, str], name: str) -> int | None:
    text = query.get(name)
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise BadRequest(
            f"{name} {text[:20]!r} is not a whole number of milliseconds", param="segmentation"
        ) from None


def _whole(value: Any, name: str) -> int:
    """``value`` as an int when it is a whole number (JSON may send ``2000.0``)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(
            f"{name} {str(value)[:20]!r} is not a whole number of milliseconds", param="segmentation"
        )
    return value
