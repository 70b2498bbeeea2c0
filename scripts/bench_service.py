"""The processes and the requests of scripts/bench.py: the engine (real or fake models, with
injected delay), ``speech-realtime serve`` over it with its worker's pid, a timed HTTP request
(recording the service's upstream connect from ``Server-Timing``), and a direct Realtime client
that connects for each turn."""

from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from speech_realtime.config import Settings
from speech_realtime.engine.process import EngineProcess
from speech_realtime.realtime.events import Kind, parse_server_event
from speech_realtime.realtime.session import Synthesis, Transcription
from speech_realtime.realtime.transport import Connection, endpoint_for

ROOT = Path(__file__).resolve().parent.parent
#: Seconds any one request may take (64 at once on two loaded cores).
LIMIT = 300.0
#: (ms, pooled) of every upstream connect the service reported in Server-Timing, per operation.
CONNECTS: list[tuple[float, bool]] = []
CONNECTS_LOCK = threading.Lock()


# -- the processes -------------------------------------------------------------------------------


#: The engine on the test suite's fake models (a tone per word, canned transcripts), in a child
#: process: the transport and the service measured without the models' compute.
FAKE_ENGINE = """
import sys
sys.path.insert(0, "tests")
from engine_fixtures import FakeModels
from speech_realtime.engine.server import EngineServer
server = EngineServer(models=FakeModels(), latency=float(sys.argv[1]) / 1000)
print("engine listening on " + server.url, flush=True)
server.serve_forever()
"""


def start_engine(latency_ms: float, models: str) -> EngineProcess:
    if models == "fake":
        command = [sys.executable, "-c", FAKE_ENGINE, str(latency_ms)]
        child = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
        assert child.stdout is not None
        url = child.stdout.readline().strip().removeprefix(EngineProcess.READY)
        return EngineProcess(child, url)
    os.environ["SPEECH_ENGINE_LATENCY_MS"] = str(latency_ms)
    try:
        return EngineProcess.start(timeout=300)
    finally:
        del os.environ["SPEECH_ENGINE_LATENCY_MS"]


@dataclass
class Served:
    process: subprocess.Popen[str]
    host: str
    port: int
    workers: list[int]  # the worker processes' pids


@contextmanager
def serve(engine_url: str, pool: int, sessions: int, workers: int = 1) -> Iterator[Served]:
    """``speech-realtime serve`` (``workers`` processes) over the engine, with a pool of ``pool``
    per worker."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "OPENAI_", "SPEECH_"))}
    env.update(
        PYTHONPATH=str(ROOT),
        SPEECH_ENGINE_URL=engine_url,
        SPEECH_POOL_SIZE=str(pool),
        SPEECH_MAX_SESSIONS=str(sessions),
        SPEECH_REQUEST_TIMEOUT=str(LIMIT),
        SPEECH_CLIENT_TIMEOUT="60",
        SPEECH_RECEIVE_TIMEOUT=str(LIMIT),  # a loaded engine may be silent for long, as for the direct client
        LOG_LEVEL="INFO",  # gunicorn says where it listens and its worker's pid at INFO
    )
    command = [sys.executable, "-m", "speech_realtime", "serve", "--host", "127.0.0.1", "--port", "0"]
    command += ["--workers", str(workers)]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=ROOT
    )  # stdout: the access log
    watchdog = threading.Timer(120, process.kill)
    watchdog.start()
    assert process.stderr is not None
    port = None
    pids: list[int] = []
    for line in process.stderr:
        if found := re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", line):
            port = int(found[1])
        if found := re.search(r"Booting worker with pid: (\d+)", line):
            pids.append(int(found[1]))
        if port and len(pids) == workers:
            break
    watchdog.cancel()
    threading.Thread(target=process.stderr.read, daemon=True).start()  # keep the pipe drained
    try:
        if not (port and len(pids) == workers):
            raise RuntimeError("serve did not start")
        served = Served(process, "127.0.0.1", port, pids)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if request(served, "GET", "/healthz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.2)
        time.sleep(max(1.0, pool * 0.05))  # the pool fills
        yield served
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def reset_peak(served: Served) -> None:
    """Every worker's VmHWM back to its current RSS (Linux 4.0+, as root or the owner)."""
    for pid in served.workers:
        Path(f"/proc/{pid}/clear_refs").write_text("5")


def peak_mib(served: Served) -> list[float]:
    """Every worker's peak RSS (VmHWM) in MiB."""
    return [_peak_mib(pid) for pid in served.workers]


def _peak_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# -- one request each way ------------------------------------------------------------------------


def request(
    served: Served, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, float, float, bytes]:
    """(status, seconds to the first body bytes, seconds in all, body) of one request."""
    conn = http.client.HTTPConnection(served.host, served.port, timeout=LIMIT)
    try:
        started = time.perf_counter()
        conn.request(method, path, body, headers or {})
        response = conn.getresponse()
        if (connect := connect_timing(response.getheader("Server-Timing", ""))) is not None:
            with CONNECTS_LOCK:
                CONNECTS.append(connect)
        first = response.read1(65536)
        first_at = time.perf_counter() - started
        rest = response.read()
        return response.status, first_at, time.perf_counter() - started, first + rest
    finally:
        conn.close()


def post_json(served: Served, path: str, body: dict) -> tuple[float, float]:
    status, first, total, data = request(
        served, "POST", path, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    if status != 200:
        raise RuntimeError(f"{path}: HTTP {status}: {data[:200]!r}")
    return first, total


def connect_timing(header: str) -> tuple[float, bool] | None:
    """(ms, pooled) of the upstream connect in a Server-Timing header."""
    found = re.search(r'connect;dur=([0-9.]+);desc="[^"]*\((\w+)\)"', header)
    return (float(found[1]), found[2] == "pooled") if found else None


def direct_turn(engine_url: str, make: Callable[[], Synthesis | Transcription]) -> tuple[float, float]:
    """(first delta, total) seconds of one turn by a client that connects for it."""
    endpoint = endpoint_for(Settings(engine_url=engine_url))
    started = time.perf_counter()
    first = None
    turn = make()
    with Connection.open(endpoint, {}, timeout=LIMIT) as conn:
        for event in turn.start():
            conn.send(event)
        while not turn.done:
            event = parse_server_event(conn.receive(started + LIMIT, LIMIT))
            if first is None and event.kind in (Kind.AUDIO_DELTA, Kind.TRANSCRIPTION_COMPLETED):
                first = time.perf_counter() - started
            for answer in turn.feed(event):
                conn.send(answer)
    total = time.perf_counter() - started
    return (first if first is not None else total), total
