"""Speech recognition over USP as a sans-I/O state machine.

Feed it client messages (:meth:`Recognition.receive`), the service's recognition events
(:meth:`Recognition.event`), failures (:meth:`Recognition.fail`) and watchdog ticks
(:meth:`Recognition.idle`); each returns the effects for the I/O layer to carry out, in order:
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

When the service shuts down (:meth:`Recognition.drain`), an idle socket closes at once with
1000; a listening turn's audio is finished, so what was heard is transcribed and sent, then
``turn.end``, then the socket closes 1000; a turn that cannot end in time
(:meth:`Recognition.drain_expired`) closes with :data:`SHUTTING_DOWN`. 1000, because the Python
SDK 1.53 reports a 4000 (or 1001) close of an idle recognizer's socket as a cancellation and
then fails its next recognition, while after a 1000 it reconnects for the next one; a
continuous recognition reconnects at once and, the service gone, is canceled (connection
refused).

Every turn that sent ``turn.start`` ends with ``turn.end`` (after a phrase carrying a
RecognitionStatus) or a non-1000 close. Offsets are in 100-ns ticks from the start of the turn's
audio.
"""

from __future__ import annotations

import re
import struct
import uuid
from dataclasses import dataclass
from enum import Enum
from typing import Any

from ..errors import BadRequest, RateLimited, Saturated, SpeechError, UpstreamAuth, UpstreamTimeout
from ..options import (
    Ended,
    Hypothesis,
    Phrase,
    RecognitionEvent,
    RecognitionOptions,
    SpeechStarted,
    SpeechStopped,
    spread_words,
)
from ..text import words as lexical_words
from .frames import FrameError, Message, text_frame

TICKS = 10_000_000
#: Seconds after an empty ``audio`` frame with no more audio before the turn's audio is over.
END_GRACE = 0.3
#: Seconds of audio without speech after which an interactive turn ends (Azure's default).
INITIAL_SILENCE = 5.0
#: Wall seconds the VAD gets to catch up before the initial-silence verdict.
VAD_GRACE = 1.0
BAD_INPUT = 1007
#: The close code for a turn cut short by shutdown: the SDK reports a connection failure with the
#: reason and does not retry (a 1000 mid-turn would leave it waiting).
SHUTTING_DOWN = 4000
SHUTDOWN_REASON = "the service is shutting down"

#: Keys of ``speech.context`` asking for features the service does not provide.
UNSUPPORTED_CONTEXT = {
    "translation": "translation",
    "pronunciationScore": "pronunciation assessment",
    "pronunciationAssessment": "pronunciation assessment",
    "keywordDetection": "keyword recognition",
}


class Mode(str, Enum):
    INTERACTIVE = "interactive"
    CONVERSATION = "conversation"
    DICTATION = "dictation"


class State(Enum):
    IDLE = "idle"
    CONTEXT = "context"
    LISTENING = "listening"
    DRAINING = "draining"
    CLOSED = "closed"


# -- effects ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Send:
    """Send this frame to the client (text; binary for synthesized audio)."""

    frame: str | bytes


@dataclass(frozen=True)
class Open:
    """Open an upstream recognition stream for the turn."""

    options: RecognitionOptions
    rate: int
    channels: int


@dataclass(frozen=True)
class Push:
    """Give PCM16LE audio to the open stream."""

    pcm: bytes


@dataclass(frozen=True)
class Finish:
    """No more audio for the open stream; it delivers its last phrases, then ``Ended``."""


@dataclass(frozen=True)
class Release:
    """The turn is over: close the upstream stream and free its session."""


@dataclass(frozen=True)
class Close:
    """Close the socket with this code and reason (at most 123 bytes)."""

    code: int
    reason: str


Effect = Send | Open | Push | Finish | Release | Close


def ticks(seconds: float) -> int:
    return max(0, round(seconds * TICKS))


def close_reason(message: str) -> str:
    """``message`` cut to the 123 bytes a close frame's reason may hold."""
    data = message.encode("utf-8")[:123]
    return data.decode("utf-8", errors="ignore")


def recognition_status(error: SpeechError) -> str:
    """The RecognitionStatus whose SDK error matches ``error`` (none of them is retried)."""
    if isinstance(error, (RateLimited, Saturated)):
        return "TooManyRequests"
    if isinstance(error, UpstreamAuth):
        return "Forbidden"
    if 400 <= error.status < 500 and error.status != 408:
        return "BadRequest"
    return "Error"


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


_ITN_DROP = re.compile(r"[^\w\s'.:%$-]|(?<!\d)[.:](?!\d)|(?<!\w)-|-(?!\w)")


def nbest(text: str, offset: float, duration: float, words: tuple[Any, ...] | None) -> dict[str, Any]:
    """One NBest entry: Lexical (words, numbers spelled out), ITN and MaskedITN (lower case,
    digits kept, no punctuation; nothing is masked), Display (as transcribed).

    Confidence is 0.0: the Realtime API reports no confidence, so none is invented.
    """
    itn = " ".join(_ITN_DROP.sub(" ", text.lower()).split())
    entry: dict[str, Any] = {
        "Confidence": 0.0,
        "Lexical": " ".join(lexical_words(text)),
        "ITN": itn,
        "MaskedITN": itn,
        "Display": text,
    }
    if words is not None:
        entry["Words"] = [
            {"Word": word.text, "Offset": ticks(word.start), "Duration": ticks(word.end - word.start)}
            for word in words
        ]
    return entry


def wav_format(data: bytes) -> tuple[int, int, int, int]:
    """``(rate, channels, bits, header_length)`` of a WAV header at the start of ``data``."""
    if len(data) < 12 or data[8:12] != b"WAVE":
        raise FrameError("audio starts with RIFF but is not WAVE")
    position = 12
    fmt: tuple[int, int, int] | None = None
    while position + 8 <= len(data):
        chunk, size = data[position : position + 4], struct.unpack("<I", data[position + 4 : position + 8])[0]
        body = position + 8
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


@dataclass
class _Turn:
    request_id: str
    language: str | None
    detailed: bool
    word_times: bool
    rate: int = 16000
    channels: int = 1
    audio_bytes: int = 0
    carry: bytes = b""
    phrases: int = 0
    heard_speech: bool = False
    speaking: bool = False
    end_pending: bool = False
    silent_at: float | None = None

    @property
    def seconds(self) -> float:
        return self.audio_bytes / (2 * self.channels * self.rate)


class Recognition:
    """One recognition socket: its mode and query, and the turn in progress."""

    def __init__(self, mode: Mode, query: dict[str, str]) -> None:
        self.mode = mode
        self.state = State.IDLE
        self.language = query.get("language") or None
        self.detailed = query.get("format", "").lower() == "detailed"
        self.word_times = query.get("wordLevelTimestamps", "").lower() == "true"
        self.identify = bool(query.get("lidEnabled"))
        self.rate, self.channels, self.bits = 16000, 1, 16
        self.turn: _Turn | None = None
        self._finished: set[str] = set()
        self.draining = False

    # -- client messages --------------------------------------------------------------------

    def receive(self, message: Message) -> list[Effect]:
        if self.state is State.CLOSED:
            return []
        path = message.path.lower()
        if self.draining and (self.turn is None or message.request_id != self.turn.request_id):
            return []  # shutting down: no new turn starts
        try:
            if path == "speech.config":
                return self._config(message)
            if path == "speech.context":
                return self._context(message)
            if path == "audio":
                return self._audio(message)
        except (FrameError, BadRequest) as exc:
            return self._close(BAD_INPUT, str(exc))
        return []  # telemetry, speech.event and anything newer: tolerated

    def _config(self, message: Message) -> list[Effect]:
        source = message.json().get("context", {}).get("audio", {}).get("source", {})
        if isinstance(source, dict):
            self.rate = _positive(source.get("samplerate"), self.rate)
            self.channels = _positive(source.get("channelcount"), self.channels)
            self.bits = _positive(source.get("bitspersample"), self.bits)
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
        detection = context.get("phraseDetection") or {}
        output = context.get("phraseOutput") or {}
        language = detection.get("language") if isinstance(detection, dict) else None
        if isinstance(detection, dict) and isinstance(detection.get("mode"), str):
            mode = detection["mode"].lower()
            if mode in {m.value for m in Mode}:
                self.mode = Mode(mode)
        detailed = self.detailed or (
            isinstance(output, dict) and str(output.get("format", "")).lower() == "detailed"
        )
        self.turn = _Turn(request_id, language or self.language, detailed, self.word_times)
        self.state = State.CONTEXT
        return effects

    def _audio(self, message: Message) -> list[Effect]:
        request_id = message.request_id or ""
        if request_id in self._finished:
            return []  # audio still in flight for a turn that already ended
        if self.turn is None or self.turn.request_id != request_id:
            effects = self._abandon()
            self.turn = _Turn(request_id, self.language, self.detailed, self.word_times)
            self.state = State.CONTEXT
        else:
            effects = []
        turn = self.turn
        data = message.body
        if self.state is State.CONTEXT:
            effects += self._start(turn, data)
            if self.state is State.CLOSED:
                return effects
            if data.startswith(b"RIFF"):
                data = data[wav_format(data)[3] :]
        if self.state is State.DRAINING:
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

    def _start(self, turn: _Turn, first: bytes) -> list[Effect]:
        rate, channels, bits = self.rate, self.channels, self.bits
        if first.startswith(b"RIFF"):
            rate, channels, bits, _ = wav_format(first)
        if bits != 16:
            return self._close(BAD_INPUT, f"audio has {bits} bits per sample; send 16-bit PCM")
        options = RecognitionOptions(language=None if self.identify else turn.language)
        turn.rate, turn.channels = rate, channels
        self.state = State.LISTENING
        tag = {"context": {"serviceTag": uuid.uuid4().hex}}
        return [Send(text_frame("turn.start", turn.request_id, tag)), Open(options, rate, channels)]

    # -- service events ---------------------------------------------------------------------

    def event(self, event: RecognitionEvent) -> list[Effect]:
        turn = self.turn
        if turn is None or self.state not in (State.LISTENING, State.DRAINING):
            return []
        rid = turn.request_id
        if isinstance(event, SpeechStarted):
            turn.heard_speech = turn.speaking = True
            return [Send(text_frame("speech.startDetected", rid, {"Offset": ticks(event.offset)}))]
        if isinstance(event, Hypothesis):
            if not event.text:
                return []
            body = {"Text": event.text, "Offset": ticks(event.offset), "Duration": ticks(event.duration)}
            return [Send(text_frame("speech.hypothesis", rid, body))]
        if isinstance(event, SpeechStopped):
            turn.speaking = False
            return [Send(text_frame("speech.endDetected", rid, {"Offset": ticks(event.offset)}))]
        if isinstance(event, Phrase):
            return self._phrase(turn, event)
        if isinstance(event, Ended):
            effects: list[Effect] = []
            if turn.phrases == 0:
                status = "NoMatch" if turn.heard_speech else "InitialSilenceTimeout"
                effects.append(Send(self._silence(turn, status, turn.seconds)))
            if self.mode is not Mode.INTERACTIVE or turn.phrases == 0:
                effects.append(Send(text_frame("speech.endDetected", rid, {"Offset": ticks(turn.seconds)})))
            return effects + self._end_turn()
        return []

    def _phrase(self, turn: _Turn, phrase: Phrase) -> list[Effect]:
        turn.heard_speech = True
        turn.phrases += 1
        effects: list[Effect] = []
        end = phrase.offset + phrase.duration
        if turn.speaking and self.mode is Mode.INTERACTIVE:
            turn.speaking = False
            effects.append(Send(text_frame("speech.endDetected", turn.request_id, {"Offset": ticks(end)})))
        text = phrase.text.strip()
        if not text:
            effects.append(Send(self._silence(turn, "NoMatch", phrase.duration, phrase.offset)))
        else:
            body: dict[str, Any] = {
                "RecognitionStatus": "Success",
                "DisplayText": text,
                "Offset": ticks(phrase.offset),
                "Duration": ticks(phrase.duration),
                "Channel": 0,
            }
            if turn.detailed:
                words = None
                if turn.word_times:
                    words = phrase.words or spread_words(text, phrase.offset, end)
                body["NBest"] = [nbest(text, phrase.offset, phrase.duration, words)]
            effects.append(Send(text_frame("speech.phrase", turn.request_id, body)))
        if self.mode is Mode.INTERACTIVE:
            effects += self._end_turn()
        return effects

    def _silence(self, turn: _Turn, status: str, duration: float, offset: float = 0.0) -> str:
        body = {
            "RecognitionStatus": status,
            "Offset": ticks(offset),
            "Duration": ticks(duration),
            "Channel": 0,
        }
        return text_frame("speech.phrase", turn.request_id, body)

    # -- failures and the watchdog ----------------------------------------------------------

    def fail(self, error: SpeechError) -> list[Effect]:
        """The upstream failed: end the turn with the status whose SDK error matches."""
        turn = self.turn
        if turn is None or self.state not in (State.LISTENING, State.DRAINING):
            return []
        body = {
            "RecognitionStatus": recognition_status(error),
            "Offset": 0,
            "Duration": 0,
            "Channel": 0,
            "Message": error.message,
        }
        return [Send(text_frame("speech.phrase", turn.request_id, body)), *self._end_turn()]

    def tick(self, now: float, heard_at: float) -> list[Effect]:
        """Timers, called while a turn runs: ``now`` and when the client's last frame came
        (monotonic seconds).

        An empty ``audio`` frame ends the turn's audio once :data:`END_GRACE` seconds pass with
        no more audio: the Python SDK also sends one right after the audio it replays at the
        start of a turn and then goes on streaming, so an empty frame alone is not the end.

        An interactive turn in which no speech was detected in the first
        :data:`INITIAL_SILENCE` seconds of audio ends with ``InitialSilenceTimeout``, as Azure's
        does, so that ``recognize_once`` on a silent microphone returns. The verdict waits
        :data:`VAD_GRACE` seconds of wall time after that much audio was sent on, since a file
        arrives faster than real time and the VAD's events trail it.
        """
        turn = self.turn
        if self.state is not State.LISTENING or turn is None:
            return []
        if turn.end_pending and now - heard_at >= END_GRACE:
            self.state = State.DRAINING
            return [Finish()]
        if self.mode is Mode.INTERACTIVE and not turn.heard_speech and turn.seconds >= INITIAL_SILENCE:
            if turn.silent_at is None:
                turn.silent_at = now
            elif now - turn.silent_at >= VAD_GRACE:
                return [Send(self._silence(turn, "InitialSilenceTimeout", turn.seconds)), *self._end_turn()]
        return []

    def idle(self) -> list[Effect]:
        """Called when neither the client nor the service made progress for the idle limit."""
        if self.state is State.LISTENING:
            self.state = State.DRAINING
            return [Finish()]
        if self.state is State.DRAINING:
            return self.fail(UpstreamTimeout("the recognition did not finish in time"))
        return []

    def drain(self) -> list[Effect]:
        """The service is shutting down: end the socket as soon as its turn allows.

        Idle: close 1000 now. A turn that has not started (``speech.context`` only): close
        :data:`SHUTTING_DOWN`, since no ``turn.start`` was sent to end. Listening: finish the
        audio; the stream's last phrases, ``turn.end`` and the close follow as its events come.
        """
        if self.draining or self.state is State.CLOSED:
            return []
        self.draining = True
        if self.state is State.IDLE:
            return self._close(1000, SHUTDOWN_REASON)
        if self.state is State.CONTEXT:
            return self._close(SHUTTING_DOWN, SHUTDOWN_REASON)
        if self.state is State.LISTENING:
            self.state = State.DRAINING
            return [Finish()]
        return []

    def drain_expired(self) -> list[Effect]:
        """The shutdown's time for this socket is up: close :data:`SHUTTING_DOWN` (no retry)."""
        if self.state is State.CLOSED:
            return []
        return self._close(SHUTTING_DOWN, SHUTDOWN_REASON)

    @property
    def busy(self) -> bool:
        """True while a turn holds an upstream stream (the watchdog watches only then)."""
        return self.state in (State.LISTENING, State.DRAINING)

    def refuse(self, reason: str) -> list[Effect]:
        """A frame the protocol does not allow: close 1007 with ``reason``."""
        return self._close(BAD_INPUT, reason)

    # -- transitions ------------------------------------------------------------------------

    def _end_turn(self) -> list[Effect]:
        turn = self.turn
        assert turn is not None
        self._finished = {turn.request_id}
        self.turn = None
        self.state = State.IDLE
        effects: list[Effect] = [Send(text_frame("turn.end", turn.request_id, {})), Release()]
        if self.draining:  # the turn ended properly: the socket closes as an idle one does
            effects += self._close(1000, SHUTDOWN_REASON)
        return effects

    def _abandon(self) -> list[Effect]:
        """A new turn began before the old one ended: release the old one quietly."""
        held = self.state in (State.LISTENING, State.DRAINING)
        if self.turn is not None:
            self._finished = {self.turn.request_id}
        self.turn = None
        self.state = State.IDLE
        return [Release()] if held else []

    def _close(self, code: int, reason: str) -> list[Effect]:
        held = self.state in (State.LISTENING, State.DRAINING)
        self.state = State.CLOSED
        self.turn = None
        return [*([Release()] if held else []), Close(code, close_reason(reason))]


def _positive(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else default
