"""The input audio buffer and turn detection (server VAD, semantic VAD), linear in the audio.

The buffer keeps audio at the ASR rate on a session timeline (samples since the session's first
append), so ``audio_start_ms`` and ``audio_end_ms`` count from the start of the session's audio
as on the real service. The detector looks at each 32 ms frame exactly once, as it arrives, and
while no one speaks the buffer keeps only the prefix padding: leading silence is dropped, so
neither time nor memory grows with how long a client streams.

Semantic VAD ends a turn at a pause only where what was said so far is complete: at the short
pause of its eagerness if the turn's audio so far, transcribed, ends a sentence (``.``, ``?``,
``!``), else at the long pause whatever was said (:data:`~.state.SEMANTIC_PAUSES`). The
transcription is made once per pause, when the short pause is reached.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..audio import PCM16, StreamResampler, WireFormat, decode_wire
from .models import ASR_RATE, VAD_FRAME, VoiceActivity
from .state import SEMANTIC_PAUSES, TurnDetection

#: A transcript that ends a sentence: final ``.``, ``?`` or ``!`` (closing quotes or brackets
#: may follow), but not an ellipsis, which marks speech trailing off.
_SENTENCE_END = re.compile(r"(?<!\.\.)[.?!][\"')\]»”’]*$")

_EMPTY = np.zeros(0, dtype=np.float32)


def to_ms(samples: int) -> int:
    """A timeline position in milliseconds."""
    return samples * 1000 // ASR_RATE


class InputBuffer:
    """The input audio buffer at :data:`ASR_RATE`, on the session's timeline."""

    def __init__(self) -> None:
        self._format: WireFormat = PCM16
        self._resampler = StreamResampler(PCM16.sample_rate, ASR_RATE)
        self._pieces: list[np.ndarray] = []
        #: Timeline position of the first buffered sample, and of the end of the buffer.
        self.start = self.end = 0
        #: Seconds of wire audio appended since the last commit or clear (the 100 ms rule).
        self.received_seconds = 0.0

    def append(self, data: bytes, fmt: WireFormat) -> None:
        """Add wire audio in ``fmt`` (a change of format flushes the resampler first)."""
        tail = _EMPTY
        if fmt is not self._format:
            tail = self._resampler.push(_EMPTY, last=True)
            self._format, self._resampler = fmt, StreamResampler(fmt.sample_rate, ASR_RATE)
        new = np.concatenate([tail, self._resampler.push(decode_wire(data, fmt))])
        self.received_seconds += fmt.duration(data)
        self._add(new)

    def _add(self, samples: np.ndarray) -> None:
        if len(samples):
            self._pieces.append(samples)
            self.end += len(samples)

    @property
    def seconds(self) -> float:
        """Seconds of audio buffered now."""
        return (self.end - self.start) / ASR_RATE

    def between(self, start: int, end: int) -> np.ndarray:
        """The samples from timeline ``start`` to ``end``, joining only the pieces they lie in.

        The detector reads the newest frames on every append; joining the whole buffer for that
        would copy a long utterance again on each append (quadratic in its length).
        """
        parts: list[np.ndarray] = []
        position = self.end
        for piece in reversed(self._pieces):
            if position <= start:
                break
            first = position - len(piece)
            if first < end:
                parts.append(piece[max(start - first, 0) : min(end, position) - first])
            position = first
        return np.concatenate(parts[::-1]) if parts else _EMPTY

    def samples(self) -> np.ndarray:
        if len(self._pieces) > 1:
            self._pieces = [np.concatenate(self._pieces)]
        return self._pieces[0] if self._pieces else _EMPTY

    def take(self) -> np.ndarray:
        """Everything buffered, the resampler's tail included, leaving the buffer empty."""
        self._add(self._resampler.push(_EMPTY, last=True))
        self._resampler = StreamResampler(self._format.sample_rate, ASR_RATE)
        return self.take_until(self.end)

    def take_until(self, position: int) -> np.ndarray:
        """The samples before timeline ``position``; later ones stay buffered."""
        samples = self.samples()
        cut = max(0, min(position, self.end) - self.start)
        taken, rest = samples[:cut], samples[cut:]
        self._pieces = [rest] if len(rest) else []
        self.start += cut
        self.received_seconds = len(rest) / ASR_RATE
        return taken

    def drop_before(self, position: int) -> None:
        """Forget the samples before timeline ``position`` (leading silence)."""
        if position > self.start:
            self.take_until(position)

    def clear(self) -> None:
        self.take()


@dataclass(frozen=True)
class SpeechStarted:
    audio_start_ms: int


@dataclass(frozen=True)
class SpeechStopped:
    """The end of a turn; ``samples`` is the turn's audio, taken out of the buffer."""

    audio_end_ms: int
    samples: np.ndarray


#: Words after which a clause is still open, whatever punctuation the recognizer put after them
#: (Whisper ends a fragment such as "I think that we should" with a period): articles,
#: conjunctions, prepositions, possessives, modal and auxiliary verbs.
_OPEN_WORDS = frozenset(
    "a an the and or but nor so because if when while although though than that which who whose "
    "whom where of to in on at by for with from into onto about as like my your his her its our "
    "their this these those is are was were am be been being has have had do does did can could "
    "will would shall should may might must not very".split()
)


def ends_sentence(transcript: str) -> bool:
    """Whether ``transcript`` ends a sentence: final punctuation (see :data:`_SENTENCE_END`) after
    a word that does not leave the clause open (:data:`_OPEN_WORDS`)."""
    text = transcript.strip()
    if not _SENTENCE_END.search(text):
        return False
    words = re.findall(r"[\w']+", text.lower())
    return bool(words) and words[-1] not in _OPEN_WORDS


class TurnDetector:
    """Turn detection: speech starts at a frame over the threshold and stops after enough silence.

    Server VAD: ``silence_duration_ms`` of silence. Semantic VAD: the short pause of its
    eagerness when ``complete`` (given the turn's audio so far) says it ends a sentence, else
    the long pause. ``complete`` is asked at most once per pause.
    """

    def __init__(
        self,
        settings: TurnDetection,
        vad: VoiceActivity,
        complete: Callable[[np.ndarray], bool] | None = None,
    ) -> None:
        self.settings = settings
        self._vad = vad
        self._position = 0  # timeline position of the next frame to examine
        self._speaking = False
        self._silent_since: int | None = None
        self._padding = settings.prefix_padding_ms * ASR_RATE // 1000
        self._silence = settings.silence_duration_ms * ASR_RATE // 1000
        self._release = max(settings.threshold - 0.15, 0.01)
        self._complete = complete if settings.semantic else None
        self._pause_judged = False  # the semantic check of the current pause is done
        if self._complete is not None:
            short, long = SEMANTIC_PAUSES[settings.eagerness]
            self._short, self._silence = short * ASR_RATE // 1000, long * ASR_RATE // 1000

    @property
    def speaking(self) -> bool:
        return self._speaking

    def reset(self, position: int) -> None:
        """Start over at timeline ``position`` (after a manual commit or a clear)."""
        self._position, self._speaking, self._silent_since = position, False, None
        self._pause_judged = False

    def push(self, buffer: InputBuffer) -> list[SpeechStarted | SpeechStopped]:
        """Examine the frames that arrived since the last call."""
        self._position = max(self._position, buffer.start)
        count = (buffer.end - self._position) // VAD_FRAME
        if count <= 0:
            return []
        frames = buffer.between(self._position, self._position + count * VAD_FRAME).reshape(count, VAD_FRAME)
        found: list[SpeechStarted | SpeechStopped] = []
        for probability in self._vad.push(frames):
            start, end = self._position, self._position + VAD_FRAME
            self._position = end
            if not self._speaking:
                if probability >= self.settings.threshold:
                    self._speaking, self._silent_since = True, None
                    begin = max(buffer.start, start - self._padding)
                    buffer.drop_before(begin)
                    found.append(SpeechStarted(to_ms(begin)))
            elif probability >= self._release:
                self._silent_since, self._pause_judged = None, False
            else:
                self._silent_since = start if self._silent_since is None else self._silent_since
                if end - self._silent_since >= self._silence or self._sentence_ended(buffer, end):
                    self._speaking, self._pause_judged = False, False
                    found.append(SpeechStopped(to_ms(end), buffer.take_until(end)))
        if not self._speaking:
            buffer.drop_before(self._position - self._padding)
        return found

    def _sentence_ended(self, buffer: InputBuffer, end: int) -> bool:
        """Semantic VAD: at the short pause, whether the turn so far ends a sentence (asked once)."""
        if self._complete is None or self._pause_judged or self._silent_since is None:
            return False
        if end - self._silent_since < self._short:
            return False
        self._pause_judged = True
        return self._complete(buffer.between(buffer.start, end))
