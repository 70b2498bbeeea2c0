#!/usr/bin/env python3
"""Peak memory per request: input decoding alone, and whole requests through the real app.

Decoding (``--only decode``): each case runs in a fresh process (so its high-water mark is its
own): the bodies are loaded, the audio modules imported and warmed up on a short file, the
resident set measured (baseline), then N threads (a worker's concurrent requests) each convert
one body with ``input_to_wire`` at the same time. Reported: the baseline, the high-water mark
(``VmHWM``) and (high-water - baseline) / N, the memory one request adds on top of its body:
working buffers plus the wire audio it returns (PCM16 24 kHz, 28.8 MB for 600 s).

Whole requests (``--only requests``): each case starts a fresh child process serving
``create_app(settings)`` with werkzeug's threaded server on 127.0.0.1:0, against the test
suite's scripted Realtime upstream run in this process (its audio for a text is stretched to
a realistic reading speed, 15 characters a second, in 100 ms deltas). The child is warmed up
with one small request of each kind, its RSS measured (baseline) and its high-water mark reset;
then N clients send the case's request at once. Reported: (high-water - baseline) / N, all the
memory a request holds while it runs (body, JSON, decoded audio, wire audio, upstream events,
response), since nothing of it exists at the baseline. Linux only (reads /proc).

Usage: .venv/bin/python scripts/bench_memory.py [--only decode|requests] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import base64
import gc
import json
import logging
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import numpy as np
import realtime_server  # the test suite's scripted Realtime upstream
import requests
from media import encode_file, signal  # the test suite's file maker (PyAV)
from werkzeug.serving import make_server

from speech_realtime.audio import float_to_pcm16, input_to_wire, resample
from speech_realtime.audio.wav import write_wav
from speech_realtime.config import Settings
from speech_realtime.web import create_app

#: The scripted upstream's reading speed (characters of text per second of audio).
CHARS_PER_SECOND = 15
RECOGNIZE = "/api/speech-realtime/recognize"
SYNTHESIZE = "/api/speech-realtime/synthesize"


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


Request = tuple[str, bytes, dict[str, str]]  # path, body, headers


def _reading(text: str, chunks: int, width: int) -> list[bytes]:
    """The scripted upstream's audio for ``text`` at a realistic reading speed, in 100 ms deltas."""
    samples = max(2400, round(len(text) / CHARS_PER_SECOND * 24000))
    data = (np.arange(samples * width, dtype=np.uint32) * 7 % 256).astype(np.uint8).tobytes()
    step = 2400 * width
    return [data[i : i + step] for i in range(0, len(data), step)]


def _json_pcm(pcm: bytes, *, lines: bool = False) -> bytes:
    """The reference's JSON upload of PCM16 24 kHz; ``lines``: base64 in 76-character lines."""
    audio = (base64.encodebytes if lines else base64.b64encode)(pcm).decode()
    return json.dumps({"audioData": audio, "format": "pcm16", "sampleRate": 24000}).encode()


def _synthesis(text: str, fmt: str) -> Request:
    body = json.dumps({"text": text, "format": fmt}).encode()
    return SYNTHESIZE, body, {"Content-Type": "application/json"}


def request_cases(settings: Settings, seconds: int, concurrency: int) -> list[tuple[str, int, Request]]:
    """(name, concurrent clients, request) of each whole-request case, at the service's limits."""
    limit = settings.max_body_bytes
    envelope = len(_json_pcm(b""))
    pcm_bytes = (limit - envelope) // 4 * 3 // 2 * 2
    pcm = float_to_pcm16(np.resize(signal(60.0, 24000), pcm_bytes // 2))
    lined = pcm[: int(pcm_bytes * 76 / 78) // 2 * 2]  # "\\n" (2 bytes of JSON) per 57 bytes
    frames = (limit - 44) // 2  # the largest WAV body: at 22.05 kHz, it decodes to ~600 s
    wav = write_wav(float_to_pcm16(np.resize(signal(60.0, 22050), frames)), 22050)
    flac = encode_file("flac", "flac", np.zeros(seconds * 48000, np.float32), 48000)
    words = "The quick brown fox jumps over the lazy dog. " * (settings.max_text_chars // 45 + 1)
    text = words[: settings.max_text_chars].rsplit(" ", 1)[0]
    json_headers = {"Content-Type": "application/json"}
    return [
        (
            f"JSON base64 PCM16 24 kHz, {len(pcm) / 48000:.0f} s (body at the limit)",
            1,
            (RECOGNIZE, _json_pcm(pcm), json_headers),
        ),
        (
            f"JSON base64 in 76-character lines, {len(lined) / 48000:.0f} s (body at the limit)",
            1,
            (RECOGNIZE, _json_pcm(lined, lines=True), json_headers),
        ),
        (
            f"FLAC 48 kHz, {seconds} s of silence, raw body",
            concurrency,
            (RECOGNIZE, flac, {"Content-Type": "audio/flac"}),
        ),
        (
            f"WAV 16-bit 22.05 kHz mono, {frames / 22050:.0f} s, raw body at the limit",
            1,
            (RECOGNIZE, wav, {"Content-Type": "audio/wav"}),
        ),
        (f"synthesis to MP3, {len(text):,} characters", 1, _synthesis(text, "mp3")),
        (f"synthesis to WAV, {len(text):,} characters", 1, _synthesis(text, "wav")),
    ]


def warm_ups() -> list[Request]:
    """One small request of each kind: imports, codecs and threads exist before the baseline."""
    pcm = float_to_pcm16(signal(1.0, 24000))
    flac = encode_file("flac", "flac", signal(1.0, 48000), 48000)
    wav = write_wav(float_to_pcm16(signal(1.0, 22050)), 22050)
    return [
        (RECOGNIZE, _json_pcm(pcm), {"Content-Type": "application/json"}),
        (RECOGNIZE, flac, {"Content-Type": "audio/flac"}),
        (RECOGNIZE, wav, {"Content-Type": "audio/wav"}),
        _synthesis("Warming up the encoders.", "mp3"),
        _synthesis("Warming up the encoders.", "wav"),
    ]


def bench_settings(upstream_url: str) -> Settings:
    return Settings.from_mapping(
        {
            "AZURE_OPENAI_ENDPOINT": upstream_url + "/",
            "AZURE_OPENAI_KEY": "bench-key",
            "SPEECH_REQUEST_TIMEOUT": "300",
            "LOG_LEVEL": "WARNING",
        }
    )


def serve(upstream_url: str) -> None:
    """The child: the app on 127.0.0.1:0; answers ``baseline`` and ``peak`` on stdin (KiB)."""
    server = make_server("127.0.0.1", 0, create_app(bench_settings(upstream_url)), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(server.server_port, flush=True)
    for line in sys.stdin:
        if line.strip() == "baseline":
            gc.collect()
            print(_status_kib("VmRSS"), flush=True)
            _reset_high_water()
        elif line.strip() == "peak":
            print(_status_kib("VmHWM"), flush=True)


def _post(url: str, request: Request) -> int:
    path, body, headers = request
    response = requests.post(url + path, data=body, headers=headers, timeout=600)
    if response.status_code != 200:
        raise RuntimeError(f"{path}: {response.status_code} {response.text[:200]}")
    return len(response.content)


def measure_request(upstream: Any, clients: int, request: Request) -> dict[str, float]:
    """Baseline and high-water RSS (KiB) of a fresh app process serving ``clients`` requests."""
    upstream.reset()
    command = [sys.executable, __file__, "--serve", upstream.url]
    child_process = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert child_process.stdin is not None and child_process.stdout is not None
    stdin, stdout = child_process.stdin, child_process.stdout

    def ask(what: str) -> int:
        stdin.write(what + "\n")
        stdin.flush()
        return int(stdout.readline())

    try:
        url = f"http://127.0.0.1:{int(stdout.readline())}"
        for warm_up in warm_ups():
            _post(url, warm_up)
        upstream.reset(chunks=1)
        baseline = ask("baseline")
        with ThreadPoolExecutor(clients) as pool:
            sizes = list(pool.map(lambda _: _post(url, request), range(clients)))
        peak = ask("peak")
    finally:
        stdin.close()
        child_process.terminate()
        child_process.wait(10)
    return {"baseline": baseline, "peak": peak, "response": sizes[0]}


def _size(count: int) -> str:
    return f"{count / 1e6:,.1f} MB" if count >= 100_000 else f"{count / 1e3:,.1f} KB"


def requests_table(seconds: int, concurrency: int) -> None:
    realtime_server.audio_for = _reading  # stretch the scripted speech to a real reading's length
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the upstream's access log
    upstream = realtime_server.ScriptedRealtimeServer().start()
    try:
        settings = bench_settings(upstream.url)
        print(
            f"| whole request (body limit {settings.max_body_bytes:,} bytes) | clients | body | "
            "response | baseline RSS | peak RSS | per request |"
        )
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for name, clients, request in request_cases(settings, seconds, concurrency):
            out = measure_request(upstream, clients, request)
            print(
                f"| {name} | {clients} | {_size(len(request[1]))} | {_size(out['response'])} | "
                f"{out['baseline'] / 1024:.0f} MB | {out['peak'] / 1024:.0f} MB | "
                f"{(out['peak'] - out['baseline']) / 1024 / clients:.1f} MB |",
                flush=True,
            )
    finally:
        upstream.stop()


def decode_table(args: argparse.Namespace) -> None:
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
                f"{out['peak_mb']:.0f} MB | {out['per_request_mb']:.1f} MB |",
                flush=True,
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=600, help="length of the long FLAC cases")
    parser.add_argument("--only", choices=("decode", "requests"), help="run one of the two tables")
    parser.add_argument("--child", nargs=3, metavar=("PATH", "LABEL", "RATE"), help=argparse.SUPPRESS)
    parser.add_argument("--serve", metavar="UPSTREAM", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        path, label, rate = args.child
        print(json.dumps(child(path, label or None, int(rate) or None, args.concurrency)))
        return 0
    if args.serve:
        serve(args.serve)
        return 0
    if args.only != "requests":
        decode_table(args)
    if args.only != "decode":
        if args.only is None:
            print()
        requests_table(args.seconds, args.concurrency)
    return 0


if __name__ == "__main__":
    sys.exit(main())
