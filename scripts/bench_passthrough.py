#!/usr/bin/env python3
"""What the Realtime pass-through adds, as a client sees it, on this machine.

The test suite's scripted Realtime upstream (which answers at once) on 127.0.0.1, reached
directly and through the pass-through (the app served by werkzeug in this process, Azure GA
shape); a plain WebSocket client (websocket-client) on each:

- round trip: milliseconds from sending ``conversation.item.create`` to its
  ``conversation.item.added`` (median and 95th percentile of --events events);
- audio: seconds to send 60 s of PCM16 24 kHz as 100 ms ``input_audio_buffer.append`` events and
  see a following ``conversation.item.create`` answered (every append went through the policy).

Every wait has a time limit. Prints the figures and the load average (other work on the
machine moves them). ``--quick``: fewer events and 10 s of audio, to prove the script works.

Usage: .venv/bin/python scripts/bench_passthrough.py [--quick] [--events N]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import sys
import time
from pathlib import Path

import websocket

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from loopback import serve  # noqa: E402
from realtime_server import ScriptedRealtimeServer  # noqa: E402

from speech_realtime.config import Settings  # noqa: E402
from speech_realtime.web import create_app  # noqa: E402

LIMIT = 30.0
ITEM = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}


def until(ws: websocket.WebSocket, kind: str) -> None:
    deadline = time.monotonic() + LIMIT
    while json.loads(ws.recv())["type"] != kind:
        if time.monotonic() > deadline:
            raise TimeoutError(kind)


def round_trips(url: str, events: int) -> list[float]:
    ws = websocket.create_connection(url, timeout=LIMIT, header={"api-key": "bench"})
    try:
        until(ws, "session.created")
        times = []
        for _ in range(events):
            start = time.perf_counter()
            ws.send(json.dumps({"type": "conversation.item.create", "item": ITEM}))
            until(ws, "conversation.item.added")
            times.append((time.perf_counter() - start) * 1000)
        return times
    finally:
        ws.close(timeout=1)


def audio_seconds(url: str, seconds: int) -> float:
    chunk = base64.b64encode(bytes(4800)).decode()  # 100 ms of silence
    ws = websocket.create_connection(url, timeout=LIMIT, header={"api-key": "bench"})
    try:
        until(ws, "session.created")
        start = time.perf_counter()
        for _ in range(seconds * 10):
            ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": chunk}))
        ws.send(json.dumps({"type": "conversation.item.create", "item": ITEM}))
        until(ws, "conversation.item.added")
        return time.perf_counter() - start
    finally:
        ws.close(timeout=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer events, 10 s of audio")
    parser.add_argument("--events", type=int, default=500)
    args = parser.parse_args()
    events, audio = (50, 10) if args.quick else (args.events, 60)
    upstream = ScriptedRealtimeServer().start()
    settings = Settings.from_mapping(
        {
            "AZURE_OPENAI_ENDPOINT": upstream.url,
            "AZURE_OPENAI_KEY": "bench",
            "SPEECH_REALTIME_IDLE_TIMEOUT": "600",
        }
    )
    try:
        with serve(create_app(settings)) as base:
            targets = {
                "direct": f"ws{upstream.url.removeprefix('http')}/openai/v1/realtime?model=m",
                "pass-through": f"ws{base.removeprefix('http')}/openai/v1/realtime?model=m",
            }
            for name, url in targets.items():
                times = sorted(round_trips(url, events))
                p95 = times[int(len(times) * 0.95) - 1]
                took = audio_seconds(url, audio)
                print(
                    f"{name:>12}: round trip median {statistics.median(times):.2f} ms, p95 {p95:.2f} ms "
                    f"({events} events); {audio} s of audio in 100 ms appends: {took:.2f} s"
                )
    finally:
        upstream.stop()
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
