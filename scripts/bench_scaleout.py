#!/usr/bin/env python3
"""Scale-out on one machine: one offline engine, several ``speech-realtime serve`` replicas, and
Debian's nginx in front of them as the load balancer (as deploy/k8s's Ingress would be).

Mixed load from client threads, each cycling through REST synthesis and recognition, a streamed
synthesis, ``/v1/audio/speech``, ``/v1/audio/transcriptions`` and Azure Speech SDK synthesis (its
socket kept open between calls), every call under a time limit (passing it counts as a hang).
Four phases behind a fresh nginx each: one replica; N replicas; N replicas with SIGTERM to one
mid-load (its calls in flight must finish: its drain); N replicas with one killed (SIGKILL to
its process group: the others' calls must all succeed, the killed one's end at once, as nginx's
502 before an answer started or a truncated chunked stream after, never a hang). nginx's
``X-Upstream`` attributes each HTTP call to its replica. nginx is installed with apt-get where
missing (root only), else the run is skipped with the reason. Replicas get 60 s request and
receive timeouts and a 60 s client timeout (an SDK turn's limit without progress): a loaded
engine may pause longer than the defaults (15 s, 10 s) between events.

Usage: .venv/bin/python scripts/bench_scaleout.py [--quick] [--replicas N] [--clients N] [--seconds S]
"""

from __future__ import annotations

import argparse
import base64
import functools
import http.client
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from balancer import balancer, nginx_or_reason  # noqa: E402

from speech_realtime.engine.process import EngineProcess  # noqa: E402

TEXT = "Replicas behind one address share the load, and a stopped one finishes its work."
#: Seconds one call may take before it counts as a hang (2 loaded cores, models on the CPU).
CALL_LIMIT = 90.0
START_LIMIT, EXIT_LIMIT = 60.0, 45.0  # seconds a replica may take to start, and to exit
KINDS = ("synthesize", "recognize", "stream", "openai-speech", "openai-transcribe", "sdk-synthesis")


@dataclass
class Call:
    """One client call: what, when, on which replica, and how it ended."""

    kind: str
    started: float
    ended: float
    outcome: str  # ok, error, truncated, hang
    upstream: str = ""
    detail: str = ""


@dataclass
class Replica:
    """One ``serve`` replica: its process (the leader of a process group) and its port."""

    process: subprocess.Popen
    port: int

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


def start_replica(engine_url: str) -> Replica:
    """``speech-realtime serve`` on a free port, in a process group of its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "OPENAI_", "SPEECH_"))}
    env.update(
        SPEECH_ENGINE_URL=engine_url,
        SPEECH_FORWARDED_ALLOW_IPS="127.0.0.1",
        SPEECH_REQUEST_TIMEOUT="60",
        SPEECH_RECEIVE_TIMEOUT="60",
        SPEECH_CLIENT_TIMEOUT="60",  # also an SDK turn's limit without progress
    )
    command = [sys.executable, "-m", "speech_realtime", "serve", "--port", "0"]
    process = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        start_new_session=True,
    )
    assert process.stderr is not None
    timer = threading.Timer(START_LIMIT, process.kill)
    timer.start()
    log: list[str] = []
    for line in process.stderr:
        log.append(line)
        if found := re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", line):
            timer.cancel()
            threading.Thread(target=process.stderr.read, daemon=True).start()  # keeps the pipe drained
            return Replica(process, int(found.group(1)))
    raise RuntimeError("a replica did not start:\n" + "".join(log[-20:]))


def stop(replica: Replica) -> None:
    if replica.process.poll() is None:
        os.killpg(replica.process.pid, signal.SIGKILL)
    replica.process.wait(timeout=EXIT_LIMIT)


# -- the clients --------------------------------------------------------------------------------


def audio(data: bytes) -> bool:
    """More than a WAV header: some speech."""
    return len(data) > 8000


def text(data: bytes) -> bool:
    """A JSON answer with some recognized text."""
    try:
        return bool(json.loads(data).get("text", "").strip())
    except (ValueError, AttributeError):
        return False


def http_call(
    port: int, path: str, body: bytes, content_type: str, valid: Callable[[bytes], bool], stream: bool = False
) -> tuple[str, str, str]:
    """(outcome, upstream, detail) of one POST through the balancer; ``valid`` judges the body."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=CALL_LIMIT)
    try:
        conn.request("POST", path, body, {"Content-Type": content_type, "Connection": "close"})
        response = conn.getresponse()
        upstream = response.getheader("X-Upstream", "")
        try:
            data = response.read() if not stream else b"".join(iter(lambda: response.read1(65536), b""))
        except http.client.IncompleteRead:
            return "truncated", upstream, f"{response.status}, chunked stream ended without its last chunk"
        if response.status != 200 or not valid(data):
            return "error", upstream, f"{response.status} {len(data)} bytes {data[:100]!r}"
        return "ok", upstream, ""
    except (OSError, http.client.HTTPException) as exc:
        return "error", "", type(exc).__name__
    finally:
        conn.close()


def multipart(fields: dict[str, str], name: str, filename: str, data: bytes) -> tuple[bytes, str]:
    boundary = "bench-scaleout-boundary"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
        for k, v in fields.items()
    ]
    head = f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
    body = "".join(parts).encode() + head.encode() + b"Content-Type: audio/wav\r\n\r\n" + data
    return body + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


class Client:
    """One client thread's calls, cycling through :data:`KINDS` from ``offset``."""

    def __init__(self, port: int, wav: bytes, offset: int) -> None:
        self.port = port
        self.offset = offset
        self.synthesizer = None
        speech = json.dumps({"text": TEXT, "format": "wav"}).encode()
        recognize = json.dumps({"audioData": base64.b64encode(wav).decode(), "format": "wav"}).encode()
        openai_speech = json.dumps(
            {"model": "tts-1", "voice": "alloy", "input": TEXT, "response_format": "wav"}
        )
        upload, upload_type = multipart({"model": "whisper-1"}, "file", "speech.wav", wav)
        self.calls: dict[str, Callable[[], tuple[str, str, str]]] = {
            "synthesize": lambda: http_call(
                port, "/api/speech-realtime/synthesize", speech, "application/json", audio
            ),
            "recognize": lambda: http_call(
                port, "/api/speech-realtime/recognize", recognize, "application/json", text
            ),
            "stream": lambda: http_call(
                port, "/api/speech-realtime/synthesize/stream", speech, "application/json", audio, stream=True
            ),
            "openai-speech": lambda: http_call(
                port, "/v1/audio/speech", openai_speech.encode(), "application/json", audio
            ),
            "openai-transcribe": lambda: http_call(
                port, "/v1/audio/transcriptions", upload, upload_type, text
            ),
            "sdk-synthesis": self.sdk_synthesis,
        }

    def sdk_synthesis(self) -> tuple[str, str, str]:
        import azure.cognitiveservices.speech as speechsdk

        if self.synthesizer is None:
            config = speechsdk.SpeechConfig(host=f"ws://127.0.0.1:{self.port}")
            self.synthesizer = speechsdk.SpeechSynthesizer(config, audio_config=None)
        result = self.synthesizer.speak_text_async(TEXT).get()
        if result.reason == speechsdk.ResultReason.SynthesizingAudioCompleted:
            return "ok", "", ""
        self.synthesizer = None  # a fresh socket next time
        details = result.cancellation_details
        return "error", "", f"{details.reason} {details.error_details[:100]}"

    def run(self, until: float, calls: list[Call], lock: threading.Lock) -> None:
        turn = self.offset
        while time.monotonic() < until:
            kind = KINDS[turn % len(KINDS)]
            turn += 1
            started = time.monotonic()
            box: list[tuple[str, str, str]] = []
            worker = threading.Thread(target=attempt, args=(self.calls[kind], box), daemon=True)
            worker.start()
            worker.join(CALL_LIMIT)
            outcome, upstream, detail = box[0] if box else ("hang", "", f"no end within {CALL_LIMIT:g} s")
            if not box:
                self.synthesizer = None
            with lock:
                calls.append(Call(kind, started, time.monotonic(), outcome, upstream, detail))


def attempt(call: Callable[[], tuple[str, str, str]], box: list[tuple[str, str, str]]) -> None:
    """``call()``'s outcome into ``box``; a failure of the client itself is an error, not a hang."""
    try:
        box.append(call())
    except Exception as exc:  # the bench reports every failure, whatever it is
        box.append(("error", "", f"client failed: {exc!r}"[:160]))


def drive(
    port: int, wav: bytes, clients: int, seconds: float, event: Callable[[], None] | None = None
) -> list[Call]:
    """``clients`` threads calling through the balancer for ``seconds``; ``event`` at 40 % of it."""
    calls: list[Call] = []
    lock = threading.Lock()
    until = time.monotonic() + seconds
    threads = [
        threading.Thread(target=Client(port, wav, n).run, args=(until, calls, lock), daemon=True)
        for n in range(clients)
    ]
    for thread in threads:
        thread.start()
    if event is not None:
        time.sleep(seconds * 0.4)
        event()
    for thread in threads:
        thread.join(seconds + 2 * CALL_LIMIT)
    return calls


# -- the report ---------------------------------------------------------------------------------


def summary(name: str, calls: list[Call]) -> tuple[str, list[str]]:
    """The phase's table row (successful calls a second over its span, failures, per kind the
    count and median seconds), and notes: the calls per replica and each kind of failure."""
    ok = [c for c in calls if c.outcome == "ok"]
    span = max(c.ended for c in calls) - min(c.started for c in calls) if calls else float("nan")
    row = f"| {name} | {len(ok) / span:.2f} | {len(calls) - len(ok)} |"
    for kind in KINDS:
        mine = [c for c in ok if c.kind == kind]
        median = statistics.median(c.ended - c.started for c in mine) if mine else float("nan")
        row += f" {len(mine)} / {median:.1f} |"
    spread: dict[str, int] = {}
    for c in calls:
        key = c.upstream.split(", ")[-1] or "(SDK socket)"
        spread[key] = spread.get(key, 0) + 1
    notes = [f"{name}: calls per replica " + ", ".join(f"{k} {n}" for k, n in sorted(spread.items()))]
    notes += sorted({f"  - {c.kind}: {c.outcome} {c.detail}" for c in calls if c.outcome != "ok"})
    return row, notes


def on(calls: list[Call], replica: Replica) -> list[Call]:
    """The HTTP calls nginx sent to ``replica`` (the SDK's calls carry no X-Upstream)."""
    return [c for c in calls if replica.address in c.upstream.split(", ")[-1:]]


def disrupted(name: str, calls: list[Call], victim: Replica, at: float, exit_at: float | None) -> list[str]:
    """What the disruption did: the victim's calls in flight, everyone else's, the SDK's."""
    mine = on(calls, victim)
    in_flight = [c for c in mine if c.started < at < c.ended]
    others = [c for c in calls if c.upstream and c not in mine]
    sdk = [c for c in calls if c.kind == "sdk-synthesis"]
    after = [c for c in calls if c.started > at]

    def outcomes(group: list[Call]) -> str:
        counts: dict[str, int] = {}
        for c in group:
            counts[c.outcome] = counts.get(c.outcome, 0) + 1
        return ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "none"

    exit_note = f"exited {exit_at - at:.1f} s after the signal" if exit_at else "killed"
    lines = [
        f"**{name}** (the victim {victim.address}, {exit_note})",
        f"- victim's HTTP calls in flight at the signal: {outcomes(in_flight)}",
        f"- other replicas' HTTP calls: {outcomes(others)}",
        f"- calls started after the signal (any replica): {outcomes(after)}",
        f"- Azure SDK synthesis calls (socket kept open, replica not visible): {outcomes(sdk)}",
        f"- hangs: {sum(c.outcome == 'hang' for c in calls)}",
    ]
    lines += [
        f"  - in flight: {c.kind} started {at - c.started:.1f} s before, ended {c.ended - at:.1f} s after: "
        f"{c.outcome} {c.detail[:60]}"
        for c in in_flight
    ]
    return lines


def strike(victim: Replica, signum: int, marks: dict[str, float]) -> None:
    """SIGTERM to the replica's master (its drain; ``marks["exit"]`` when it has exited), or
    SIGKILL to its whole process group (master and workers die at once)."""
    marks["at"] = time.monotonic()
    if signum == signal.SIGKILL:
        os.killpg(victim.process.pid, signum)
        return
    victim.process.send_signal(signum)

    def exited() -> None:
        victim.process.wait()
        marks["exit"] = time.monotonic()

    threading.Thread(target=exited, daemon=True).start()


def speech_wav(replica: Replica) -> bytes:
    conn = http.client.HTTPConnection("127.0.0.1", replica.port, timeout=CALL_LIMIT)
    conn.request(
        "POST",
        "/api/speech-realtime/synthesize",
        json.dumps({"text": TEXT, "format": "wav"}),
        {"Content-Type": "application/json"},
    )
    response = conn.getresponse()
    data = response.read()
    if response.status != 200:
        raise RuntimeError(f"could not make the recognition input: {response.status} {data[:200]!r}")
    return data


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 replicas (else 3), 15 s a phase (else 60)")
    parser.add_argument("--replicas", type=int)
    parser.add_argument("--clients", type=int)
    parser.add_argument("--seconds", type=float)
    args = parser.parse_args()
    count = args.replicas or (2 if args.quick else 3)
    clients = args.clients or len(KINDS)
    seconds = args.seconds or (15.0 if args.quick else 60.0)
    nginx, reason = nginx_or_reason()
    if nginx is None:
        print(f"skipped: {reason}")
        return 0
    version = subprocess.run([nginx, "-v"], capture_output=True, text=True).stderr.strip()
    print(
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; {version}; {count} replicas, "
        f"{clients} clients, {seconds:g} s a phase"
    )
    engine = EngineProcess.start()
    replicas: list[Replica] = []
    try:
        replicas = [start_replica(engine.url) for _ in range(count)]
        wav = speech_wav(replicas[0])
        header = "| phase | calls/s ok | failed | " + " | ".join(f"{k} n / median s" for k in KINDS) + " |"
        table = [header, "|" + " --- |" * (3 + len(KINDS))]
        notes: list[str] = []
        for name, upstreams in (("1 replica", replicas[:1]), (f"{count} replicas", replicas)):
            with balancer(nginx, [r.address for r in upstreams]) as port:
                row, more = summary(name, drive(port, wav, clients, seconds))
            table.append(row)
            notes += more
        for name, signum in (("SIGTERM", signal.SIGTERM), ("SIGKILL", signal.SIGKILL)):
            victim = replicas[0]
            marks: dict[str, float] = {}
            with balancer(nginx, [r.address for r in replicas]) as port:
                calls = drive(port, wav, clients, seconds, functools.partial(strike, victim, signum, marks))
            row, more = summary(f"{count} replicas, {name} to one", calls)
            table.append(row)
            notes += [*more, *disrupted(name, calls, victim, marks["at"], marks.get("exit")), ""]
            stop(victim)
            replicas[0] = start_replica(engine.url)
        print("\n".join(table))
        print()
        print("\n".join(notes))
        print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    finally:
        for replica in replicas:
            stop(replica)
        engine.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
