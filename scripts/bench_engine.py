#!/usr/bin/env python3
"""Speed and memory of the offline engine through the HTTP service, on this machine.

Measures: time to the first audio byte of /synthesize/stream (one sentence, a paragraph), TTS
real-time factor (/synthesize), STT real-time factor (/recognize), and the engine process's RSS
with its models loaded. Prints a Markdown table (medians of --runs runs).

``--long SECONDS`` measures the engine's long work instead, on an engine child process over its
WebSocket (see ``bench_engine_long.py``): one commit of SECONDS of speech (time to the first
transcription delta, total, WER), a 3 s commit from a second session meanwhile (its latency,
against the same commit alone), a 4,096-character reading at speed 0.25 (first audio, longest
wait between two audio deltas, total), and the cost of Whisper's word timestamps.

``--first-byte`` measures the first audio byte of a forty-word sentence (best and median of
--runs): through the service's /synthesize/stream, and in the engine's process (the first chunk
of ``Models.synthesize`` against one whole-sentence Piper call, the engine's way before it voiced
the first clause first and in chunks).

``--stream-recognition`` measures streaming recognition of an upload against whole-file
recognition of it (see ``bench_stream_recognition.py``).

``--quick``: three runs, to prove the script works on a loaded machine.

Usage: .venv/bin/python scripts/bench_engine.py [--runs N] [--quick]
       [--long SECONDS | --first-byte | --stream-recognition]
"""

from __future__ import annotations

import argparse
import base64
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import rss_mib, running_service

SENTENCE = "The quick brown fox jumps over the lazy dog near the river bank."
PARAGRAPH = (
    "Speech services used to need a cloud account. This one runs on a laptop. It reads text "
    "aloud with a neural voice, and it writes down what people say with a small Whisper model. "
    "Both run on the processor, with no network connection at all. The first words of a long "
    "paragraph play while the rest is still being voiced, so a listener never waits for the "
    "whole text. That is what this measurement is about."
)
BYTES_PER_SECOND = 48000


def median(values: list[float]) -> float:
    return statistics.median(values)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--long", type=float, default=0.0, help="measure a commit of this many seconds")
    parser.add_argument("--first-byte", action="store_true", help="first audio byte of a long sentence")
    parser.add_argument("--stream-recognition", action="store_true", help="an upload streamed vs whole")
    parser.add_argument("--quick", action="store_true", help="three runs")
    args = parser.parse_args()
    if args.quick:
        args.runs = 3
    if args.first_byte:
        from bench_first_byte import first_byte

        return first_byte(args.runs)
    if args.stream_recognition:
        from bench_stream_recognition import stream_recognition

        return stream_recognition(args.runs)
    if args.long:
        from bench_engine_long import long_work

        return long_work(args.long)
    with running_service() as service:
        engine_rss = rss_mib(service.engine.process.pid)
        service.post("/api/speech-realtime/synthesize", {"text": "Warm up."})
        rows = []
        for label, text in (("one sentence", SENTENCE), ("paragraph (6 sentences)", PARAGRAPH)):
            firsts, totals = [], []
            for _ in range(args.runs):
                _, first, total = service.post("/api/speech-realtime/synthesize/stream", {"text": text})
                firsts.append(first)
                totals.append(total)
            rows.append(
                f"| /synthesize/stream first audio byte, {label} | {median(firsts) * 1000:.0f} ms "
                f"(whole stream {median(totals) * 1000:.0f} ms) |"
            )
        tts, stt = [], []
        audio = b""
        for _ in range(args.runs):
            audio, _, total = service.post("/api/speech-realtime/synthesize", {"text": PARAGRAPH})
            tts.append(len(audio) / BYTES_PER_SECOND / total)
        body = {"audioData": base64.b64encode(audio).decode()}
        for _ in range(args.runs):
            _, _, total = service.post("/api/speech-realtime/recognize", body)
            stt.append(len(audio) / BYTES_PER_SECOND / total)
        seconds = len(audio) / BYTES_PER_SECOND
        rows.append(
            f"| TTS real-time factor, /synthesize of {seconds:.0f} s of speech "
            f"| {median(tts):.1f}x real time |"
        )
        rows.append(
            f"| STT real-time factor, /recognize of {seconds:.0f} s of speech "
            f"| {median(stt):.1f}x real time |"
        )
        rows.append(f"| engine process RSS, models loaded and warm | {engine_rss:.0f} MiB |")
        rows.append(f"| engine process RSS after the runs | {rss_mib(service.engine.process.pid):.0f} MiB |")
    print(f"| measure (median of {args.runs}) | value |\n| --- | --- |")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
