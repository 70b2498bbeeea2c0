#!/usr/bin/env python3
"""Peak memory of input decoding per request: RSS high-water of a process decoding N uploads at once.

Each case runs in a fresh process (so its high-water mark is its own): the bodies are loaded,
the audio modules imported and warmed up on a short file, the resident set measured
(baseline), then N threads (a worker's concurrent requests) each convert one body with
``input_to_wire`` at the same time. Reported: the baseline, the high-water mark (``VmHWM``) and
(high-water - baseline) / N, the memory one request adds on top of its body: working buffers
plus the wire audio it returns (PCM16 24 kHz, 28.8 MB for 600 s). Linux only (reads /proc).

Usage: .venv/bin/python scripts/bench_memory.py [--concurrency 8]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import numpy as np
from media import encode_file, signal  # the test suite's file maker (PyAV)

from speech_realtime.audio import float_to_pcm16, input_to_wire, resample
from speech_realtime.audio.wav import write_wav


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def _reset_high_water() -> None:
    """Reset VmHWM to the current RSS (Linux 4.0+: write 5 to clear_refs)."""
    Path("/proc/self/clear_refs").write_text("5")


def cases(seconds_long: int) -> list[tuple[str, str, bytes, str | None, int | None]]:
    """(name, file suffix, body, label, rate) of each case."""
    speech48 = signal(60.0, 48000)
    long48 = np.tile(speech48, seconds_long // 60)
    speech44 = resample(speech48, 48000, 44100)
    stereo = float_to_pcm16(np.repeat(speech48, 2))
    return [
        (
            f"FLAC 48 kHz, {seconds_long} s of silence",
            "flac",
            encode_file("flac", "flac", np.zeros(seconds_long * 48000, np.float32), 48000),
            None,
            None,
        ),
        (
            f"FLAC 48 kHz, {seconds_long} s of signal",
            "flac",
            encode_file("flac", "flac", long48, 48000),
            None,
            None,
        ),
        ("WAV 16-bit 48 kHz stereo, 60 s", "wav", write_wav(stereo, 48000, channels=2), None, None),
        (
            "MP3 44.1 kHz, 300 s",
            "mp3",
            encode_file("mp3", "libmp3lame", np.tile(speech44, 5), 44100),
            None,
            None,
        ),
        (
            "Ogg/Opus 48 kHz, 300 s",
            "ogg",
            encode_file("ogg", "libopus", np.tile(speech48, 5), 48000),
            None,
            None,
        ),
        (
            "raw PCM16 16 kHz, 300 s",
            "raw",
            float_to_pcm16(np.tile(resample(speech48, 48000, 16000), 5)),
            "pcm16",
            16000,
        ),
        (
            "raw PCM16 24 kHz, 300 s (as is)",
            "raw",
            float_to_pcm16(np.tile(resample(speech48, 48000, 24000), 5)),
            "pcm16",
            None,
        ),
    ]


def child(path: str, label: str | None, rate: int | None, concurrency: int) -> dict[str, float]:
    bodies = [Path(path).read_bytes() for _ in range(concurrency)]
    input_to_wire(encode_file("flac", "flac", signal(1.0, 48000), 48000))  # warm up codecs and soxr
    baseline = _status_kib("VmRSS")
    _reset_high_water()
    start = threading.Barrier(concurrency)
    results: list[float] = []

    def request(body: bytes) -> None:
        start.wait()
        results.append(input_to_wire(body, label, rate=rate).duration)

    threads = [threading.Thread(target=request, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    peak = _status_kib("VmHWM")
    assert len(results) == concurrency, "a request failed"
    return {
        "body_kb": len(bodies[0]) / 1000,
        "seconds": results[0],
        "baseline_mb": baseline / 1024,
        "peak_mb": peak / 1024,
        "per_request_mb": (peak - baseline) / 1024 / concurrency,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=600, help="length of the long FLAC cases")
    parser.add_argument("--child", nargs=3, metavar=("PATH", "LABEL", "RATE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        path, label, rate = args.child
        print(json.dumps(child(path, label or None, int(rate) or None, args.concurrency)))
        return 0
    print(
        f"| input ({args.concurrency} concurrent requests) | body | baseline RSS | peak RSS | per request |"
    )
    print("| --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as directory:
        for name, suffix, body, label, rate in cases(args.seconds):
            path = Path(directory) / f"body.{suffix}"
            path.write_bytes(body)
            command = [sys.executable, __file__, "--concurrency", str(args.concurrency)]
            command += ["--child", str(path), label or "", str(rate or 0)]
            out = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
            print(
                f"| {name} | {out['body_kb']:,.0f} KB | {out['baseline_mb']:.0f} MB | "
                f"{out['peak_mb']:.0f} MB | {out['per_request_mb']:.1f} MB |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
