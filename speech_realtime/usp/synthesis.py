"""Speech synthesis over USP as a sans-I/O state machine.

Feed it client messages (:meth:`SynthesisMachine.receive`) and what the service produces for the job it
asked for (:meth:`SynthesisMachine.audio`, :meth:`SynthesisMachine.word`, :meth:`SynthesisMachine.part_done`,
:meth:`SynthesisMachine.done`, :meth:`SynthesisMachine.fail`); each returns effects: frames to send, a job to
start, a socket close.

States (one socket, many syntheses):

- ``IDLE``: no request; holds no upstream session.
- ``CONTEXT``: ``synthesis.context`` seen (output format, which events the client wants).
- ``SPEAKING``: the ``ssml`` arrived, ``turn.start`` and ``response`` are sent and a
  :class:`Speak` job runs; audio and metadata flow until ``turn.end``.
- ``CLOSED``: the socket is being closed.

When the service shuts down (:meth:`SynthesisMachine.drain`), an idle socket closes at once; a running
synthesis goes on to its ``turn.end`` and then the socket closes; one that cannot finish in time
(:meth:`SynthesisMachine.drain_expired`) is cancelled and closed. Every one of these closes is
``SHUTTING_DOWN`` (4000), never 1000: the SDK may already have sent its next request, and a 1000
leaves that request waiting for ever, while a 4000 fails it at once (Python SDK 1.53: an idle
synthesizer closed 4000 simply reconnects for its next request).

The ``ssml`` is planned by the injected ``plan`` (the service layer's planner, which the REST
front end uses too): a document that breaks a limit or names an unknown voice is refused 1007
before ``turn.start``. The job reads each SSML text part with the service as PCM16 24 kHz; this
machine encodes the whole turn with one encoder into the requested format (RIFF formats without
their header, which the SDK writes), inserts the silence of ``<break>`` parts, and times the
events (word and sentence boundaries, bookmarks: see :mod:`.metadata`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol

from ..audio.output import OutputFormat
from ..errors import SpeechError, UpstreamTimeout
from ..options import WordTiming
from ..readings import Step
from ..ssml import Break, Document, Text, parse_ssml
from .effects import (
    BAD_INPUT,
    SHUTDOWN_REASON,
    SHUTTING_DOWN,
    Cancel,
    Close,
    Send,
    Speak,
    close_reason,
    synthesis_close,
)
from .effects import SynthesisEffect as Effect
from .frames import STREAM_ID, Message, binary_frame, text_frame
from .machine import Machine
from .metadata import PartTimeline, bookmark, boundary, session_end
from .synthesis_context import synthesis_request

#: The PCM the job delivers: 16-bit little-endian mono at 24 kHz.
SOURCE_RATE = 24000
SOURCE_BYTES_PER_SECOND = SOURCE_RATE * 2
DEFAULT_VOICE = "en-US-AvaMultilingualNeural"


class SynthesisState(Enum):
    IDLE = "idle"
    CONTEXT = "context"
    SPEAKING = "speaking"
    CLOSED = "closed"


class AudioEncoder(Protocol):
    def push(self, wire: bytes) -> bytes: ...
    def finish(self) -> bytes: ...
    def close(self) -> None: ...


@dataclass
class _SynthesisTurn:
    request_id: str
    output: OutputFormat
    flags: dict[str, bool]
    stream_id: str
    encoder: AudioEncoder
    document: Document
    base: float = 0.0  # seconds of audio before the current part
    part_bytes: int = 0
    part: PartTimeline | None = None
    index: int = 0
    pending: list[dict[str, Any]] = field(default_factory=list)

    @property
    def position(self) -> float:
        return self.base + self.part_bytes / SOURCE_BYTES_PER_SECOND


class SynthesisMachine(Machine[Effect]):
    """One synthesis socket: the request in progress and its timeline."""

    def __init__(
        self,
        encoder: Callable[[OutputFormat], AudioEncoder],
        *,
        plan: Callable[[Document], tuple[Step, ...]],
        query: dict[str, str] | None = None,
    ) -> None:
        self.state = SynthesisState.IDLE
        self._make_encoder = encoder
        self._plan = plan
        self._query = query or {}
        self._context: tuple[str, dict[str, Any]] | None = None
        self.turn: _SynthesisTurn | None = None
        self.draining = False

    # -- client messages --------------------------------------------------------------------

    def receive(self, message: Message) -> list[Effect]:
        if self.closed or self.draining:
            return []  # shutting down: no new request starts
        handlers = {"synthesis.context": self._synthesis_context, "ssml": self._ssml}
        return self._dispatch(message, handlers)  # speech.config, telemetry, newer: tolerated

    def _synthesis_context(self, message: Message) -> list[Effect]:
        if self.state is SynthesisState.SPEAKING:
            return self._close(BAD_INPUT, "synthesis.context arrived while a synthesis is running")
        self._context = (message.request_id or "", message.json())
        self.state = SynthesisState.CONTEXT
        return []

    def _ssml(self, message: Message) -> list[Effect]:
        if self.state is SynthesisState.SPEAKING:
            return self._close(BAD_INPUT, "a second ssml arrived while a synthesis is running")
        request_id = message.request_id or ""
        body = self._context[1] if self._context and self._context[0] == request_id else {}
        request = synthesis_request(body, self._query)
        document = parse_ssml(message.body, default_voice=DEFAULT_VOICE)
        steps = self._plan(document)  # every limit and voice checked: a refusal comes before turn.start
        stream_id = uuid.uuid4().hex
        encoder = self._make_encoder(request.output)
        self.turn = _SynthesisTurn(request_id, request.output, request.flags, stream_id, encoder, document)
        self._begin_part(self.turn)
        self.state = SynthesisState.SPEAKING
        self._context = None
        tag = uuid.uuid4().hex
        response = {"context": {"serviceTag": tag}, "audio": {"type": "inline", "streamId": stream_id}}
        return [
            Send(text_frame("turn.start", request_id, {"context": {"serviceTag": tag}})),
            Send(text_frame("response", request_id, response)),
            Speak(document, steps),
        ]

    # -- the job ----------------------------------------------------------------------------

    def _begin_part(self, turn: _SynthesisTurn) -> None:
        """Set up timing for ``turn.document.parts[turn.index]`` (a break has none: its silence
        is sent when the job reports the part done)."""
        turn.part = None
        turn.part_bytes = 0
        if turn.index >= len(turn.document.parts):
            return
        part = turn.document.parts[turn.index]
        if isinstance(part, Text):
            turn.part = PartTimeline(part)

    def audio(self, pcm: bytes) -> list[Effect]:
        """PCM16 24 kHz audio of the current part."""
        turn = self.turn
        if turn is None or self.state is not SynthesisState.SPEAKING:
            return []
        turn.part_bytes += len(pcm)
        return self._audio_frame(turn, turn.encoder.push(pcm))

    def word(self, timing: WordTiming) -> list[Effect]:
        """A word of the current part, ``offset`` seconds into the part's audio."""
        turn = self.turn
        if turn is None or turn.part is None or self.state is not SynthesisState.SPEAKING:
            return []
        part = turn.part
        token = part.match(timing.text)
        if token is None:
            return []
        offset = turn.base + timing.offset
        effects = self._marks(turn, part, token.start, offset)
        if turn.flags.get("wordBoundaryEnabled"):
            effects += self._metadata(turn, boundary("WordBoundary", offset, timing.duration, token.word))
        if part.sentence_start is None:
            part.sentence_start = (token.start, offset)
        if token.ends_sentence or part.last_word_read:
            effects += self._sentence(turn, part, token.end, offset + timing.duration)
        return effects

    def _marks(self, turn: _SynthesisTurn, part: PartTimeline, before: int, offset: float) -> list[Effect]:
        """Bookmarks standing before character ``before``, placed at ``offset``."""
        names = part.marks_before(before)
        if not turn.flags.get("bookmarkEnabled"):
            return []
        return [effect for name in names for effect in self._metadata(turn, bookmark(name, offset))]

    def _sentence(self, turn: _SynthesisTurn, part: PartTimeline, end_char: int, end: float) -> list[Effect]:
        sentence = part.end_sentence(end_char)
        if sentence is None or not turn.flags.get("sentenceBoundaryEnabled"):
            return []
        text, start = sentence
        return self._metadata(turn, boundary("SentenceBoundary", start, end - start, text))

    def part_done(self) -> list[Effect]:
        """The current part is fully delivered (a break part: its silence is due now)."""
        turn = self.turn
        if turn is None or self.state is not SynthesisState.SPEAKING:
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
        if turn is None or self.state is not SynthesisState.SPEAKING:
            return []
        effects = self._audio_frame(turn, turn.encoder.finish())
        if turn.flags.get("sessionEndEnabled"):
            effects += self._metadata(turn, session_end(turn.base))
        return effects + self._end_turn(turn)

    def fail(self, error: SpeechError) -> list[Effect]:
        """The job failed: close with the code whose SDK error matches (never 1000)."""
        code, reason = synthesis_close(error)
        return self._close(code, reason)

    def stalled(self) -> list[Effect]:
        """The job made no progress for the idle limit: give up on it."""
        if self.state is SynthesisState.SPEAKING:
            return self.fail(UpstreamTimeout("the synthesis made no progress in time"))
        return []

    def drain(self) -> list[Effect]:
        """The service is shutting down: close ``SHUTTING_DOWN`` now, or, while speaking, once
        the turn has ended."""
        if self.draining or self.state is SynthesisState.CLOSED:
            return []
        self.draining = True
        return [] if self.state is SynthesisState.SPEAKING else self._close(SHUTTING_DOWN, SHUTDOWN_REASON)

    def expire(self, reason: str) -> list[Effect]:
        """Close :data:`SHUTTING_DOWN` (an idle synthesizer reconnects for its next request;
        a running one fails at once instead of waiting)."""
        return [] if self.closed else self._close(SHUTTING_DOWN, reason)

    @property
    def busy(self) -> bool:
        return self.state is SynthesisState.SPEAKING

    @property
    def closed(self) -> bool:
        return self.state is SynthesisState.CLOSED

    # -- frames -----------------------------------------------------------------------------

    def _audio_frame(self, turn: _SynthesisTurn, data: bytes) -> list[Effect]:
        if not data:
            return []
        frame = binary_frame("audio", turn.request_id, data, {STREAM_ID: turn.stream_id})
        return [Send(frame)]

    def _metadata(self, turn: _SynthesisTurn, body: dict[str, Any]) -> list[Effect]:
        return [Send(text_frame("audio.metadata", turn.request_id, body))]

    # -- transitions ------------------------------------------------------------------------

    def _end_turn(self, turn: _SynthesisTurn) -> list[Effect]:
        turn.encoder.close()
        self.turn = None
        self.state = SynthesisState.IDLE
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
        self.state = SynthesisState.CLOSED
        return [*effects, Close(code, close_reason(reason))]
