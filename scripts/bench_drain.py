#!/usr/bin/env python3
"""How ``speech-realtime serve`` stops, per signal (SIGTERM, SIGINT, SIGQUIT).

``serve`` runs in a subprocess over the test suite's scripted Realtime upstream. Before the
signal: a synthesis in flight (six upstream chunks 0.3 s apart, about 2 s), a Speech SDK
synthesis socket whose peer completed the upgrade and then never reads or answers (a silent
peer), and an idle keep-alive connection. After it: how long a new connection made 0.5 s
later takes to be refused (or answered, or given up on), how long the idle connection stays
open, whether the synthesis completes, and when the process exits; then the exit time after
SIGTERM with only the silent peer open.

Everything runs on 127.0.0.1 and every wait has a limit. Prints medians of --runs runs.

Usage: .venv/bin/python scripts/bench_drain.py [--runs N]
"""

from __future__ import annotations

import argparse
import base64
import logging
import os
import signal
import socket
import statistics
import sys
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

#: Any wait gives up after this long (the graceful timeout before this work was 35 s).
LIMIT = 40.0
SIGNALS = {"SIGTERM": signal.SIGTERM, "SIGINT": signal.SIGINT, "SIGQUIT": signal.SIGQUIT}


def silent_peer(port: int) -> socket.socket:
    conn = socket.create_connection(("127.0.0.1", port), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    conn.sendall(
        (
            f"GET /cognitiveservices/websocket/v1 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\nX-ConnectionId: 0123456789abcdef0123456789abcdef\r\n\r\n"
        ).encode()
    )
    if not conn.recv(4096).startswith(b"HTTP/1.1 101"):
        raise RuntimeError("the SDK upgrade was refused")
    return conn


def keep_alive(port: int) -> socket.socket:
    conn = socket.create_connection(("127.0.0.1", port), timeout=5)
    conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    conn.recv(65536)
    return conn


def open_for(conn: socket.socket, since: float) -> float:
    """Seconds from ``since`` until the server closes ``conn`` (LIMIT if it never does)."""
    conn.settimeout(LIMIT)
    try:
        while conn.recv(65536):
            pass
    except OSError:
        pass
    return time.monotonic() - since


def late_connection(port: int) -> tuple[float, str]:
    """A request on a new connection: seconds until it is settled, and how."""
    started = time.monotonic()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=LIMIT) as conn:
            conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            answer = conn.recv(64)
            how = answer.split(b"\r\n")[0].decode() if answer else "closed"
    except ConnectionRefusedError:
        how = "refused"
    except ConnectionResetError:
        how = "reset"
    except TimeoutError:
        how = "hung"
    return time.monotonic() - started, how


def one_run(upstream, signum: int, in_flight: bool = True) -> dict[str, object]:
    from serve_process import SERVE, clean_environ, launch

    env = clean_environ()
    env.update(
        AZURE_OPENAI_ENDPOINT=upstream.url,
        AZURE_OPENAI_KEY="sk-bench-not-a-key",
        AZURE_OPENAI_REALTIME_DEPLOYMENT="gpt-realtime-test",
    )
    upstream.reset(chunks=6, chunk_delay=0.3)
    started = launch(SERVE, env)
    port = started.port
    try:
        silent, idle = silent_peer(port), keep_alive(port)
        result: dict[str, object] = {}

        def synthesize() -> None:
            response = requests.post(
                f"http://127.0.0.1:{port}/api/speech-realtime/synthesize", json={"text": "hi"}, timeout=LIMIT
            )
            result["synthesis"] = f"{response.status_code}, {len(response.content)} bytes"

        flight = threading.Thread(target=synthesize if in_flight else lambda: None, daemon=True)
        flight.start()
        deadline = time.monotonic() + 5
        while in_flight and not upstream.client_events("response.create") and time.monotonic() < deadline:
            time.sleep(0.02)
        sent_at = time.monotonic()
        started.process.send_signal(signum)
        watcher = threading.Thread(target=lambda: result.update(idle=open_for(idle, sent_at)), daemon=True)
        watcher.start()
        time.sleep(0.5)
        result["late"] = late_connection(port)
        started.process.wait(timeout=LIMIT)
        result["exit"] = time.monotonic() - sent_at
        flight.join(LIMIT)
        watcher.join(LIMIT)
        silent.close()
        return result
    finally:
        if started.process.poll() is None:
            started.process.kill()
            started.process.wait(timeout=10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    from realtime_server import ScriptedRealtimeServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    upstream = ScriptedRealtimeServer().start()
    load = os.getloadavg()
    print(f"{os.cpu_count()} cores, load average {load[0]:.2f}; medians of {args.runs} runs\n")
    print("| signal | connection 0.5 s after it | idle keep-alive closed | synthesis in flight | exit |")
    print("| --- | --- | --- | --- | --- |")
    try:
        for name, signum in SIGNALS.items():
            runs = [one_run(upstream, signum) for _ in range(args.runs)]
            late = statistics.median(run["late"][0] for run in runs)
            how = "/".join(sorted({run["late"][1] for run in runs}))
            idle = statistics.median(run["idle"] for run in runs)
            synthesis = "/".join(sorted({str(run.get("synthesis", "cut")) for run in runs}))
            exited = statistics.median(run["exit"] for run in runs)
            print(f"| {name} | {how} in {late:.2f} s | {idle:.2f} s | {synthesis} | {exited:.2f} s |")
        alone = [one_run(upstream, signal.SIGTERM, in_flight=False)["exit"] for _ in range(args.runs)]
        print(f"\nSIGTERM with only the silent SDK socket open: exit after {statistics.median(alone):.2f} s")
    finally:
        upstream.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
