#!/usr/bin/env python3
"""How the engine's voice sounds where its audio is joined: chunk joins and the clause join.

The first sentence of a text is voiced clause first, each piece in chunks (see
``speech_realtime/engine/piper_stream.py`` and ``voicing.py``). This renders a forty-word
sentence both ways with the voice's noise turned off (so both are repeatable and differ only by
how they are made) and prints, as Markdown:

- the chunk joins: the largest difference between the chunked decode and one whole decode, and
  the level (RMS over 10 ms) on each side of every chunk join against the level inside;
- the clause join: the pause at the comma, the clause's length, its level and pitch over its
  last 300 ms, in the whole sentence and voiced clause first (a clause voiced alone could end in
  a sentence's fall: lower pitch, longer last syllable).

``--png PATH`` also writes a spectrogram of the first seconds, whole sentence above and clause
first below, the join marked (numpy and zlib only: no plotting package is installed).

Usage: .venv/bin/python scripts/join_quality.py [--png docs/join-spectrogram.png]
"""

from __future__ import annotations

import argparse
import struct
import sys
import zlib
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_first_byte import SENTENCE

from speech_realtime.engine.models import Models, whole_voice
from speech_realtime.engine.piper_stream import chunk_bounds, soft_limit
from speech_realtime.engine.sentences import first_clause
from speech_realtime.engine.voicing import SILENCE_LEVEL, join_clauses

FRAME = 0.01


def rms(audio: np.ndarray, rate: int, at: int, seconds: float) -> float:
    """Level (dBFS) of ``seconds`` of ``audio`` from sample ``at``, backwards when negative."""
    width = int(seconds * rate)
    part = audio[max(0, at + width) : at] if width < 0 else audio[at : at + width]
    return float(20 * np.log10(np.sqrt(np.mean(part.astype(np.float64) ** 2)) + 1e-9))


def pitch(audio: np.ndarray, rate: int) -> float:
    """Median F0 (Hz) of the voiced 40 ms frames of ``audio`` (autocorrelation, 70 to 300 Hz)."""
    size, found = int(0.04 * rate), []
    for start in range(0, len(audio) - size, size // 2):
        frame = audio[start : start + size] - np.mean(audio[start : start + size])
        corr = np.correlate(frame, frame, "full")[size - 1 :]
        if corr[0] <= 1e-6:
            continue
        low, high = int(rate / 300), int(rate / 70)
        lag = low + int(np.argmax(corr[low:high]))
        if corr[lag] / corr[0] > 0.5:
            found.append(rate / lag)
    return float(np.median(found)) if found else float("nan")


def speech_runs(audio: np.ndarray, rate: int, pause: float = 0.15) -> list[tuple[int, int]]:
    """Runs of sound, bridging silences shorter than ``pause`` seconds."""
    loud = np.flatnonzero(np.abs(audio) > SILENCE_LEVEL)
    runs: list[tuple[int, int]] = []
    for index in loud:
        if runs and index - runs[-1][1] < pause * rate:
            runs[-1] = (runs[-1][0], int(index) + 1)
        else:
            runs.append((int(index), int(index) + 1))
    return runs


def clause_measures(audio: np.ndarray, rate: int) -> dict[str, float]:
    """The first clause of ``audio``: its length, the pause after it, its last 300 ms."""
    first, second = speech_runs(audio, rate)[:2]
    tail = audio[first[1] - int(0.5 * rate) : first[1] - int(0.1 * rate)]  # the last vowels
    return {
        "first clause (s)": (first[1] - first[0]) / rate,
        "pause at the comma (s)": (second[0] - first[1]) / rate,
        "last 300 ms: level (dBFS)": rms(audio, rate, first[1], -0.3),
        "pitch 0.5 to 0.1 s before its end (Hz)": pitch(tail, rate),
        "pitch over the next clause's first 0.4 s (Hz)": pitch(
            audio[second[0] : second[0] + int(0.4 * rate)], rate
        ),
    }


def png(path: Path, panels: list[np.ndarray], marks: list[int | None], rate: int) -> None:
    """A grey spectrogram per panel (0 to 8 kHz, 80 dB range), stacked, a join marked in white."""
    rows = []
    for audio, mark in zip(panels, marks, strict=True):
        size, hop = 512, 128
        frames = np.lib.stride_tricks.sliding_window_view(audio, size)[::hop] * np.hanning(size)
        spectrum = 20 * np.log10(np.abs(np.fft.rfft(frames, axis=1)) + 1e-9).T[::-1]
        spectrum = spectrum[-int(8000 / (rate / size)) :]
        top = spectrum.max()
        image = (np.clip((spectrum - top + 80) / 80, 0, 1) * 255).astype(np.uint8)
        image = 255 - image
        if mark is not None:
            image[:, mark // hop] = 0
        rows.append(image)
        rows.append(np.full((6, image.shape[1]), 128, dtype=np.uint8))
    width = min(row.shape[1] for row in rows)
    picture = np.vstack([row[:, :width] for row in rows])
    raw = b"".join(b"\x00" + line.tobytes() for line in picture)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", picture.shape[1], picture.shape[0], 8, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--png", type=Path, help="write a spectrogram here")
    args = parser.parse_args()
    models = Models()
    voice, stream = models.voice, models.stream
    rate = int(voice.config.sample_rate)
    quiet = (0.0, float(voice.config.length_scale), 0.0)

    def render(ids: list[int]) -> list[np.ndarray]:
        return list(stream.chunks(ids, quiet))

    ids = voice.phonemes_to_ids(voice.phonemize(SENTENCE)[0])
    chunks = render(ids)
    chunked = np.concatenate(chunks)
    from piper import SynthesisConfig

    plain = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0, normalize_audio=False)
    whole = soft_limit(np.asarray(whole_voice().phoneme_ids_to_audio(ids, plain), dtype=np.float32))
    joins = np.cumsum([len(c) for c in chunks])[:-1]
    print(f"{len(SENTENCE.split())} words: {SENTENCE}\n")
    difference = np.abs(chunked - whole).max()
    count = len(chunk_bounds(len(whole) // int(voice.config.hop_length)))
    print(
        f"{count} chunks for {len(whole) / rate:.1f} s; largest difference from one decode {difference:.1e}\n"
    )
    print("| chunk join at | 10 ms before / after, chunked | the same in one whole decode |")
    print("| --- | --- | --- |")
    for join in joins:
        sides = [
            f"{rms(audio, rate, int(join), side):.1f}" for audio in (chunked, whole) for side in (-0.01, 0.01)
        ]
        print(f"| {join / rate:.2f} s | {sides[0]} / {sides[1]} dBFS | {sides[2]} / {sides[3]} dBFS |")
    clauses = first_clause(SENTENCE)
    voiced = [(clause, [voice.phonemes_to_ids(p) for p in voice.phonemize(clause)]) for clause in clauses]
    first = np.concatenate([audio for _, audio in join_clauses(voiced, render, rate)])
    print(f'\nThe clause join ("{clauses[0]}" / "{clauses[1][:30]}..."), noise off:\n')
    print("| measure | whole sentence | clause first |\n| --- | --- | --- |")
    a, b = clause_measures(whole, rate), clause_measures(first, rate)
    for name in a:
        print(f"| {name} | {a[name]:.2f} | {b[name]:.2f} |")
    if args.png:
        seconds = int(6 * rate)
        join = speech_runs(first, rate)[0][1]
        png(args.png, [whole[:seconds], first[:seconds]], [speech_runs(whole, rate)[0][1], join], rate)
        print(f"\nspectrogram: {args.png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
