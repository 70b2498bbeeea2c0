#!/usr/bin/env python3
"""Barge-in latency of the relay over the offline engine (real models, in-process, loopback).

Each trial: a relay connection asks for a reply of many short sentences; once it is under way,
an utterance in the engine's own voice is streamed in real time (20 ms frames). Measured from
the first frame of speech sent: when the client is told ``speech_started`` (it stops playback
then), and when the last frame of reply audio arrived. Also the first reply audio of a typed
message. Prints a Markdown table (median, 95th percentile, max over the trials).

Usage: .venv/bin/python scripts/bench_relay_barge_in.py [--trials 10] [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import numpy as np
from engine_client import speech_pcm  # the test suite's helpers
from loopback import serve
from relay_client import RelayClient

from speech_realtime.config import Settings
from speech_realtime.engine.models import shared_models
from speech_realtime.engine.server import EngineServer
from speech_realtime.web import create_app

FRAME = 960  # 20 ms of PCM16 24 kHz
REPLY = " ".join(["One.", "Two.", "Three.", "Four.", "Five.", "Six.", "Seven.", "Eight."] * 6)


def trial(url: str, speech: bytes) -> tuple[float, float, float]:
    """(first reply audio of a typed message, speech_started, last reply audio), in seconds."""
    with RelayClient(url, timeout=60) as client:
        client.next(60)
        asked = time.monotonic()
        client.say(REPLY)
        while not isinstance(client.next(60), bytes):
            pass
        first_audio = client.received[-1][0] - asked
        pcm = bytes(FRAME * 10) + speech + bytes(48000)
        spoke = 0.0
        for index, start in enumerate(range(0, len(pcm), FRAME)):
            if index == 10:
                spoke = time.monotonic()
            client.send_audio(pcm[start : start + FRAME])
            time.sleep(0.02)
        client.until("transcription", timeout=60)
    started = next(
        at for at, m in client.received if isinstance(m, dict) and m.get("action") == "speech_started"
    )
    last = max(
        (at for at, m in client.received if isinstance(m, bytes) and spoke <= at <= started), default=spoke
    )
    return first_audio, started - spoke, last - spoke


def row(name: str, values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (
        f"| {name} | {statistics.median(values) * 1000:.0f} | {p95 * 1000:.0f} | {max(values) * 1000:.0f} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="three trials (proves the script works)")
    args = parser.parse_args(argv)
    trials = 3 if args.quick else args.trials
    models = shared_models()
    models.warm_up()
    speech = speech_pcm(models, "Stop, stop, I have heard enough.")
    onset = int(np.flatnonzero(np.abs(np.frombuffer(speech, dtype="<i2")) > 1000)[0]) * 2 // FRAME * FRAME
    engine = EngineServer(models=models).start()
    try:
        app = create_app(Settings.from_mapping({"SPEECH_ENGINE_URL": engine.url, "LOG_LEVEL": "WARNING"}))
        with serve(app) as url:
            results = [trial(url, speech[onset:]) for _ in range(trials)]
    finally:
        engine.stop()
    print(f"{trials} trials\n")
    print("| from | median ms | p95 ms | max ms |\n| --- | ---: | ---: | ---: |")
    print(row("typed message to first reply audio", [r[0] for r in results]))
    print(row("first speech frame sent to `speech_started`", [r[1] for r in results]))
    print(row("first speech frame sent to last reply audio", [r[2] for r in results]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
