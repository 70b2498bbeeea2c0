"""Speech synthesis over USP as a sans-I/O state machine.

Feed it client messages (:meth:`Synthesis.receive`) and what the service produces for the job it
asked for (:meth:`Synthesis.audio`, :meth:`Synthesis.word`, :meth:`Synthesis.part_done`,
:meth:`Synthesis.done`, :meth:`Synthesis.fail`); each returns effects: frames to send, a job to
start, a socket close.

States (one socket, many syntheses):

- ``IDLE``: no request; holds no upstream session.
- ``CONTEXT``: ``synthesis.context`` seen (output format, which events the client wants).
- ``SPEAKING``: the ``ssml`` arrived, ``turn.start`` and ``response`` are sent and a
  :class:`Speak` job runs; audio and metadata flow until ``turn.end``.
- ``CLOSED``: the socket is being closed.

When the service shuts down (:meth:`Synthesis.drain`), an idle socket closes at once; a running
synthesis goes on to its ``turn.end`` and then the socket closes; one that cannot finish in time
(:meth:`Synthesis.drain_expired`) is cancelled and closed. Every one of these closes is
``SHUTTING_DOWN`` (4000), never 1000: the SDK may already have sent its next request, and a 1000
leaves that request waiting for ever, while a 4000 fails it at once (Python SDK 1.53: an idle
synthesizer closed 4000 simply reconnects for its next request).

The job reads each SSML text part with the service as PCM16 24 kHz; this machine encodes the
whole turn with one encoder into the requested format (RIFF formats without their header, which
the SDK writes), inserts the silence of ``<break>`` parts, and times the events:

- word boundaries: the service's word timings (transcript deltas against the audio position),
  each matched to the literal word of the input (the SDK looks the text up in its input);
- sentence boundaries: from the first to the last word of each sentence of the input;
- bookmarks: at the start of the first word after the mark, or at the end of its part's audio.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol

from ..audio.output import OutputFormat, azure_output_format
from ..errors import BadRequest, RateLimited, Saturated, SpeechError, UpstreamAuth, UpstreamTimeout
from ..options import WordTiming
from ..ssml import Break, Document, Text, parse_ssml
from .frames import STREAM_ID, FrameError, Message, binary_frame, text_frame
from .recognition import BAD_INPUT, SHUTDOWN_REASON, SHUTTING_DOWN, Close, Send, close_reason, ticks

#: The PCM the job delivers: 16-bit little-endian mono at 24 kHz.
SOURCE_RATE = 24000
SOURCE_BYTES_PER_SECOND = SOURCE_RATE * 2
DEFAULT_FORMAT = "raw-16khz-16bit-mono-pcm"
DEFAULT_VOICE = "en-US-AvaMultilingualNeural"
#: The close code the Python SDK reports as ``TooManyRequests``.
RATE_LIMITED = 4429
_TOKEN = re.compile(r"\S+")
_EDGE_PUNCTUATION = re.compile(r"^[^\w]+|[^\w]+$")
_SENTENCE_END = re.compile(r"[.!?…。！？][\"'»”’)\]]*$")


class State(Enum):
    IDLE = "idle"
    CONTEXT = "context"
    SPEAKING = "speaking"
    CLOSED = "closed"


class AudioEncoder(Protocol):
    def push(self, wire: bytes) -> bytes: ...
    def finish(self) -> bytes: ...
    def close(self) -> None: ...


@dataclass(frozen=True)
class Speak:
    """Start the job: read ``document``'s parts in order, reporting each part's end."""

    document: Document


@dataclass(frozen=True)
class Cancel:
    """Stop the running job and free its session."""


Effect = Send | Speak | Cancel | Close


@dataclass
class _Token:
    start: int
    end: int
    literal: str


@dataclass
class _Part:
    """Timing state of the text part being read."""

    text: Text
    tokens: list[_Token]
    next_token: int = 0
    next_mark: int = 0
    sentence_start: tuple[int, float] | None = None  # (char, seconds)


@dataclass
class _Turn:
    request_id: str
    output: OutputFormat
    flags: dict[str, bool]
    stream_id: str
    encoder: AudioEncoder
    document: Document
    base: float = 0.0  # seconds of audio before the current part
    part_bytes: int = 0
    part: _Part | None = None
    index: int = 0
    pending: list[dict[str, Any]] = field(default_factory=list)

    @property
    def position(self) -> float:
        return self.base + self.part_bytes / SOURCE_BYTES_PER_SECOND


def output_for(name: str | None) -> OutputFormat:
    """The output for an SDK format name; RIFF formats without the header the SDK writes."""
    return azure_output_format(name or DEFAULT_FORMAT).raw()


def _normal(word: str) -> str:
    return _EDGE_PUNCTUATION.sub("", word).lower()


class Synthesis:
    """One synthesis socket: the request in progress and its timeline."""

    def __init__(
        self,
        encoder: Callable[[OutputFormat], AudioEncoder],
        *,
        check_voice: Callable[[str | None], object] = lambda name: name,
        query: dict[str, str] | None = None,
    ) -> None:
        self.state = State.IDLE
        self._make_encoder = encoder
        self._check_voice = check_voice
        self._query = query or {}
        self._context: tuple[str, dict[str, Any]] | None = None
        self.turn: _Turn | None = None
        self.draining = False

    # -- client messages --------------------------------------------------------------------

    def receive(self, message: Message) -> list[Effect]:
        if self.state is State.CLOSED or self.draining:
            return []  # shutting down: no new request starts
        path = message.path.lower()
        try:
            if path == "synthesis.context":
                return self._synthesis_context(message)
            if path == "ssml":
                return self._ssml(message)
        except (FrameError, BadRequest) as exc:
            return self._close(BAD_INPUT, str(exc))
        return []  # speech.config, telemetry and anything newer: tolerated

    def _synthesis_context(self, message: Message) -> list[Effect]:
        if self.state is State.SPEAKING:
            return self._close(BAD_INPUT, "synthesis.context arrived while a synthesis is running")
        self._context = (message.request_id or "", message.json())
        self.state = State.CONTEXT
        return []

    def _ssml(self, message: Message) -> list[Effect]:
        if self.state is State.SPEAKING:
            return self._close(BAD_INPUT, "a second ssml arrived while a synthesis is running")
        request_id = message.request_id or ""
        body = self._context[1] if self._context and self._context[0] == request_id else {}
        synthesis = body.get("synthesis") if isinstance(body.get("synthesis"), dict) else {}
        audio = synthesis.get("audio") if isinstance(synthesis.get("audio"), dict) else {}
        flags = audio.get("metadataOptions") if isinstance(audio.get("metadataOptions"), dict) else {}
        if flags.get("visemeEnabled"):
            return self._close(BAD_INPUT, "visemes are not supported by this service")
        if self._query.get("deploymentId"):
            return self._close(BAD_INPUT, "custom voice deployments are not supported by this service")
        output = output_for(audio.get("outputFormat"))
        document = parse_ssml(message.body, default_voice=DEFAULT_VOICE)
        if not document.texts:
            raise BadRequest("the SSML has no text to read", param="text")
        for text in document.texts:
            self._check_voice(text.voice)
        stream_id = uuid.uuid4().hex
        self.turn = _Turn(
            request_id,
            output,
            {key: bool(value) for key, value in flags.items()},
            stream_id,
            self._make_encoder(output),
            document,
        )
        self._begin_part(self.turn)
        self.state = State.SPEAKING
        self._context = None
        tag = uuid.uuid4().hex
        response = {"context": {"serviceTag": tag}, "audio": {"type": "inline", "streamId": stream_id}}
        return [
            Send(text_frame("turn.start", request_id, {"context": {"serviceTag": tag}})),
            Send(text_frame("response", request_id, response)),
            Speak(document),
        ]

    # -- the job ----------------------------------------------------------------------------

    def _begin_part(self, turn: _Turn) -> None:
        """Set up timing for ``turn.document.parts[turn.index]`` (a break has none: its silence
        is sent when the job reports the part done)."""
        turn.part = None
        turn.part_bytes = 0
        if turn.index >= len(turn.document.parts):
            return
        part = turn.document.parts[turn.index]
        if isinstance(part, Text):
            tokens = [_Token(m.start(), m.end(), m.group()) for m in _TOKEN.finditer(part.text)]
            turn.part = _Part(part, tokens)

    def audio(self, pcm: bytes) -> list[Effect]:
        """PCM16 24 kHz audio of the current part."""
        turn = self.turn
        if turn is None or self.state is not State.SPEAKING:
            return []
        turn.part_bytes += len(pcm)
        return self._audio_frame(turn, turn.encoder.push(pcm))

    def word(self, timing: WordTiming) -> list[Effect]:
        """A word of the current part, ``offset`` seconds into the part's audio."""
        turn = self.turn
        if turn is None or turn.part is None or self.state is not State.SPEAKING:
            return []
        part = turn.part
        token = self._match(part, timing.text)
        if token is None:
            return []
        offset = turn.base + timing.offset
        effects = self._marks(turn, part, token.start, offset)
        literal = _EDGE_PUNCTUATION.sub("", token.literal) or token.literal
        if turn.flags.get("wordBoundaryEnabled"):
            effects += self._metadata(turn, "WordBoundary", offset, timing.duration, literal)
        if part.sentence_start is None:
            part.sentence_start = (token.start, offset)
        if _SENTENCE_END.search(token.literal) or part.next_token >= len(part.tokens):
            effects += self._sentence(turn, part, token.end, offset + timing.duration)
        return effects

    def _match(self, part: _Part, heard: str) -> _Token | None:
        """The input token the service's word stands for: the next one that matches within a
        short look-ahead, else simply the next one (a number read out, a contraction split)."""
        wanted = _normal(heard)
        if not wanted and not heard.strip():
            return None
        window = part.tokens[part.next_token : part.next_token + 4]
        for skip, token in enumerate(window):
            if _normal(token.literal) == wanted:
                part.next_token += skip + 1
                return token
        if part.next_token < len(part.tokens):
            part.next_token += 1
            return part.tokens[part.next_token - 1]
        return None

    def _marks(self, turn: _Turn, part: _Part, before: int, offset: float) -> list[Effect]:
        """Bookmarks standing before character ``before``, placed at ``offset``."""
        effects: list[Effect] = []
        marks = part.text.marks
        while part.next_mark < len(marks) and marks[part.next_mark].position <= before:
            if turn.flags.get("bookmarkEnabled"):
                effects += self._bookmark(turn, marks[part.next_mark].name, offset)
            part.next_mark += 1
        return effects

    def _sentence(self, turn: _Turn, part: _Part, end_char: int, end: float) -> list[Effect]:
        start = part.sentence_start
        part.sentence_start = None
        if start is None or not turn.flags.get("sentenceBoundaryEnabled"):
            return []
        text = part.text.text[start[0] : end_char]
        return self._metadata(turn, "SentenceBoundary", start[1], end - start[1], text)

    def part_done(self) -> list[Effect]:
        """The current part is fully delivered (a break part: its silence is due now)."""
        turn = self.turn
        if turn is None or self.state is not State.SPEAKING:
            return []
        effects: list[Effect] = []
        if turn.index < len(turn.document.parts):
            part = turn.document.parts[turn.index]
            if isinstance(part, Break):
                silence = bytes(2 * round(part.seconds * SOURCE_RATE))
                turn.part_bytes = len(silence)
                effects += self._audio_frame(turn, turn.encoder.push(silence))
            elif turn.part is not None:
                end = turn.position
                effects += self._marks(turn, turn.part, len(turn.part.text.text) + 1, end)
                effects += self._sentence(turn, turn.part, len(turn.part.text.text), end)
        turn.base = turn.position
        turn.index += 1
        self._begin_part(turn)
        return effects

    def done(self) -> list[Effect]:
        """The job is over: flush the encoder, report the session end, end the turn."""
        turn = self.turn
        if turn is None or self.state is not State.SPEAKING:
            return []
        effects = self._audio_frame(turn, turn.encoder.finish())
        if turn.flags.get("sessionEndEnabled"):
            entry = {"Type": "SessionEnd", "Data": {"Offset": ticks(turn.base)}}
            effects.append(Send(text_frame("audio.metadata", turn.request_id, {"Metadata": [entry]})))
        return effects + self._end_turn(turn)

    def fail(self, error: SpeechError) -> list[Effect]:
        """The job failed: close with the code whose SDK error matches (never 1000)."""
        code, reason = synthesis_close(error)
        return self._close(code, reason)

    def idle(self) -> list[Effect]:
        """The job made no progress for the idle limit: give up on it."""
        if self.state is State.SPEAKING:
            return self.fail(UpstreamTimeout("the synthesis made no progress in time"))
        return []

    def drain(self) -> list[Effect]:
        """The service is shutting down: close ``SHUTTING_DOWN`` now, or, while speaking, once
        the turn has ended."""
        if self.draining or self.state is State.CLOSED:
            return []
        self.draining = True
        return [] if self.state is State.SPEAKING else self._close(SHUTTING_DOWN, SHUTDOWN_REASON)

    def drain_expired(self) -> list[Effect]:
        """The shutdown's time for this socket is up: close ``SHUTTING_DOWN`` (no retry)."""
        if self.state is State.CLOSED:
            return []
        return self._close(SHUTTING_DOWN, SHUTDOWN_REASON)

    @property
    def busy(self) -> bool:
        return self.state is State.SPEAKING

    # -- frames -----------------------------------------------------------------------------

    def _audio_frame(self, turn: _Turn, data: bytes) -> list[Effect]:
        if not data:
            return []
        frame = binary_frame("audio", turn.request_id, data, {STREAM_ID: turn.stream_id})
        return [Send(frame)]

    def _metadata(self, turn: _Turn, kind: str, offset: float, duration: float, text: str) -> list[Effect]:
        data = {
            "Offset": ticks(offset),
            "Duration": ticks(max(0.0, duration)),
            "text": {"Text": text, "Length": len(text), "BoundaryType": kind},
        }
        body = {"Metadata": [{"Type": kind, "Data": data}]}
        return [Send(text_frame("audio.metadata", turn.request_id, body))]

    def _bookmark(self, turn: _Turn, name: str, offset: float) -> list[Effect]:
        body = {"Metadata": [{"Type": "Bookmark", "Data": {"Offset": ticks(offset), "Bookmark": name}}]}
        return [Send(text_frame("audio.metadata", turn.request_id, body))]

    def refuse(self, reason: str) -> list[Effect]:
        """A frame the protocol does not allow: close 1007 with ``reason``."""
        return self._close(BAD_INPUT, reason)

    # -- transitions ------------------------------------------------------------------------

    def _end_turn(self, turn: _Turn) -> list[Effect]:
        turn.encoder.close()
        self.turn = None
        self.state = State.IDLE
        effects: list[Effect] = [Send(text_frame("turn.end", turn.request_id, {}))]
        if self.draining:  # the turn ended properly: the socket closes as an idle one does
            effects += self._close(SHUTTING_DOWN, SHUTDOWN_REASON)
        return effects

    def _close(self, code: int, reason: str) -> list[Effect]:
        effects: list[Effect] = []
        if self.turn is not None:
            self.turn.encoder.close()
            effects.append(Cancel())
        self.turn = None
        self.state = State.CLOSED
        return [*effects, Close(code, close_reason(reason))]


def synthesis_close(error: SpeechError) -> tuple[int, str]:
    """The close code and reason for a failed synthesis (never 1000, which would leave it waiting).

    As the Python SDK 1.53 reports them: 1007 is ``BadRequest`` (bad input, unknown voice or
    format); 4429 is ``TooManyRequests`` (upstream rate limit, no free session); 4000 is
    ``ConnectionFailure`` (upstream credentials refused: no close code gives an authentication
    error, which only an HTTP 401 on the upgrade does); none of these is retried. An upstream
    error or timeout that may pass closes with 1011, ``ServiceError``, which the SDK retries once.
    """
    if isinstance(error, (RateLimited, Saturated)) or error.status == 429:
        return RATE_LIMITED, f"{error.code}: {error.message}"
    if isinstance(error, UpstreamAuth):
        return 4000, f"{error.code}: {error.message}"
    if 400 <= error.status < 500 and error.status != 408:
        return BAD_INPUT, error.message
    return 1011, f"{error.code}: {error.message}"
