"""Speech recognition over USP as a sans-I/O state machine.

Feed it client messages (:meth:`RecognitionMachine.receive`), the service's recognition events
(:meth:`RecognitionMachine.event`), failures (:meth:`RecognitionMachine.fail`) and watchdog ticks
(:meth:`RecognitionMachine.stalled`); each returns the effects for the I/O layer to carry out, in order:
frames to send, an upstream recognition stream to open, feed, finish or release, a socket close.

States (one socket, many turns):

- ``IDLE``: no turn; holds no upstream session. ``speech.context`` or audio with a new request
  id starts a turn.
- ``CONTEXT``: ``speech.context`` seen for the turn's request id; waiting for its first audio.
- ``LISTENING``: ``turn.start`` sent, an upstream stream open, audio flowing to it.
- ``DRAINING``: the client ended its audio (an empty ``audio`` frame, then no more audio for
  :data:`END_GRACE` seconds) or the watchdog gave up on it; waiting for the stream's last
  phrases and its end.
- ``CLOSED``: the socket is being closed; nothing more is sent.

When the service shuts down (:meth:`RecognitionMachine.drain`), an idle socket closes at once with
1000; a listening turn's audio is finished, so what was heard is transcribed and sent, then
``turn.end``, then the socket closes 1000; a turn that cannot end in time
(:meth:`RecognitionMachine.drain_expired`) closes with :data:`SHUTTING_DOWN`. 1000, because the Python
SDK 1.53 reports a 4000 (or 1001) close of an idle recognizer's socket as a cancellation and
then fails its next recognition, while after a 1000 it reconnects for the next one; a
continuous recognition reconnects at once and, the service gone, is canceled (connection
refused).

Every turn that sent ``turn.start`` ends with ``turn.end`` (after a phrase carrying a
RecognitionStatus) or a non-1000 close. Offsets are in 100-ns ticks from the start of the turn's
audio.
"""

from __future__ import annotations

import uuid
from enum import Enum
from typing import Any

from ..audio.formats import check_layout
from ..errors import BadRequest, SpeechError, UpstreamTimeout
from ..options import (
    Ended,
    Hypothesis,
    Phrase,
    RecognitionEvent,
    RecognitionOptions,
    SpeechStarted,
    SpeechStopped,
)
from .effects import (
    BAD_INPUT,
    SHUTDOWN_REASON,
    SHUTTING_DOWN,
    Close,
    Finish,
    Open,
    Push,
    Release,
    close_reason,
)
from .effects import RecognitionEffect as Effect
from .frames import Message
from .machine import Machine
from .recognition_config import (
    TurnContext,
    audio_source,
    initial_silence,
    stream_segmentation,
    unsupported_feature,
    wav_format,
)
from .recognition_turn import RecognitionTurn, SocketSettings
from .results import failure_body, hypothesis_body, offset_body, recognized_body

#: Seconds after an empty ``audio`` frame with no more audio before the turn's audio is over.
END_GRACE = 0.3
#: Seconds of audio without speech after which an interactive turn ends (Azure's default).
INITIAL_SILENCE = 5.0
#: Wall seconds the VAD gets to catch up before the initial-silence verdict.
VAD_GRACE = 1.0


class Mode(str, Enum):
    INTERACTIVE = "interactive"
    CONVERSATION = "conversation"
    DICTATION = "dictation"


class RecognitionState(Enum):
    IDLE = "idle"
    CONTEXT = "context"
    LISTENING = "listening"
    DRAINING = "draining"
    CLOSED = "closed"


class RecognitionMachine(Machine[Effect]):
    """One recognition socket: its mode and query, and the turn in progress.

    ``fixed_language``: the only language the backend transcribes (ISO-639-1), if it has one;
    it is the language a turn with language identification reports.
    """

    binary_paths = frozenset({"audio"})

    def __init__(self, mode: Mode, query: dict[str, str], fixed_language: str | None = None) -> None:
        self.mode = mode
        self.state = RecognitionState.IDLE
        self.settings = SocketSettings.parse(query, fixed_language)
        self.query = self.settings.query
        self.rate, self.channels, self.bits = 16000, 1, 16
        self.turn: RecognitionTurn | None = None
        self._finished: set[str] = set()
        self.draining = False

    # -- client messages --------------------------------------------------------------------

    def receive(self, message: Message) -> list[Effect]:
        if self.closed:
            return []
        if self.draining and (self.turn is None or message.request_id != self.turn.request_id):
            return []  # shutting down: no new turn starts
        handlers = {"speech.config": self._config, "speech.context": self._context, "audio": self._audio}
        return self._dispatch(message, handlers)  # telemetry, speech.event and newer: tolerated

    def _config(self, message: Message) -> list[Effect]:
        source = audio_source(message.json(), self.rate, self.channels, self.bits)
        self.rate, self.channels, self.bits = source
        return []

    def _context(self, message: Message) -> list[Effect]:
        context = message.json()
        feature = unsupported_feature(context)
        if feature:
            return self._close(BAD_INPUT, f"{feature} is not supported by this service")
        request_id = message.request_id or ""
        if self.turn and self.turn.request_id == request_id and self.busy:
            return []  # repeated for the running turn: it changes nothing, and must not orphan its stream
        effects = self._abandon() if self.turn and self.turn.request_id != request_id else []
        asked = TurnContext.parse(context)
        if asked.mode in {m.value for m in Mode}:
            self.mode = Mode(asked.mode)
        return effects + self._begin(request_id, context)

    def _begin(self, request_id: str, context: dict[str, Any]) -> list[Effect]:
        """A new turn with the settings of ``context`` and the query; a setting the service
        cannot take (profanity, phrase list, segmentation) closes 1007 with the reason, the way
        Azure refuses a parameter (the SDK reports ``Canceled``, ``BadRequest``), before any
        ``turn.start`` or upstream session."""
        try:
            self.turn = RecognitionTurn.begin(request_id, context, self.settings)
        except BadRequest as exc:
            return self._close(BAD_INPUT, exc.message)
        self.state = RecognitionState.CONTEXT
        return []

    def _audio(self, message: Message) -> list[Effect]:
        request_id = message.request_id or ""
        if request_id in self._finished:
            return []  # audio still in flight for a turn that already ended
        if self.turn is None or self.turn.request_id != request_id:
            effects = self._abandon() + self._begin(request_id, {})
            if self.state is RecognitionState.CLOSED:
                return effects
        else:
            effects = []
        turn = self.turn
        data = message.body
        if self.state is RecognitionState.CONTEXT:
            effects += self._start(turn, data)
            if self.state is RecognitionState.CLOSED:
                return effects
            if data.startswith(b"RIFF"):
                data = data[wav_format(data)[3] :]
        if self.state is RecognitionState.DRAINING:
            return effects
        if not message.body:
            turn.end_pending = True
            return effects
        turn.end_pending = False
        data = turn.carry + data
        usable = len(data) - len(data) % (2 * turn.channels)
        turn.carry = data[usable:]
        turn.audio_bytes += usable
        return [*effects, Push(data[:usable])] if usable else effects

    def _start(self, turn: RecognitionTurn, first: bytes) -> list[Effect]:
        rate, channels, bits = self.rate, self.channels, self.bits
        if first.startswith(b"RIFF"):
            rate, channels, bits, _ = wav_format(first)
        if bits != 16:
            return self._close(BAD_INPUT, f"audio has {bits} bits per sample; send 16-bit PCM")
        check_layout(rate, channels)
        options = RecognitionOptions(
            language=None if self.query.identify else turn.language,
            keywords=turn.keywords,
            segmentation=stream_segmentation(turn.segmentation, single_shot=self.mode is Mode.INTERACTIVE),
        )
        turn.rate, turn.channels = rate, channels
        self.state = RecognitionState.LISTENING
        tag = {"context": {"serviceTag": uuid.uuid4().hex}}
        return [turn.send("turn.start", tag), Open(options, rate, channels)]

    # -- service events ---------------------------------------------------------------------

    def event(self, event: RecognitionEvent) -> list[Effect]:
        turn = self.turn
        if turn is None or not self.busy:
            return []
        if isinstance(event, SpeechStarted):
            if self._too_late(turn, event.offset):
                return [turn.silence("InitialSilenceTimeout", event.offset), *self._end_turn()]
            turn.heard_speech = turn.speaking = True
            return [turn.send("speech.startDetected", offset_body(event.offset))]
        if isinstance(event, Hypothesis):
            body = hypothesis_body(event.text, event.offset, event.duration, turn.style)
            return [turn.send("speech.hypothesis", body)] if body["Text"] else []
        if isinstance(event, SpeechStopped):
            turn.speaking = False
            if self.mode is not Mode.INTERACTIVE:
                return []  # continuous: the SDK takes speech.endDetected as the end of its audio
            return [turn.send("speech.endDetected", offset_body(event.offset))]
        if isinstance(event, Phrase):
            return self._phrase(turn, event)
        if isinstance(event, Ended):
            effects: list[Effect] = []
            if turn.phrases == 0:
                status = "NoMatch" if turn.heard_speech else "InitialSilenceTimeout"
                effects.append(turn.silence(status, turn.seconds))
            if self.mode is not Mode.INTERACTIVE or turn.phrases == 0:
                effects.append(turn.send("speech.endDetected", offset_body(turn.seconds)))
            return effects + self._end_turn()
        return []

    def _too_late(self, turn: RecognitionTurn, offset: float) -> bool:
        """Whether an interactive turn that heard no speech is past its initial silence timeout
        at ``offset`` seconds of audio (audio time: a file is sent faster than real time)."""
        limit = initial_silence(turn.segmentation, INITIAL_SILENCE)
        return self.mode is Mode.INTERACTIVE and not turn.heard_speech and offset >= limit

    def _phrase(self, turn: RecognitionTurn, phrase: Phrase) -> list[Effect]:
        turn.heard_speech = True
        turn.phrases += 1
        effects: list[Effect] = []
        if turn.speaking and self.mode is Mode.INTERACTIVE:
            turn.speaking = False
            effects.append(turn.send("speech.endDetected", offset_body(phrase.offset + phrase.duration)))
        text = phrase.text.strip()
        if not text:
            effects.append(turn.silence("NoMatch", phrase.duration, phrase.offset))
        else:
            body = recognized_body(phrase, text, turn.detailed, turn.word_times, turn.style)
            effects.append(turn.send("speech.phrase", body))
        if self.mode is Mode.INTERACTIVE:
            effects += self._end_turn()
        return effects

    # -- failures and the watchdog ----------------------------------------------------------

    def fail(self, error: SpeechError) -> list[Effect]:
        """The upstream failed: end the turn with the status whose SDK error matches."""
        turn = self.turn
        if turn is None or not self.busy:
            return []
        return [turn.send("speech.phrase", failure_body(error)), *self._end_turn()]

    def tick(self, now: float, heard_at: float) -> list[Effect]:
        """Timers, called while a turn runs: ``now`` and when the client's last frame came
        (monotonic seconds).

        An empty ``audio`` frame ends the turn's audio once :data:`END_GRACE` seconds pass with
        no more audio: the Python SDK also sends one right after the audio it replays at the
        start of a turn and then goes on streaming, so an empty frame alone is not the end.

        An interactive turn in which no speech was detected in the first
        :data:`INITIAL_SILENCE` seconds of audio (or the turn's initial silence timeout, when it
        set one) ends with ``InitialSilenceTimeout``, as Azure's does, so that
        ``recognize_once`` on a silent microphone returns. The verdict waits :data:`VAD_GRACE`
        seconds of wall time after that much audio was sent on, since a file arrives faster than
        real time and the VAD's events trail it.
        """
        turn = self.turn
        if self.state is not RecognitionState.LISTENING or turn is None:
            return []
        if turn.end_pending and now - heard_at >= END_GRACE:
            self.state = RecognitionState.DRAINING
            return [Finish()]
        if self._too_late(turn, turn.seconds):
            if turn.silent_at is None:
                turn.silent_at = now
            elif now - turn.silent_at >= VAD_GRACE:
                return [turn.silence("InitialSilenceTimeout", turn.seconds), *self._end_turn()]
        return []

    def next_tick(self, heard_at: float) -> float | None:
        """When :meth:`tick` may next have something to do (monotonic seconds; ``heard_at``: when
        the client's last frame came), or None: the socket loop sleeps until then."""
        turn = self.turn
        if self.state is not RecognitionState.LISTENING or turn is None:
            return None
        due = [heard_at + END_GRACE] if turn.end_pending else []
        if turn.silent_at is not None and not turn.heard_speech:
            due.append(turn.silent_at + VAD_GRACE)
        return min(due, default=None)

    def stalled(self) -> list[Effect]:
        """Called when neither the client nor the service made progress for the idle limit."""
        if self.state is RecognitionState.LISTENING:
            self.state = RecognitionState.DRAINING
            return [Finish()]
        if self.state is RecognitionState.DRAINING:
            return self.fail(UpstreamTimeout("the recognition did not finish in time"))
        return []

    def drain(self) -> list[Effect]:
        """The service is shutting down: end the socket as soon as its turn allows.

        Idle: close 1000 now. A turn that has not started (``speech.context`` only): close
        :data:`SHUTTING_DOWN`, since no ``turn.start`` was sent to end. Listening: finish the
        audio; the stream's last phrases, ``turn.end`` and the close follow as its events come.
        """
        if self.draining or self.state is RecognitionState.CLOSED:
            return []
        self.draining = True
        if self.state is RecognitionState.IDLE:
            return self._close(1000, SHUTDOWN_REASON)
        if self.state is RecognitionState.CONTEXT:
            return self._close(SHUTTING_DOWN, SHUTDOWN_REASON)
        if self.state is RecognitionState.LISTENING:
            self.state = RecognitionState.DRAINING
            return [Finish()]
        return []

    def expire(self, reason: str) -> list[Effect]:
        """Close 1000 when idle (the SDK reconnects for its next recognition, as after Azure's own
        idle close); with a turn begun, :data:`SHUTTING_DOWN`, which fails it instead of leaving
        it waiting."""
        if self.state is RecognitionState.CLOSED:
            return []
        return self._close(1000 if self.state is RecognitionState.IDLE else SHUTTING_DOWN, reason)

    @property
    def busy(self) -> bool:
        """True while a turn holds an upstream stream (the watchdog watches only then)."""
        return self.state in (RecognitionState.LISTENING, RecognitionState.DRAINING)

    @property
    def closed(self) -> bool:
        return self.state is RecognitionState.CLOSED

    # -- transitions ------------------------------------------------------------------------

    def _end_turn(self) -> list[Effect]:
        turn = self.turn
        assert turn is not None
        self._finished = {turn.request_id}
        self.turn = None
        self.state = RecognitionState.IDLE
        effects: list[Effect] = [turn.send("turn.end", {}), Release()]
        if self.draining:  # the turn ended properly: the socket closes as an idle one does
            effects += self._close(1000, SHUTDOWN_REASON)
        return effects

    def _abandon(self) -> list[Effect]:
        """A new turn began before the old one ended: release the old one quietly."""
        held = self.busy
        if self.turn is not None:
            self._finished = {self.turn.request_id}
        self.turn = None
        self.state = RecognitionState.IDLE
        return [Release()] if held else []

    def _close(self, code: int, reason: str) -> list[Effect]:
        held = self.busy
        self.state = RecognitionState.CLOSED
        self.turn = None
        return [*([Release()] if held else []), Close(code, close_reason(reason))]

