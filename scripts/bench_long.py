#!/usr/bin/env python3
"""Long uploads and long readings through the HTTP service on the offline engine.

Measures, with the service's default deadlines (SPEECH_REQUEST_TIMEOUT 30 s, receive 15 s):
recognition of three passages joined with 2 s pauses (about 80 s, like the issue's 68 s case),
the same passages in full (about 150 s), and a 600 s upload (the full recording four times over, padded
with quiet), each as wall time and word error rate against the text read; and a 4,096-character
reading at speed 0.25 on /v1/audio/speech (wall time, seconds of audio). The speech is the
engine's own Piper voice reading public-domain openings (tests/long_reading.py). Prints a
Markdown table.

Usage: .venv/bin/python scripts/bench_long.py
"""

from __future__ import annotations

import http.client
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import running_service
from long_reading import PASSAGES, RATE, long_recording

from speech_realtime.audio import float_to_pcm16, pcm16_to_float, resample
from speech_realtime.audio.wav import write_wav
from speech_realtime.text import word_error_rate

READING = (
    "Speech services used to need a cloud account, and this one runs on a laptop. It reads text "
    "aloud with a neural voice and writes down what people say with a small Whisper model. "
)


def main() -> int:
    print("| measure | time | result |\n| --- | --- | --- |", flush=True)
    with running_service(request_timeout=30) as service:

        def speak(text: str) -> np.ndarray:
            audio, _, _ = service.post("/api/speech-realtime/synthesize", {"text": text})
            return pcm16_to_float(audio)

        def recognize(label: str, samples: np.ndarray, reference: str) -> None:
            # A 16 kHz WAV body: 600 s of it (19.2 MB) fits under the 25 MiB body limit.
            upload = write_wav(float_to_pcm16(resample(samples, RATE, 16000)), 16000)
            conn = http.client.HTTPConnection(service.host, service.port, timeout=900)
            started = time.perf_counter()
            conn.request("POST", "/api/speech-realtime/recognize", upload, {"Content-Type": "audio/wav"})
            response = conn.getresponse()
            answer = response.read()
            seconds = time.perf_counter() - started
            conn.close()
            if response.status != 200:
                raise RuntimeError(f"{label}: HTTP {response.status}: {answer[:200]!r}")
            wer = word_error_rate(reference, json.loads(answer)["text"])
            report(
                f"| /recognize, {label} ({len(samples) / RATE:.0f} s) | {seconds:.1f} s "
                f"({len(samples) / RATE / seconds:.1f}x real time) | WER {wer:.3f} |"
            )

        joined, _ = long_recording(speak, tuple(passage[:4] for passage in PASSAGES))
        reference = " ".join(" ".join(passage[:4]) for passage in PASSAGES)
        recognize("three passages joined with 2 s pauses", joined, reference)
        full, _ = long_recording(speak)
        text = " ".join(" ".join(p) for p in PASSAGES)
        recognize("the passages in full", full, text)
        quiet = np.zeros(2 * RATE, dtype=np.float32)
        long = np.concatenate([full, quiet, full, quiet, full, quiet, full])[: 600 * RATE]
        long = np.concatenate([long, np.zeros(600 * RATE - len(long), dtype=np.float32)])
        recognize("a 600 s upload", long, " ".join([text] * 4))

        reading = (READING * 30)[:4096]
        started = time.perf_counter()
        audio, first, _ = service.post(
            "/v1/audio/speech",
            {"model": "tts-1", "voice": "alloy", "input": reading, "speed": 0.25, "response_format": "pcm"},
        )
        seconds = time.perf_counter() - started
        report(
            f"| /v1/audio/speech, 4,096 characters at speed 0.25 | {seconds:.1f} s (first byte "
            f"{first:.1f} s) | {len(audio) / 48000:.0f} s of audio |"
        )
    return 0


def report(row: str) -> None:
    print(row, flush=True)


if __name__ == "__main__":
    sys.exit(main())
