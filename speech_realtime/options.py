"""What callers ask of the service and what it gives back: plain frozen records.

Options are validated when they are built, so a front end that turns request fields into an
options object gets a :class:`BadRequest` naming the semantic parameter (``language``,
``prompt``, ``speed``, ``instructions``) before any upstream session exists. Results carry
times in seconds from the start of the audio.

How times are derived (the Realtime API gives none directly):

- a :class:`Segment` spans one speech turn as the server's voice activity detection bounds it
  (``speech_started`` / ``speech_stopped`` offsets); a whole-buffer recognition has a segment
  per phrase the service found, from its first to its last sound (or the engine's own);
- :class:`Word` times are *estimated*: the segment's span is shared among its words in
  proportion to their length in characters, unless the backend reports word times;
- a :class:`WordTiming` of synthesized speech comes from the response's audio transcript
  deltas: a word starts at the audio position reached when its delta arrived, and its duration
  is estimated the same proportional way over the audio that follows.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from .audio import OutputFormat
from .errors import BadRequest

#: The output speeds the Realtime API accepts (``audio.output.speed`` / preview ``speed``).
SPEED_RANGE = (0.25, 1.5)
MAX_PROMPT_CHARS = 1024
MAX_INSTRUCTIONS_CHARS = 2048
#: A short BCP-47-like tag: ``en``, ``en-US``, ``zh-Hant-TW``, ``es-419``.
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8}){0,3}$")
MAX_LANGUAGE_CHARS = 35
#: Keywords (phrase list entries) a recognition takes, and the longest one.
MAX_KEYWORDS = 500
MAX_KEYWORD_CHARS = 100


def _bounded_text(value: str | None, name: str, limit: int) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        raise BadRequest(f"'{name}' must be a string", code="invalid_field", param=name)
    if len(value) > limit:
        raise BadRequest(
            f"'{name}' has {len(value)} characters; the limit is {limit}", code="invalid_field", param=name
        )


def check_language(language: str | None) -> str | None:
    """``language`` if it is a short BCP-47-like tag (``en``, ``en-US``); None for none."""
    if language is None or language == "":
        return None
    if (
        not isinstance(language, str)
        or len(language) > MAX_LANGUAGE_CHARS
        or not _LANGUAGE.fullmatch(language)
    ):
        shown = language[:40] if isinstance(language, str) else type(language).__name__
        raise BadRequest(
            f"language {shown!r} is not a language tag such as 'en' or 'en-US'",
            code="invalid_language",
            param="language",
        )
    return language


def clamp_speed(speed: float) -> float:
    """``speed`` moved into :data:`SPEED_RANGE` (for front ends whose own scale is wider)."""
    low, high = SPEED_RANGE
    return min(high, max(low, speed))


@dataclass(frozen=True)
class SynthesisOptions:
    """How to read a text aloud.

    ``voice``: any accepted name (a Realtime voice, an alias, an Azure name), resolved per
    backend by the service. ``output``: None for PCM16 24 kHz. ``speed``: the speaking rate,
    1.0 normal, within :data:`SPEED_RANGE` (the Realtime API's own range; anything outside is a
    400 with param ``speed``: a front end with a wider scale clamps with :func:`clamp_speed`).
    ``instructions``: style guidance appended after the verbatim rule, never replacing it.
    """

    voice: str | None = None
    output: OutputFormat | None = None
    speed: float = 1.0
    instructions: str | None = None

    def __post_init__(self) -> None:
        speed = self.speed
        low, high = SPEED_RANGE
        if isinstance(speed, bool) or not isinstance(speed, int | float) or not math.isfinite(speed):
            raise BadRequest("'speed' must be a number", code="invalid_speed", param="speed")
        if not low <= speed <= high:
            raise BadRequest(
                f"speed {speed:g} is out of range ({low:g} to {high:g})", code="invalid_speed", param="speed"
            )
        _bounded_text(self.instructions, "instructions", MAX_INSTRUCTIONS_CHARS)


@dataclass(frozen=True)
class Segmentation:
    """How speech is cut into phrases (the Azure Speech SDK's segmentation and silence settings).

    Every field None/False means the backend's defaults. ``silence_ms``: the pause that ends a
    phrase (server VAD ``silence_duration_ms``); ``semantic``: end a phrase where a clause or
    sentence ends rather than at any pause (the Realtime API's ``semantic_vad``);
    ``max_phrase_ms``: a phrase is forced to end after this much speech, for speakers who never
    pause; ``initial_silence_ms``: silence before any speech after which recognition gives up
    (Azure's InitialSilenceTimeout); ``end_silence_ms``: silence after speech that ends a
    single-shot recognition.
    """

    silence_ms: int | None = None
    semantic: bool = False
    max_phrase_ms: int | None = None
    initial_silence_ms: int | None = None
    end_silence_ms: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.semantic, bool):
            raise BadRequest(
                "segmentation 'semantic' must be true or false",
                code="invalid_segmentation",
                param="segmentation",
            )
        for name, (low, high) in SEGMENTATION_RANGES.items():
            _check_milliseconds(name, getattr(self, name), low, high)


#: The accepted range of each :class:`Segmentation` duration, in milliseconds. Silence and
#: maximum phrase time are Azure's (the service checks them: 100 to 5,000 and 20,000 to 70,000);
#: Azure documents none for the initial and end silence, so these take 0 (the default) up to
#: the longest recording the service accepts.
SEGMENTATION_RANGES = {
    "silence_ms": (100, 5_000),
    "max_phrase_ms": (20_000, 70_000),
    "initial_silence_ms": (0, 600_000),
    "end_silence_ms": (0, 600_000),
}


def _check_milliseconds(name: str, value: Any, low: int, high: int) -> None:
    """``value`` is None or a whole number of milliseconds within ``low``..``high``."""
    if value is None:
        return
    label = name.removesuffix("_ms").replace("_", " ")
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(
            f"segmentation {label} must be a whole number of milliseconds",
            code="invalid_segmentation",
            param="segmentation",
        )
    if not low <= value <= high:
        raise BadRequest(
            f"segmentation {label} {value} ms is out of range ({low} to {high} ms)",
            code="invalid_segmentation",
            param="segmentation",
        )


def _check_keywords(keywords: object) -> tuple[str, ...]:
    """``keywords`` as a tuple of distinct non-blank phrases within the limits, in order."""
    if isinstance(keywords, str) or not isinstance(keywords, tuple | list):
        raise BadRequest("'keywords' must be a list of strings", code="invalid_field", param="keywords")
    phrases: dict[str, None] = {}
    for keyword in keywords:
        if not isinstance(keyword, str):
            raise BadRequest("'keywords' must be a list of strings", code="invalid_field", param="keywords")
        if len(keyword) > MAX_KEYWORD_CHARS:
            raise BadRequest(
                f"a keyword has {len(keyword)} characters; the limit is {MAX_KEYWORD_CHARS}",
                code="invalid_field",
                param="keywords",
            )
        if keyword.strip():
            phrases[" ".join(keyword.split())] = None
    if len(phrases) > MAX_KEYWORDS:
        raise BadRequest(
            f"{len(phrases)} keywords; the limit is {MAX_KEYWORDS}", code="invalid_field", param="keywords"
        )
    return tuple(phrases)


@dataclass(frozen=True)
class RecognitionOptions:
    """How to transcribe.

    ``language``: the spoken language (a short tag; None: detect). ``prompt``: words or style to
    expect, passed to the transcription model. ``segmentation``: how speech is cut into
    phrases. ``logprobs``: ask the backend for token log probabilities. ``keywords``: words and
    phrases to expect (the Azure SDK's phrase list), for models that take them.
    """

    language: str | None = None
    prompt: str | None = None
    segmentation: Segmentation = Segmentation()
    logprobs: bool = False
    keywords: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "language", check_language(self.language))
        _bounded_text(self.prompt, "prompt", MAX_PROMPT_CHARS)
        if self.prompt == "":
            object.__setattr__(self, "prompt", None)
        if not isinstance(self.logprobs, bool):
            raise BadRequest("'logprobs' must be true or false", code="invalid_field", param="include")
        object.__setattr__(self, "keywords", _check_keywords(self.keywords))

    @property
    def upstream_language(self) -> str | None:
        """The language as the transcription model takes it: the primary subtag (``en`` for
        ``en-US``), since the Realtime API asks for ISO-639-1 codes. The transcript keeps the
        caller's tag."""
        return self.language.split("-", 1)[0].lower() if self.language else None


@dataclass(frozen=True)
class Word:
    """One recognized word and when it was spoken (seconds; estimated unless the backend says)."""

    text: str
    start: float
    end: float


@dataclass(frozen=True)
class Segment:
    """One utterance (a VAD turn, or a phrase of a whole upload) with its words where known."""

    text: str
    start: float
    end: float
    words: tuple[Word, ...] = ()


@dataclass(frozen=True)
class TokenLogprob:
    """One token of a transcription and its log probability, as the backend reported them."""

    token: str
    logprob: float
    bytes: tuple[int, ...] = ()


@dataclass(frozen=True)
class Transcript:
    """The result of a recognition: all the text, the audio's duration and its segments.

    ``logprobs``: the tokens' log probabilities when they were asked for (None otherwise).
    """

    text: str
    duration: float
    language: str | None
    segments: tuple[Segment, ...] = ()
    usage: dict[str, Any] | None = None
    logprobs: tuple[TokenLogprob, ...] | None = None


@dataclass(frozen=True)
class Speech:
    """Synthesized audio and what the service knows about how faithfully it reads the text.

    ``parts``: the file in the output format, in pieces never joined (see
    :func:`~.audio.encode_parts`); a web answer sends them one by one.
    """

    parts: list[bytes]
    output: OutputFormat
    voice: str
    transcript: str
    verbatim: bool | None
    attempts: int

    @property
    def audio(self) -> bytes:
        """The whole file as one bytes object: a copy of the parts."""
        return b"".join(self.parts)


@dataclass(frozen=True)
class AudioChunk:
    """Synthesized audio in the requested output format, as it arrives."""

    data: bytes


@dataclass(frozen=True)
class WordTiming:
    """A word of synthesized speech: seconds from the start of the audio, and its length."""

    text: str
    offset: float
    duration: float


# -- streaming recognition events ----------------------------------------------------------------


@dataclass(frozen=True)
class SpeechStarted:
    """The backend heard speech begin, ``offset`` seconds into the stream."""

    offset: float


@dataclass(frozen=True)
class Hypothesis:
    """Interim text of the utterance in progress (the text so far, not a delta)."""

    text: str
    offset: float
    duration: float


@dataclass(frozen=True)
class Phrase:
    """The final text of one utterance, with its place in the stream."""

    text: str
    offset: float
    duration: float
    words: tuple[Word, ...] = ()


@dataclass(frozen=True)
class SpeechStopped:
    """The backend heard speech end, ``offset`` seconds into the stream."""

    offset: float


@dataclass(frozen=True)
class Ended:
    """The stream is over: every phrase has been delivered."""


RecognitionEvent = SpeechStarted | Hypothesis | Phrase | SpeechStopped | Ended


def spread_words(text: str, start: float, end: float) -> tuple[Word, ...]:
    """``text``'s words over ``start``..``end``, each given time in proportion to its length."""
    tokens = text.split()
    total = sum(len(token) for token in tokens)
    if not total or end <= start:
        return tuple(Word(token, start, start) for token in tokens)
    span = end - start
    words: list[Word] = []
    position = start
    for token in tokens:
        length = span * len(token) / total
        first, last = max(start, round(position, 3)), min(end, round(position + length, 3))
        words.append(Word(token, first, last))
        position += length
    return tuple(words)
