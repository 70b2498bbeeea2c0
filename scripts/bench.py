#!/usr/bin/env python3
"""The service against the offline engine, side by side with a direct Realtime client.

Starts the engine (``speech-realtime engine``, real models) with ``SPEECH_ENGINE_LATENCY_MS`` set
to ``--latency-ms`` (every message that late each way, three round trips to connect), and
``speech-realtime serve`` (gunicorn, ``--workers`` processes, default one) over it, once per
``--pool`` size. At each concurrency it runs ``--requests`` rounds; in each round every
operation in turn (the order reversed every other round, so that no operation always follows
another), with that many clients at once, one request each:

- ``stream``: ``POST /api/speech-realtime/synthesize/stream`` (first audio byte, total);
- ``synth``: ``POST /api/speech-realtime/synthesize`` (total);
- ``recognize``: ``POST /api/speech-realtime/recognize`` of a one-sentence WAV (total);
- ``direct-stream`` and ``direct-recognize``: the same turns by a Realtime client in this
  process that connects per request (the service's own sans-I/O turns on a fresh connection:
  what a naive client talking to the model does), so the service's overhead is a ratio;

with requests/s, errors, the workers' CPU seconds (all of them) and the largest worker's peak
RSS (VmHWM, reset before each round) over the operation. Then, once per service: the Azure
Speech SDK's first audio byte of ``speak_text`` on an open socket, ``/v1/audio/speech`` (first
byte, total), streaming versus whole recognition of one four-phrase upload
(``/v1/audio/transcriptions``), and a worker's peak memory for readings of 1, 16 and 64
sentences (``/synthesize`` whole and streamed, WAV).

Prints Markdown tables. Every request has a time limit; everything runs on 127.0.0.1.

Usage: PYTHONPATH=. .venv/bin/python scripts/bench.py [--quick] [--latency-ms 50] [--pool 0,64]
       [--concurrency 1,8,32,64] [--requests N] [--ops stream,direct-stream,...] [--no-singles]
       [--models real|fake] [--workers N]

``--models fake`` runs the engine on the test suite's fake models (a tone per word, canned
transcripts): what is left is the wire, the service and the clients, so the round trips being
compared are not hidden by the models' compute on a loaded machine.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench_frontends import cpu_seconds, sdk_first_byte, within  # noqa: E402
from bench_service import (  # noqa: E402
    CONNECTS,
    LIMIT,
    Served,
    direct_turn,
    peak_mib,
    post_json,
    request,
    reset_peak,
    serve,
    start_engine,
)

from speech_realtime.audio.wav import write_wav  # noqa: E402
from speech_realtime.realtime.events import GA  # noqa: E402
from speech_realtime.realtime.session import Synthesis, Transcription  # noqa: E402

SENTENCE = "The first words play while the rest is still being voiced."
#: What the synthesis operations read: short, so that the engine's own time does not hide the
#: round trips being compared.
SHORT = "Hello there."
PHRASES = [
    "Speech services used to need a cloud account.",
    "This one runs on a laptop with no network connection at all.",
    "It reads text aloud with a neural voice.",
    "And it writes down what people say.",
]


HEADER = (
    "| service | clients | operation | first (ms) | median (ms) | p90 (ms) | req/s | errors "
    "| connect (ms, Server-Timing) | worker CPU (s) | worker peak (MiB) |"
)


@dataclass
class Result:
    """One operation at one concurrency: per-request times (s), errors, wall time, worker use."""

    first: list[float] = field(default_factory=list)
    total: list[float] = field(default_factory=list)
    errors: int = 0
    error: str = ""  # the first one
    connects: list[tuple[float, bool]] = field(default_factory=list)  # from Server-Timing
    wall: float = 0.0
    cpu: float = 0.0  # all workers'
    peak_mib: float = 0.0  # the largest worker's

    def add(self, other: Result) -> None:
        """Count ``other`` (another round of the same operation) in."""
        self.first += other.first
        self.total += other.total
        self.errors += other.errors
        self.error = self.error or other.error
        self.connects += other.connects
        self.wall += other.wall
        self.cpu += other.cpu
        self.peak_mib = max(self.peak_mib, other.peak_mib)


def ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.0f}" if values else "-"


def p90(values: list[float]) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    return f"{ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))] * 1000:.0f}"


# -- the operations ------------------------------------------------------------------------------


@dataclass
class Inputs:
    engine_url: str
    wav: bytes  # one sentence, 24 kHz WAV
    pcm: bytes  # the same, the engine's wire PCM16


#: One request of an operation: (seconds to the first byte, seconds in all).
Call = Callable[[Served], tuple[float, float]]


def operations(inputs: Inputs) -> dict[str, Call]:
    audio = base64.b64encode(inputs.wav).decode()
    return {
        "stream": lambda s: post_json(s, "/api/speech-realtime/synthesize/stream", {"text": SHORT}),
        "synth": lambda s: post_json(s, "/api/speech-realtime/synthesize", {"text": SHORT}),
        "recognize": lambda s: post_json(
            s, "/api/speech-realtime/recognize", {"audioData": audio, "format": "wav"}
        ),
        "direct-stream": lambda s: direct_turn(
            inputs.engine_url, lambda: Synthesis(GA, SHORT, "alloy", retry=False)
        ),
        "direct-recognize": lambda s: direct_turn(
            inputs.engine_url, lambda: Transcription(GA, inputs.pcm, transcribe_model="whisper-1")
        ),
    }


def run(served: Served, call: Call, clients: int, each: int) -> Result:
    """``clients`` at once, each making ``each`` requests back to back."""
    result = Result()
    lock = threading.Lock()

    def client() -> None:
        for _ in range(each):
            try:
                first, total = call(served)
            except Exception as exc:
                with lock:
                    result.errors += 1
                    result.error = result.error or f"{type(exc).__name__}: {exc}"[:200]
                continue
            with lock:
                result.first.append(first)
                result.total.append(total)

    CONNECTS.clear()
    reset_peak(served)
    cpu = workers_cpu(served)
    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        for future in [pool.submit(client) for _ in range(clients)]:
            future.result(timeout=LIMIT * each)
    result.wall = time.perf_counter() - started
    result.cpu = workers_cpu(served) - cpu
    result.peak_mib = max(peak_mib(served))
    result.connects = list(CONNECTS)
    return result


def rounds(served: Served, calls: dict[str, Call], clients: int, each: int) -> dict[str, Result]:
    """``each`` rounds; in each, every operation in turn with ``clients`` at once, one request
    per client, the order reversed every other round: the service and the direct client meet
    the same machine (a block of one after a block of the other did not)."""
    results = {op: Result() for op in calls}
    for number in range(each):
        for op in list(calls) if number % 2 == 0 else reversed(calls):
            results[op].add(run(served, calls[op], clients, 1))
    return results


def workers_cpu(served: Served) -> float:
    return sum(cpu_seconds(pid) for pid in served.workers)


def reading(served: Served, text: str) -> bytes:
    status, _, _, pcm = request(
        served, "POST", "/api/speech-realtime/synthesize", json.dumps({"text": text}).encode(),
        {"Content-Type": "application/json"},
    )  # fmt: skip
    if status != 200:
        raise RuntimeError(f"synthesize: HTTP {status}")
    return pcm


# -- the single-request measurements -------------------------------------------------------------


def transcription(served: Served, upload: bytes, stream: bool) -> float:
    boundary = "benchboundary"
    fields = [("model", "whisper-1"), ("response_format", "json")] + ([("stream", "true")] if stream else [])
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n'
        f"Content-Type: audio/wav\r\n\r\n".encode()
        + upload
        + f"\r\n--{boundary}--\r\n".encode()
    )
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    status, _, total, body = request(served, "POST", "/v1/audio/transcriptions", b"".join(parts), headers)
    if status != 200:
        raise RuntimeError(f"transcriptions: HTTP {status}: {body[:200]!r}")
    return total


def singles(served: Served, runs: int, upload: bytes) -> list[str]:
    rows = []
    try:
        import azure.cognitiveservices.speech as speechsdk

        sdk = sdk_first_byte(speechsdk, f"ws://{served.host}:{served.port}", runs)
        rows.append(f"| Azure SDK speak_text first byte (open socket) | {statistics.median(sdk):.0f} ms |")
    except Exception as exc:  # the SDK is an optional extra
        rows.append(f"| Azure SDK speak_text first byte | not measured ({type(exc).__name__}) |")
    speech = [
        post_json(served, "/v1/audio/speech", {"model": "tts-1", "input": SHORT, "voice": "alloy"})
        for _ in range(runs)
    ]
    rows.append(
        f"| /v1/audio/speech first byte / total | {ms([f for f, _ in speech])} / "
        f"{ms([t for _, t in speech])} ms |"
    )
    whole = [transcription(served, upload, stream=False) for _ in range(runs)]
    streamed = [transcription(served, upload, stream=True) for _ in range(runs)]
    rows.append(f"| 4-phrase upload: whole / streamed recognition | {ms(whole)} / {ms(streamed)} ms |")
    for path in ("/api/speech-realtime/synthesize", "/api/speech-realtime/synthesize/stream"):
        for count in (1, 4) if runs < 5 else (1, 16, 64):
            rows.append(memory_row(served, path, count))
    return rows


def memory_row(served: Served, path: str, count: int) -> str:
    """How much a worker's peak RSS grows over one reading of ``count`` sentences (the most any
    worker grew: one of them served it)."""
    body = json.dumps({"text": " ".join([SENTENCE] * count)}).encode()
    reset_peak(served)
    base = peak_mib(served)
    status, _, _, audio = within(
        lambda: request(served, "POST", path, body, {"Content-Type": "application/json"}), LIMIT
    )
    grown = max(after - before for before, after in zip(base, peak_mib(served), strict=True))
    return (
        f"| worker peak growth, {path.rpartition('/speech-realtime')[2]} of {count} sentence(s) "
        f"| {grown:.1f} MiB (audio {len(audio) / 2**20:.1f} MiB, HTTP {status}) |"
    )


def table(name: str, results: dict[str, Result], clients: int) -> list[str]:
    lines = []
    for op, result in results.items():
        if result.error:
            print(
                f"{name}, {clients} clients, {op}: {result.errors} errors, first: {result.error}",
                file=sys.stderr,
            )
        count = len(result.total)
        connect = "-"
        if result.connects:
            hits = sum(pooled for _, pooled in result.connects)
            spent = statistics.median(dur for dur, _ in result.connects)
            connect = f"{spent:.1f} ({hits}/{len(result.connects)} pooled)"
        lines.append(
            f"| {name} | {clients} | {op} | {ms(result.first)} | {ms(result.total)} | {p90(result.total)} | "
            f"{count / result.wall:.1f} | {result.errors} | {connect} | {result.cpu:.1f} "
            f"| {result.peak_mib:.0f} |"
        )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="concurrency 1 and 8, two requests each")
    parser.add_argument("--latency-ms", type=float, default=50.0, help="engine one-way delay (default 50)")
    parser.add_argument(
        "--pool", default="0,64", help="pool sizes to measure, comma-separated (default 0,64)"
    )
    parser.add_argument("--concurrency", default="1,8,32,64", help="client counts (default 1,8,32,64)")
    parser.add_argument("--requests", type=int, default=4, help="requests per client (default 4)")
    parser.add_argument("--models", choices=("real", "fake"), default="real", help="engine models")
    parser.add_argument("--ops", help="operations to run, comma-separated (default: all)")
    parser.add_argument("--no-singles", action="store_true", help="skip the one-request measurements")
    parser.add_argument("--workers", type=int, default=1, help="the service's worker processes (default 1)")
    args = parser.parse_args()
    levels = [1, 8] if args.quick else [int(n) for n in args.concurrency.split(",")]
    each = 2 if args.quick else args.requests
    runs = 3 if args.quick else 10
    pools = [int(n) for n in args.pool.split(",")]
    print(
        f"load average before: {os.getloadavg()[0]:.1f}; {os.cpu_count()} cores; "
        f"latency {args.latency_ms:g} ms; {args.models} models; {args.workers} worker(s)"
    )
    engine = start_engine(args.latency_ms, args.models)
    try:
        rows = [HEADER, "| --- " * HEADER.count(" | ") + "| --- |"]
        notes: list[str] = []
        for pool in pools:
            # the session limit is a total over the workers, the pool's size is each worker's
            with serve(engine.url, pool, 2 * max(levels) + args.workers * pool, args.workers) as served:
                pcm = reading(served, SENTENCE)
                inputs = Inputs(engine.url, write_wav(pcm, 24000), pcm)
                calls = operations(inputs)
                if args.ops:
                    calls = {op: call for op, call in calls.items() if op in args.ops.split(",")}
                for call in calls.values():  # a burst of each first: the engine's first ones are slow
                    run(served, call, min(8, max(levels)), 1)
                for clients in levels:
                    results = rounds(served, calls, clients, each)
                    rows += table(f"pool {pool}", results, clients)
                    print(rows[-1], file=sys.stderr, flush=True)
                if args.no_singles:
                    continue
                silence = bytes(2 * 24000)
                upload = write_wav(silence.join(reading(served, phrase) for phrase in PHRASES), 24000)
                notes += [f"**pool {pool}**", "", "| measurement | value |", "| --- | --- |"]
                notes += [*singles(served, runs, upload), ""]
        print("\n".join(rows))
        print()
        print("\n".join(notes))
        print(f"load average after: {os.getloadavg()[0]:.1f}")
    finally:
        engine.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
