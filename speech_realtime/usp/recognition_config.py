"""What a recognition client asks for: the socket's query, ``speech.config``'s audio source,
``speech.context``'s turn settings (and the features the service refuses), a WAV header's format."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

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
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else default
