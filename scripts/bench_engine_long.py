"""The engine's long work, over its WebSocket on an engine child process (``bench_engine.py --long``).

The long recording is the engine's own voice reading public-domain prose, pieces joined with 2 s
pauses and repeated up to the length asked for; its reference text is known, so the WER is too.
"""

from __future__ import annotations

import base64
import itertools
import json
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import websocket

from speech_realtime.audio import float_to_pcm16, resample
from speech_realtime.cli import EngineProcess
from speech_realtime.engine.models import ASR_RATE, ENGINE_RATE, Models
from speech_realtime.text import word_error_rate

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from long_reading import READINGS

STT = {
    "type": "realtime",
    "audio": {"input": {"transcription": {"model": "whisper-1"}, "turn_detection": None}},
}
DELTA = "conversation.item.input_audio_transcription.delta"
COMPLETED = "conversation.item.input_audio_transcription.completed"


class Session:
    """One GA session on the engine; ``events`` are ``(seconds since open, event)``."""

    def __init__(self, url: str, update: dict[str, Any]) -> None:
        self.ws = websocket.create_connection(
            url.replace("http://", "ws://") + "/v1/realtime?model=local-echo", timeout=600
        )
        self.started = time.perf_counter()
        self.events: list[tuple[float, dict[str, Any]]] = []
        self.send("session.update", session=update)
        self.until("session.updated")

    def send(self, type_: str, **fields: Any) -> None:
        self.ws.send(json.dumps({"type": type_, **fields}))

    def until(self, type_: str) -> dict[str, Any]:
        while True:
            event = json.loads(self.ws.recv())
            self.events.append((time.perf_counter(), event))
            if event["type"] in (type_, "error"):
                assert event["type"] == type_, event
                return event

    def commit(self, pcm: bytes) -> float:
        """Append ``pcm`` and commit it; the time of the commit."""
        for start in range(0, len(pcm), 960_000):
            self.send(
                "input_audio_buffer.append", audio=base64.b64encode(pcm[start : start + 960_000]).decode()
            )
        self.send("input_audio_buffer.commit")
        return time.perf_counter()


def spoken(models: Models, text: str) -> np.ndarray:
    return np.concatenate([audio for _, audio in models.synthesize(text)])


def recording(pieces: list[np.ndarray], seconds: float) -> tuple[bytes, str]:
    """Pieces joined with 2 s pauses, round after round, up to ``seconds``; and what is said."""
    pause = np.zeros(2 * ENGINE_RATE, dtype=np.float32)
    audio, said, length, index = [], [], 0, 0
    while length + len(pieces[index % len(pieces)]) < seconds * ENGINE_RATE:
        piece = pieces[index % len(pieces)]
        audio += [piece, pause]
        said.append(READINGS[index % len(pieces)])
        length += len(piece) + len(pause)
        index += 1
    return float_to_pcm16(np.concatenate(audio)), " ".join(said)


def short_latency(url: str, pcm: bytes) -> float:
    session = Session(url, STT)
    committed = session.commit(pcm)
    session.until(COMPLETED)
    session.ws.close()
    return session.events[-1][0] - committed


def long_commit(url: str, pcm: bytes, short: bytes) -> dict[str, float | str]:
    """A long commit; once its first delta is out, a short commit from another session."""
    session = Session(url, STT)
    committed = session.commit(pcm)
    first = session.until(DELTA)
    first_at = session.events[-1][0] - committed
    other: list[float] = []
    thread = threading.Thread(target=lambda: other.append(short_latency(url, short)))
    thread.start()
    completed = session.until(COMPLETED)
    total = session.events[-1][0] - committed
    thread.join()
    arrivals = [t for t, e in session.events if e["type"] == DELTA]
    phrases = 1 + sum(
        1 for a, b in itertools.pairwise(arrivals) if b - a > 0.3
    )  # a phrase's deltas come at once
    session.ws.close()
    assert first["type"] == DELTA
    return {
        "first": first_at,
        "total": total,
        "other": other[0],
        "phrases": phrases,
        "text": completed["transcript"],
    }


def long_reading(url: str) -> tuple[float, float, float, float]:
    """(first audio, longest gap between audio deltas, total, seconds of audio) of 4,096 characters."""
    text = (" ".join(READINGS) * 8)[:4096]
    session = Session(
        url, {"type": "realtime", "audio": {"input": {"turn_detection": None}, "output": {"speed": 0.25}}}
    )
    session.send(
        "conversation.item.create",
        item={"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]},
    )
    started = time.perf_counter()
    session.send("response.create")
    session.until("response.done")
    session.ws.close()
    audio = [(t, e) for t, e in session.events if e["type"] == "response.output_audio.delta"]
    times = [started] + [t for t, _ in audio]
    seconds = sum(len(base64.b64decode(e["delta"])) for _, e in audio) / 48000
    return (
        times[1] - started,
        max(b - a for a, b in itertools.pairwise(times)),
        session.events[-1][0] - started,
        seconds,
    )


def word_time_cost(models: Models, phrase: np.ndarray, runs: int = 3) -> list[float]:
    """Median seconds of one Whisper call on ``phrase``: without word timestamps, with them as
    faster-whisper runs them (a second window after the last word), and as the engine does (one)."""
    options = {
        "language": "en",
        "beam_size": 1,
        "condition_on_previous_text": False,
        "without_timestamps": True,
    }
    calls = [
        lambda: list(models.whisper.transcribe(phrase, **options)[0]),
        lambda: list(models.whisper.transcribe(phrase, word_timestamps=True, **options)[0]),
        lambda: models.transcribe(phrase),
    ]
    calls[0]()
    figures = []
    for call in calls:
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            call()
            times.append(time.perf_counter() - started)
        figures.append(statistics.median(times))
    return figures


def long_work(seconds: float) -> int:
    models = Models()
    pieces = [spoken(models, text) for text in READINGS]
    pcm, said = recording(pieces, seconds)
    short = float_to_pcm16(pieces[1][: 3 * ENGINE_RATE])
    phrase = resample(np.concatenate(pieces[:2]), ENGINE_RATE, ASR_RATE)
    costs = word_time_cost(models, phrase)
    engine = EngineProcess.start()
    try:
        alone = statistics.median(short_latency(engine.url, short) for _ in range(3))
        result = long_commit(engine.url, pcm, short)
        first_audio, gap, reading_total, reading_seconds = long_reading(engine.url)
    finally:
        engine.stop()
    length = len(pcm) / 48000
    wer = word_error_rate(said, str(result["text"]))
    total = float(result["total"])
    rows = [
        f"| commit of {length:.0f} s of speech: first transcription delta | {result['first']:.1f} s |",
        f"| same: whole transcript ({result['phrases']} phrases), WER {wer:.3f} "
        f"| {total:.0f} s ({length / total:.1f}x real time) |",
        f"| 3 s commit from a second session during it | {result['other']:.1f} s (alone: {alone:.1f} s) |",
        f"| 4,096 characters at speed 0.25 ({reading_seconds:.0f} s of audio): first audio delta "
        f"| {first_audio:.1f} s |",
        f"| same: longest wait between audio deltas; whole reading | {gap:.1f} s; {reading_total:.0f} s |",
        f"| one Whisper call on {len(phrase) / ASR_RATE:.0f} s of speech: no word times; faster-whisper's; "
        f"the engine's | {costs[0]:.2f} s; {costs[1]:.2f} s; {costs[2]:.2f} s |",
    ]
    print("| measure | value |\n| --- | --- |")
    print("\n".join(rows))
    return 0
