#!/usr/bin/env python3
"""Throughput of the audio paths, in multiples of real time per core (CPU time, not wall time).

Input paths: decode + downmix + resample to what goes upstream (PCM16 24 kHz, or G.711 as is).
Output paths: upstream PCM16 24 kHz -> resample + encode to each output format, as a stream.
Prints a Markdown table; the median of --runs runs over --seconds of a speech-like signal.

Usage: .venv/bin/python scripts/bench_audio.py [--seconds 30] [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from media import encode_file, signal  # the test suite's file maker (PyAV)

from speech_realtime.audio import (
    PCM16,
    Encoder,
    float_to_pcm16,
    input_to_wire,
    output_format,
    resample,
    ulaw_encode,
)
from speech_realtime.audio.wav import write_wav


def cpu_seconds(work: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.process_time()
        work()
        times.append(time.process_time() - started)
    return statistics.median(times)


def inputs(seconds: float) -> list[tuple[str, bytes, str | None, int | None]]:
    speech16 = signal(seconds, 16000)
    speech24 = signal(seconds, 24000)
    speech44 = signal(seconds, 44100)
    speech48 = signal(seconds, 48000)
    stereo44 = float_to_pcm16(resample(speech24, 24000, 44100).repeat(2))
    return [
        ("raw PCM16 24 kHz (as is)", float_to_pcm16(speech24), "pcm16", None),
        ("raw PCM16 16 kHz", float_to_pcm16(speech16), "pcm16", 16000),
        ("WAV 16-bit 16 kHz mono", write_wav(float_to_pcm16(speech16), 16000), None, None),
        ("WAV 16-bit 44.1 kHz stereo", write_wav(stereo44, 44100, channels=2), None, None),
        ("G.711 mu-law 8 kHz (as is)", ulaw_encode(float_to_pcm16(signal(seconds, 8000))), "g711_ulaw", None),
        ("MP3 44.1 kHz", encode_file("mp3", "libmp3lame", speech44, 44100), None, None),
        ("Ogg/Opus 48 kHz", encode_file("ogg", "libopus", speech48, 48000), None, None),
        ("Ogg/Vorbis 44.1 kHz stereo", encode_file("ogg", "vorbis", speech44, 44100, "stereo"), None, None),
        ("FLAC 16 kHz", encode_file("flac", "flac", speech16, 16000), None, None),
        ("WebM/Opus 48 kHz", encode_file("webm", "libopus", speech48, 48000), None, None),
        ("M4A/AAC 44.1 kHz", encode_file("ipod", "aac", speech44, 44100), None, None),
    ]


OUTPUTS = [
    ("pcm", 24000),
    ("pcm", 16000),
    ("wav", 24000),
    ("mulaw", 16000),
    ("alaw", 8000),
    ("mp3", 24000),
    ("opus", 48000),
    ("webm", 24000),
    ("flac", 24000),
    ("aac", 24000),
    ("g722", 16000),
]


def encode_stream(name: str, rate: int, upstream: bytes) -> bytes:
    with Encoder(output_format(name, rate), PCM16, streaming=True) as encoder:
        step = 24000  # half-second deltas, as the upstream sends them
        out = [encoder.push(upstream[i : i + step]) for i in range(0, len(upstream), step)]
        return b"".join(out) + encoder.finish()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"| path ({args.seconds:.0f} s of audio, median of {args.runs}) | x real time per core |")
    print("| --- | --- |")
    for label, data, name, rate in inputs(args.seconds):
        seconds = cpu_seconds(lambda d=data, n=name, r=rate: input_to_wire(d, n, rate=r), args.runs)
        print(f"| in: {label} -> upstream | {args.seconds / seconds:,.0f}x |")
    upstream = float_to_pcm16(signal(args.seconds, 24000))
    for name, rate in OUTPUTS:
        seconds = cpu_seconds(lambda n=name, r=rate: encode_stream(n, r, upstream), args.runs)
        print(
            f"| out: upstream PCM16 24 kHz -> {name} {rate / 1000:g} kHz | {args.seconds / seconds:,.0f}x |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
