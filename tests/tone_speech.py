"""Stand-in recordings for the phrase path: each 'phrase' a tone of its own pitch, pauses between.

The scripted upstream 'transcribes' an item by naming the pitch of each tone in it
(:func:`transcribe_tones`), so a test knows exactly which phrase each word came from and where
that phrase lies in the upload: dropped, repeated or reordered speech shows in the text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from realtime_server import ItemReply

from speech_realtime.audio import float_to_pcm16, pcm16_to_float

RATE = 24000
NOISE = 0.002
#: Lowest pitch and the step between phrases' pitches (Hz).
BASE_HZ, STEP_HZ = 300, 25


@dataclass(frozen=True)
class TonePhrase:
    word: str
    start: float
    end: float


def tone_recording(
    layout: Sequence[tuple[float, float]], *, lead: float = 0.5, level: float = 0.3, seed: int = 0
) -> tuple[bytes, list[TonePhrase]]:
    """PCM16 24 kHz: ``lead`` s of quiet, then for each (seconds, pause) a tone and a pause, over
    a faint noise floor; and where each tone lies."""
    rng = np.random.default_rng(seed)
    parts = [np.zeros(round(lead * RATE))]
    phrases = []
    position = lead
    for index, (seconds, pause) in enumerate(layout):
        pitch = BASE_HZ + STEP_HZ * (index % 120)
        t = np.arange(round(seconds * RATE)) / RATE
        parts.append(level * np.sin(2 * np.pi * pitch * t))
        parts.append(np.zeros(round(pause * RATE)))
        phrases.append(TonePhrase(f"w{index % 120}.", position, position + seconds))
        position += seconds + pause
    audio = np.concatenate(parts)
    audio += rng.normal(0, NOISE, len(audio))
    return float_to_pcm16(audio), phrases


def transcribe_tones(audio: bytes) -> str:
    """The words of the tones in ``audio``: each loud run named by its pitch (``w<index>.``, a
    sentence of its own, as a transcription model marks a pause)."""
    samples = pcm16_to_float(audio)
    frame = RATE // 50
    frames = samples[: len(samples) - len(samples) % frame].reshape(-1, frame)
    loud = np.sqrt(np.mean(frames**2, axis=1)) > 0.05
    edges = np.flatnonzero(np.diff(np.concatenate(([0], loud.astype(np.int8), [0]))))
    words = []
    for start, end in zip(edges[::2], edges[1::2], strict=True):
        run = samples[start * frame : end * frame]
        spectrum = np.abs(np.fft.rfft(run * np.hanning(len(run))))
        pitch = np.argmax(spectrum) * RATE / len(run)
        words.append(f"w{round((pitch - BASE_HZ) / STEP_HZ)}.")
    return " ".join(words)


def tone_items(index: int, audio: bytes) -> ItemReply:
    """A scripted upstream's answer for every item: the words of its tones."""
    return ItemReply(transcribe_tones(audio))
