#!/usr/bin/env python3
"""Speed of the two SDK front ends, as their clients see it, on this machine.

``--only openai``: the official ``openai`` SDK against ``/v1`` over the offline engine (real
models; the app in this process, the engine in its own, as scripts/harness.py runs them):
``/v1/audio/speech`` first bytes and finish for a 4-sentence text as ``pcm`` and ``mp3``, and a
four-sentence upload (the engine's own reading of four sentences, 1 s of silence between them)
transcribed as ``verbose_json`` and with ``stream=true`` (first and last phrase).

``--only latency``: ``speech-realtime serve`` over the scripted upstream (which answers at once);
on one open synthesis socket, the milliseconds from sending an ``ssml`` frame to the first
``audio`` frame and to ``turn.end`` (a plain WebSocket client), and the official SDK's own
``SynthesisFirstByteLatencyMs`` for ``speak_text_async`` on a synthesizer whose socket is open;
and the server's CPU time per second of wall time with 20 idle SDK sockets open, and while one
synthesis waits on a slow upstream (a chunk every 0.5 s): what a socket's waiting costs.

``--only shutdown``: ``speech-realtime serve`` in a subprocess over the test suite's scripted
Realtime upstream, driven by the official Python Azure Speech SDK; the seconds after SIGTERM until
a continuous recognition from a push stream reports its stop, a running synthesis completes
(one stalled upstream is canceled), and serve exits with an idle SDK socket open.

Everything runs on 127.0.0.1; every client call and every wait has a time limit. Prints medians
of --runs runs (and the load average, since other work on the machine moves the figures).

Usage: .venv/bin/python scripts/bench_frontends.py [--runs N] [--only openai|latency|shutdown]
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "tests"))

T = TypeVar("T")

SENTENCES = [
    "Speech services used to need a cloud account.",
    "This one runs on a laptop with no network connection at all.",
    "It reads text aloud with a neural voice, and it writes down what people say.",
    "The first words play while the rest is still being voiced.",
]
TEXT = " ".join(SENTENCES)
PCM_RATE = 24000  # /v1/audio/speech pcm: 24 kHz mono 16-bit
#: Seconds an SDK call may take against the offline engine (2 cores, models on the processor).
ENGINE_LIMIT = 120.0
#: Seconds any wait after SIGTERM may take (serve's graceful timeout is 35 s).
STOP_LIMIT = 10.0
#: Seconds an Azure SDK call may take against the scripted upstream.
CALL_LIMIT = 20.0


def median(values: list[float]) -> float:
    return statistics.median(values)


def within(call: Callable[[], T], limit: float = CALL_LIMIT) -> T:
    """``call()`` on a daemon thread; raises if it has not returned within ``limit`` seconds."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(limit)
    if thread.is_alive():
        raise TimeoutError(f"the call did not return within {limit:g} s")
    if "error" in box:
        raise box["error"]
    return box["value"]


def wait_for(condition: Callable[[], bool], limit: float) -> bool:
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


# -- the openai SDK over the offline engine --------------------------------------------------------


def speech(client, response_format: str) -> tuple[bytes, float, float]:
    """(audio, seconds to the first body bytes, seconds in all) of one /v1/audio/speech."""
    started = time.perf_counter()
    first = None
    chunks = []
    with client.audio.speech.with_streaming_response.create(
        model="tts-1", voice="alloy", input=TEXT, response_format=response_format
    ) as response:
        for chunk in response.iter_bytes():
            if chunk and first is None:
                first = time.perf_counter() - started
            chunks.append(chunk)
    total = time.perf_counter() - started
    return b"".join(chunks), first if first is not None else total, total


def bench_openai(runs: int) -> list[str]:
    from harness import running_service
    from openai import OpenAI

    from speech_realtime.audio.wav import write_wav

    rows = []
    with running_service() as service:
        base = f"http://{service.host}:{service.port}/v1"
        with OpenAI(base_url=base, api_key="sk-anything", timeout=ENGINE_LIMIT, max_retries=0) as client:
            speech(client, "pcm")  # warm up: models, encoders
            pcm_audio = b""
            for response_format in ("pcm", "mp3"):
                firsts, totals = [], []
                for _ in range(runs):
                    audio, first, total = speech(client, response_format)
                    firsts.append(first)
                    totals.append(total)
                    if response_format == "pcm":
                        pcm_audio = audio
                rows.append(
                    f"| /v1/audio/speech, 4 sentences ({len(pcm_audio) / 2 / PCM_RATE:.1f} s of speech), "
                    f"`{response_format}` | first bytes {median(firsts):.2f} s, "
                    f"finished {median(totals):.2f} s |"
                )
            pause = bytes(2 * PCM_RATE)  # one second of silence: a turn boundary for the VAD
            readings = []
            for sentence in SENTENCES:
                audio = client.audio.speech.create(
                    model="tts-1", voice="alloy", input=sentence, response_format="pcm"
                ).content
                readings.append(audio)
            upload_pcm = pause.join(readings)
            upload = write_wav(upload_pcm, PCM_RATE)
            seconds = len(upload_pcm) / 2 / PCM_RATE
            warm = write_wav(readings[0], PCM_RATE)  # warm up the recognizer
            client.audio.transcriptions.create(model="whisper-1", file=("warm.wav", warm))
            verbose = []
            for _ in range(runs):
                started = time.perf_counter()
                result = client.audio.transcriptions.create(
                    model="whisper-1", file=("four.wav", upload), response_format="verbose_json"
                )
                verbose.append(time.perf_counter() - started)
            rows.append(
                f"| /v1/audio/transcriptions, {seconds:.1f} s upload of 4 sentences, `verbose_json` "
                f"| {median(verbose):.2f} s ({len(result.segments or [])} segments) |"
            )
            firsts, lasts, phrases = [], [], []
            for _ in range(runs):
                started = time.perf_counter()
                stream = client.audio.transcriptions.create(
                    model="whisper-1", file=("four.wav", upload), stream=True
                )
                first = last = None
                count = 0
                for event in stream:
                    now = time.perf_counter() - started
                    if event.type == "transcript.text.delta":
                        count += 1
                        first = now if first is None else first
                        last = now
                    elif event.type == "transcript.text.done":
                        last = now
                firsts.append(first if first is not None else float("nan"))
                lasts.append(last if last is not None else float("nan"))
                phrases.append(count)
            rows.append(
                f"| /v1/audio/transcriptions, same upload, `stream=true` ({median(phrases):.0f} phrases) "
                f"| first phrase {median(firsts):.2f} s, last {median(lasts):.2f} s |"
            )
    return rows


# -- speech-realtime serve, SIGTERM and the Azure Speech SDK ---------------------------------------


@contextmanager
def serve(upstream) -> Iterator[tuple[subprocess.Popen, str]]:
    """``speech-realtime serve`` on 127.0.0.1:0 over ``upstream``: (the process, its ws:// host)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "OPENAI_", "SPEECH_"))}
    env.update(
        {
            "AZURE_OPENAI_ENDPOINT": upstream.url,
            "AZURE_OPENAI_KEY": "sk-bench-not-a-key",
            "AZURE_OPENAI_REALTIME_DEPLOYMENT": "gpt-realtime-test",
        }
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "speech_realtime", "serve", "--host", "127.0.0.1", "--port", "0"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    watchdog = threading.Timer(60, process.kill)
    watchdog.start()
    assert process.stderr is not None
    base = None
    early: list[str] = []
    for line in process.stderr:
        early.append(line)
        found = re.search(r"Listening at: http://(127\.0\.0\.1:\d+)", line)
        if found:
            base = found.group(1)
            break
    watchdog.cancel()
    threading.Thread(target=lambda: process.stderr.read(), daemon=True).start()  # keep the pipe drained
    try:
        if not base:
            raise RuntimeError("serve did not start:\n" + "".join(early[-20:]))
        yield process, f"ws://{base}"
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def sigterm(process: subprocess.Popen) -> float:
    process.send_signal(signal.SIGTERM)
    return time.monotonic()


def recognition_stop(speechsdk, upstream) -> tuple[float, float, str]:
    """(seconds to the last phrase, seconds to the SDK's stop, how it stopped) after SIGTERM."""
    from azure_sdk_fixtures import quiet, tone, wav_bytes

    upstream.reset()
    with serve(upstream) as (process, host):
        stream = speechsdk.audio.PushAudioInputStream()
        recognizer = speechsdk.SpeechRecognizer(
            speechsdk.SpeechConfig(host=host), audio_config=speechsdk.audio.AudioConfig(stream=stream)
        )
        speaking = threading.Event()
        seen: dict[str, float] = {}
        recognizer.speech_start_detected.connect(lambda e: speaking.set())
        recognizer.recognized.connect(lambda e: seen.setdefault("phrase", time.monotonic()))
        stops: list[str] = []

        def stopped(kind: str) -> None:
            seen.setdefault("stop", time.monotonic())
            stops.append(kind)

        recognizer.canceled.connect(lambda e: stopped("Canceled"))
        recognizer.session_stopped.connect(lambda e: stopped("SessionStopped"))
        within(lambda: recognizer.start_continuous_recognition_async().get())
        done = threading.Event()
        pcm = wav_bytes(np.concatenate([quiet(0.3), tone(10.0)]))[44:]  # one long utterance

        def microphone() -> None:
            for at in range(0, len(pcm), 3200):
                if done.wait(0.1):
                    return
                stream.write(pcm[at : at + 3200])

        threading.Thread(target=microphone, daemon=True).start()
        try:
            if not speaking.wait(10):
                raise RuntimeError("the service never detected the speech")
            sent_at = sigterm(process)
            if not wait_for(lambda: "stop" in seen, STOP_LIMIT):
                raise RuntimeError("the SDK saw no stop after SIGTERM")
            process.wait(timeout=STOP_LIMIT)
        finally:
            done.set()
        within(lambda: recognizer.stop_continuous_recognition_async().get())
        stream.close()
    return seen.get("phrase", float("nan")) - sent_at, seen["stop"] - sent_at, stops[0]


def synthesis_end(speechsdk, upstream, chunk_delay: float) -> tuple[float, str]:
    """(seconds after SIGTERM, result reason) of a synthesis in progress when SIGTERM is sent."""
    upstream.reset(chunk_delay=chunk_delay)
    with serve(upstream) as (process, host):
        synthesizer = speechsdk.SpeechSynthesizer(speechsdk.SpeechConfig(host=host), audio_config=None)
        future = synthesizer.speak_text_async("hello there")
        if not wait_for(lambda: upstream.client_events("response.create"), 10):
            raise RuntimeError("the synthesis never started")
        sent_at = sigterm(process)
        result = within(future.get, STOP_LIMIT)
        seconds = time.monotonic() - sent_at
        process.wait(timeout=STOP_LIMIT)
    return seconds, str(result.reason).split(".")[-1]


def idle_exit(speechsdk, upstream) -> float:
    """Seconds from SIGTERM to serve's exit with an idle synthesizer socket open."""
    upstream.reset()
    with serve(upstream) as (process, host):
        synthesizer = speechsdk.SpeechSynthesizer(speechsdk.SpeechConfig(host=host), audio_config=None)
        result = within(lambda: synthesizer.speak_text_async("hello there").get())
        if result.reason != speechsdk.ResultReason.SynthesizingAudioCompleted:
            raise RuntimeError(f"the warm-up synthesis failed: {result.reason}")
        sent_at = sigterm(process)
        process.wait(timeout=STOP_LIMIT)
        return time.monotonic() - sent_at


def bench_shutdown(runs: int) -> list[str]:
    import azure.cognitiveservices.speech as speechsdk
    from realtime_server import ScriptedRealtimeServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    upstream = ScriptedRealtimeServer().start()
    try:
        phrase, stop, kinds = zip(*(recognition_stop(speechsdk, upstream) for _ in range(runs)), strict=True)
        completes = [synthesis_end(speechsdk, upstream, 0.5) for _ in range(runs)]
        stalled = [synthesis_end(speechsdk, upstream, 30.0) for _ in range(runs)]
        idle = [idle_exit(speechsdk, upstream) for _ in range(runs)]
    finally:
        upstream.stop()
    reasons = lambda results: "/".join(sorted({reason for _, reason in results}))  # noqa: E731
    return [
        f"| continuous recognition (push stream), mid-utterance: last phrase | {median(phrase):.2f} s |",
        f"| continuous recognition (push stream), mid-utterance: {'/'.join(sorted(set(kinds)))} "
        f"| {median(stop):.2f} s |",
        f"| synthesis in progress (upstream chunks every 0.5 s): {reasons(completes)} "
        f"| {median([s for s, _ in completes]):.2f} s |",
        f"| synthesis stalled upstream (chunks every 30 s): {reasons(stalled)} "
        f"| {median([s for s, _ in stalled]):.2f} s |",
        f"| serve exits, an idle SDK synthesizer socket open | {median(idle):.2f} s |",
    ]


# -- the first audio byte on an open Azure SDK socket ----------------------------------------------


def raw_first_audio(host: str, runs: int) -> tuple[list[float], list[float]]:
    """(ms to the first audio frame, ms to turn.end) per synthesis on one open raw socket."""
    import websocket

    from speech_realtime.usp.frames import parse, text_frame

    ws = websocket.create_connection(host + "/cognitiveservices/websocket/v1", timeout=CALL_LIMIT)
    ssml = "<speak version='1.0' xml:lang='en-US'><voice name='en-US-AvaNeural'>hello there</voice></speak>"
    context = {"synthesis": {"audio": {"outputFormat": "raw-24khz-16bit-mono-pcm", "metadataOptions": {}}}}
    first: list[float] = []
    total: list[float] = []
    try:
        for index in range(runs + 1):  # the first one warms up
            rid = f"{index:032x}"
            ws.send(text_frame("synthesis.context", rid, context))
            started = time.perf_counter()
            ws.send(text_frame("ssml", rid, ssml, "application/ssml+xml"))
            audio_at = None
            while True:
                message = parse(ws.recv())
                if message.path == "audio" and audio_at is None:
                    audio_at = time.perf_counter()
                if message.path == "turn.end":
                    break
            if index and audio_at is not None:
                first.append((audio_at - started) * 1000)
                total.append((time.perf_counter() - started) * 1000)
    finally:
        ws.close()
    return first, total


def sdk_first_byte(speechsdk, host: str, runs: int) -> list[float]:
    """The SDK's SynthesisFirstByteLatencyMs per ``speak_text_async`` on one open synthesizer."""
    synthesizer = speechsdk.SpeechSynthesizer(speechsdk.SpeechConfig(host=host), audio_config=None)
    key = speechsdk.PropertyId.SpeechServiceResponse_SynthesisFirstByteLatencyMs
    values: list[float] = []
    for index in range(runs + 1):  # the first one opens the socket
        result = within(lambda: synthesizer.speak_text_async("hello there").get())
        if result.reason != speechsdk.ResultReason.SynthesizingAudioCompleted:
            raise RuntimeError(f"the synthesis failed: {result.reason}")
        if index:
            values.append(float(result.properties.get_property(key)))
    return values


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` and its children (gunicorn's worker) so far
    (Linux)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if stat.parent.name == str(pid) or fields[1] == str(pid):
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def cpu_while(pid: int, seconds: float) -> float:
    """CPU milliseconds ``pid`` uses per wall second over the next ``seconds``."""
    before = cpu_seconds(pid)
    time.sleep(seconds)
    return (cpu_seconds(pid) - before) * 1000 / seconds


def waiting_cost(upstream) -> tuple[float, float]:
    """(CPU ms/s of serve with 20 idle SDK sockets, with one synthesis on a slow upstream)."""
    import websocket

    from speech_realtime.usp.frames import text_frame

    upstream.reset(chunk_delay=0.5, chunks=20)
    with serve(upstream) as (process, host):
        sockets = [
            websocket.create_connection(host + "/cognitiveservices/websocket/v1", timeout=CALL_LIMIT)
            for _ in range(20)
        ]
        try:
            time.sleep(1.0)  # settle after the upgrades
            idle = cpu_while(process.pid, 5.0)
            ssml = "<speak version='1.0'><voice name='en-US-AvaNeural'>hello there</voice></speak>"
            sockets[0].send(text_frame("ssml", "0" * 32, ssml, "application/ssml+xml"))
            sockets[0].recv()  # turn.start: the job runs, its chunks 0.5 s apart
            busy = cpu_while(process.pid, 5.0)
        finally:
            for ws in sockets:
                ws.close()
    return idle, busy


def bench_latency(runs: int) -> list[str]:
    import azure.cognitiveservices.speech as speechsdk
    from realtime_server import ScriptedRealtimeServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    upstream = ScriptedRealtimeServer().start()
    try:
        upstream.reset()
        with serve(upstream) as (_, host):
            first, total = raw_first_audio(host, runs)
            sdk = sdk_first_byte(speechsdk, host, runs)
        idle, busy = waiting_cost(upstream)
    finally:
        upstream.stop()
    return [
        f"| serve's CPU with 20 idle SDK sockets open | {idle:.1f} ms/s |",
        f"| serve's CPU with one synthesis waiting on a slow upstream (20 idle sockets) | {busy:.1f} ms/s |",
        f"| ssml frame to first audio frame (raw WebSocket client) | {median(first):.1f} ms |",
        f"| ssml frame to turn.end (raw WebSocket client) | {median(total):.1f} ms |",
        f"| SDK SynthesisFirstByteLatencyMs (speak_text_async) | {median(sdk):.1f} ms |",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", choices=["openai", "latency", "shutdown"])
    args = parser.parse_args()
    load = os.getloadavg()
    print(f"{os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the start")
    if args.only in (None, "openai"):
        rows = bench_openai(args.runs)
        print(f"\n| openai SDK over the offline engine (median of {args.runs}) | value |\n| --- | --- |")
        print("\n".join(rows))
    if args.only in (None, "latency"):
        rows = bench_latency(args.runs)
        print(f"\n| Azure Speech SDK synthesis on an open socket (median of {args.runs}) | value |")
        print("| --- | --- |")
        print("\n".join(rows))
    if args.only in (None, "shutdown"):
        rows = bench_shutdown(args.runs)
        print(f"\n| Azure Speech SDK, seconds after SIGTERM to serve (median of {args.runs}) | value |")
        print("| --- | --- |")
        print("\n".join(rows))
    load = os.getloadavg()
    print(f"\nload average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
