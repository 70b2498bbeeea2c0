"""How cheap routes answer while slow, idle and long-lived clients hold connections.

Starts the service under gunicorn on 127.0.0.1 (backed by the scripted Realtime server of the
tests, so no models and no cloud) with one worker model, applies each load in turn and times
``GET /api/speech-realtime/info`` meanwhile:

- ``idle``: 50 TCP connections that send nothing;
- ``slow-headers``: 8 clients sending their request headers at 1 byte/s;
- ``slow-body``: 8 clients sending headers, then a JSON body at 1 byte/s;
- ``stalled-readers``: 8 clients that start a 40 s streamed synthesis and never read it (also
  reported: when their upstream sessions were released, and whether the readers were dropped);
- ``websockets``: 64 idle WebSockets (a test echo route) held open, and whether the last echoes;
- ``saturate``: 40 streamed syntheses at once with 32 sessions allowed (how many get 200 or 503);
- ``cpu``: 2 clients asking back to back for a 4,096-character reading as MP3 (encoding is CPU);
- ``slowloris``: 200 clients sending request headers at 1 byte/s, each reconnecting at once
  when it is answered 408 or dropped (also timed: ``/healthz``);
- ``sdk-slowloris``: 64 idle WebSockets plus 48 such reconnecting slow senders.

Worker models: ``speech`` (what ``speech-realtime serve`` runs: web/server.py's SpeechWorker
and thread budget), ``gthread8`` (the former configuration: stock gthread, 8 threads) and
``gevent`` (gunicorn's evented worker; gevent is not a dependency: install it aside, e.g.
``pip install --target /tmp/gevent-lib gevent`` and run with ``PYTHONPATH=/tmp/gevent-lib``).

Usage: .venv/bin/python scripts/bench_concurrency.py [--model speech|gthread8|gevent] [--only S]
All load goes to 127.0.0.1, bounded in count and in time (each /info try gives up after 60 s).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import logging
import os
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

INFO = "/api/speech-realtime/info"
STREAM = "/api/speech-realtime/synthesize/stream"
SYNTHESIZE = "/api/speech-realtime/synthesize"
TRY_LIMIT = 60.0
LONG_TEXT = "This sentence is read slowly. " * 120


def child(model: str) -> None:
    """Run in the server process: the service plus an echo WebSocket route, under ``model``."""
    from flask_sock import Sock

    from speech_realtime.config import Settings
    from speech_realtime.web import create_app
    from speech_realtime.web.server import SpeechServer, server_options

    settings = Settings.load(None)
    app = create_app(settings)
    sock = Sock(app)

    @sock.route("/bench/ws")
    def echo(ws):  # type: ignore[no-untyped-def]
        while True:
            ws.send(ws.receive())

    options = server_options(settings, host="127.0.0.1", port=0)
    options["accesslog"] = None
    if model == "gthread8":
        options.update(worker_class="gthread", threads=8, control_socket_disable=False)
    elif model == "gevent":
        options.update(worker_class="gevent", worker_connections=1000)
    SpeechServer(app, options, settings).run()


@contextlib.contextmanager
def service(model: str, upstream_url: str) -> Iterator[int]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "OPENAI_", "SPEECH_"))}
    env.update(
        AZURE_OPENAI_ENDPOINT=upstream_url,
        AZURE_OPENAI_KEY="bench",
        PYTHONPATH=os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH")))),
    )
    process = subprocess.Popen(
        [sys.executable, __file__, "--child", model], env=env, stderr=subprocess.PIPE, text=True
    )
    watchdog = threading.Timer(60, process.kill)
    watchdog.start()
    port = None
    assert process.stderr is not None
    for line in process.stderr:
        found = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", line)
        if found:
            port = int(found.group(1))
            break
    watchdog.cancel()
    threading.Thread(target=process.stderr.read, daemon=True).start()  # keep draining its log
    try:
        assert port, "the service did not start"
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def info_latency(port: int, path: str = INFO) -> float:
    """Seconds for one GET ``path`` on a fresh connection (TRY_LIMIT if it never came)."""
    started = time.perf_counter()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=TRY_LIMIT) as conn:
            conn.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
            conn.settimeout(max(0.1, TRY_LIMIT - (time.perf_counter() - started)))
            head = conn.recv(64)
            if not head.startswith(b"HTTP/1.1 200"):
                return float("nan")
    except OSError:
        return TRY_LIMIT
    return time.perf_counter() - started


def sample(port: int, count: int, spread: float, path: str = INFO) -> list[float]:
    """``count`` latencies of ``path``, started ``spread / count`` seconds apart (or back to back
    if slower)."""
    latencies = []
    started = time.perf_counter()
    for index in range(count):
        time.sleep(max(0.0, started + index * spread / count - time.perf_counter()))
        latencies.append(info_latency(port, path))
    return latencies


class Load:
    """Client sockets applying one kind of load from background threads until :meth:`stop`."""

    def __init__(self) -> None:
        self.stopping = threading.Event()
        self.sockets: list[socket.socket] = []
        self.threads: list[threading.Thread] = []

    def connect(self, port: int, rcvbuf: int | None = None) -> socket.socket:
        conn = socket.socket()
        if rcvbuf:
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        conn.settimeout(10)
        conn.connect(("127.0.0.1", port))
        self.sockets.append(conn)
        return conn

    def trickle(self, conn: socket.socket, data: bytes) -> None:
        def run() -> None:
            for byte in data:
                if self.stopping.wait(1.0):
                    return
                try:
                    conn.send(bytes([byte]))
                except OSError:
                    return

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        self.threads.append(thread)

    def reconnecting_trickle(self, port: int, data: bytes) -> None:
        """A slow sender that starts over on a new connection whenever it is answered or dropped."""

        def run() -> None:
            while not self.stopping.is_set():
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=15) as conn:
                        for byte in data:
                            if self.stopping.wait(1.0):
                                return
                            conn.send(bytes([byte]))
                except OSError:
                    self.stopping.wait(0.05)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        self.threads.append(thread)

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=5)
        for conn in self.sockets:
            conn.close()


def idle(port: int, load: Load) -> None:
    for _ in range(50):
        load.connect(port)


def slow_headers(port: int, load: Load) -> None:
    for _ in range(8):
        load.trickle(
            load.connect(port),
            f"GET {INFO} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: {'a' * 200}\r\n\r\n".encode(),
        )


def slowloris(port: int, load: Load, senders: int = 200) -> None:
    head = f"GET {INFO} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: {'a' * 200}\r\n\r\n".encode()
    for _ in range(senders):
        load.reconnecting_trickle(port, head)


def sdk_slowloris(port: int, load: Load) -> None:
    websockets(port, load)
    slowloris(port, load, senders=48)


def slow_body(port: int, load: Load) -> None:
    body = json.dumps({"text": "slow " * 100}).encode()
    head = (
        f"POST {STREAM} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    for _ in range(8):
        conn = load.connect(port)
        conn.sendall(head)
        load.trickle(conn, body)


def stalled_readers(port: int, load: Load) -> None:
    body = json.dumps({"text": LONG_TEXT, "voiceName": "alloy"}).encode()
    for _ in range(8):
        conn = load.connect(port, rcvbuf=4096)
        conn.sendall(
            f"POST {STREAM} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )


def saturate(port: int, load: Load) -> None:
    body = json.dumps({"text": "A short sentence, read slowly.", "voiceName": "alloy"}).encode()
    for _ in range(40):
        conn = load.connect(port)
        conn.sendall(
            f"POST {STREAM} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )


def statuses(load: Load) -> str:
    """The status of each of the load's requests, as far as answered (read for 10 s at most)."""
    counts: dict[str, int] = {}
    deadline = time.monotonic() + 10
    for conn in load.sockets:
        conn.settimeout(max(0.01, min(2.0, deadline - time.monotonic())))
        try:
            head = conn.recv(12)
            status = head[9:12].decode() if head.startswith(b"HTTP/1.1 ") else "closed"
        except OSError:
            status = "no answer"
        counts[status] = counts.get(status, 0) + 1
    return ", ".join(f"{count} x {status}" for status, count in sorted(counts.items()))


def websockets(port: int, load: Load) -> None:
    import websocket

    opened: list[websocket.WebSocket] = []
    failures: list[str] = []

    def opener() -> None:
        for _ in range(64):
            if load.stopping.is_set():
                return
            try:
                opened.append(websocket.create_connection(f"ws://127.0.0.1:{port}/bench/ws", timeout=10))
            except Exception as exc:
                failures.append(type(exc).__name__)
                continue
            load.sockets.append(opened[-1].sock)

    thread = threading.Thread(target=opener, daemon=True)
    thread.start()
    thread.join(timeout=90)
    echoes = False
    if opened:
        with contextlib.suppress(Exception):
            opened[-1].send("ping")
            echoes = opened[-1].recv() == "ping"
    print(
        f"  websockets open: {len(opened)} of 64 ({len(failures)} refused or timed out: "
        f"{', '.join(sorted(set(failures))) or '-'}); the last one opened echoes: {echoes}",
        flush=True,
    )


def upstream_sessions(upstream_port: int) -> int:
    """Established connections to the scripted upstream (its side), read from /proc/net/tcp."""
    wanted = f":{upstream_port:04X}"
    lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return sum(1 for line in lines if line.split()[1].endswith(wanted) and line.split()[3] == "01")


def sessions_released(upstream_port: int, started: float, limit: float) -> str:
    """Seconds from ``started`` until no upstream session is open (polled), or ``> limit s``."""
    while time.perf_counter() - started < limit:
        if upstream_sessions(upstream_port) == 0:
            return f"{time.perf_counter() - started:.1f} s"
        time.sleep(0.25)
    return f"> {limit:g} s ({upstream_sessions(upstream_port)} still open)"


def dropped(load: Load) -> int:
    """How many of the load's connections the service has closed (read to EOF within 2 s)."""
    count = 0
    for conn in load.sockets:
        deadline = time.monotonic() + 2
        try:
            while time.monotonic() < deadline:
                conn.settimeout(max(0.01, deadline - time.monotonic()))
                if not conn.recv(65536):
                    count += 1
                    break
        except ConnectionResetError:
            count += 1
        except OSError:
            pass
    return count


def mp3_readings(port: int, load: Load) -> None:
    body = json.dumps({"text": LONG_TEXT, "voiceName": "alloy", "format": "mp3"})

    def run() -> None:
        while not load.stopping.is_set():
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TRY_LIMIT)
            try:
                conn.request("POST", SYNTHESIZE, body, {"Content-Type": "application/json"})
                conn.getresponse().read()
            except OSError:
                pass
            finally:
                conn.close()

    for _ in range(2):
        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        load.threads.append(thread)


SCENARIOS: dict[str, Callable[[int, Load], None]] = {
    "idle": idle,
    "slow-headers": slow_headers,
    "slow-body": slow_body,
    "stalled-readers": stalled_readers,
    "websockets": websockets,
    "saturate": saturate,
    "cpu": mp3_readings,
    "slowloris": slowloris,
    "sdk-slowloris": sdk_slowloris,
}
#: The scripted upstream per scenario: a 40 s stream of 1.9 MB by default (192 KB for
#: ``saturate``, whose 40 sessions would otherwise keep the scripted server busy); at once for ``cpu``.
UPSTREAM = {"cpu": {"chunks": 50, "chunk_delay": 0.0}, "saturate": {"chunks": 400, "chunk_delay": 0.1}}
SLOW_STREAM = {"chunks": 2000, "chunk_delay": 0.02}


def describe(values: list[float]) -> str:
    return f"median {statistics.median(values) * 1000:8.1f} ms, max {max(values) * 1000:8.1f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=("speech", "gthread8", "gevent"), default="speech")
    parser.add_argument("--samples", type=int, default=12, help="/info requests per scenario")
    parser.add_argument("--spread", type=float, default=12, help="seconds the requests are spread over")
    parser.add_argument("--only", choices=tuple(SCENARIOS), action="append", help="run only these")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return 0

    from realtime_server import ScriptedRealtimeServer

    upstream = ScriptedRealtimeServer().start()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    print(f"model {args.model}: /info latency, {args.samples} requests per scenario")
    with service(args.model, upstream.url) as port:
        print(f"{'no load':16} {describe(sample(port, args.samples, 0))}", flush=True)
        for name in args.only or SCENARIOS:
            upstream.reset(**UPSTREAM.get(name, SLOW_STREAM))
            load = Load()
            started = time.perf_counter()
            SCENARIOS[name](port, load)
            time.sleep(1.0)  # let the load reach the server before timing
            print(f"{name:16} {describe(sample(port, args.samples, args.spread))}", flush=True)
            if name == "stalled-readers":
                released = sessions_released(upstream.port, started, limit=60)
                print(
                    f"  upstream sessions of the stalled readers released after {released}; "
                    f"{dropped(load)} of 8 stalled readers dropped by the service",
                    flush=True,
                )
            if name == "slowloris":
                print(f"{'  /healthz':16} {describe(sample(port, args.samples, args.spread, '/healthz'))}")
            if name == "saturate":
                print(f"  40 streams asked for, 32 sessions allowed: {statuses(load)}", flush=True)
            load.stop()
    upstream.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
