"""Shared by the measurement scripts: the service on loopback, backed by a real engine process."""

from __future__ import annotations

import http.client
import json
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from werkzeug.serving import make_server

from speech_realtime.cli import EngineProcess
from speech_realtime.config import Settings
from speech_realtime.web import create_app


@dataclass
class Service:
    host: str
    port: int
    engine: EngineProcess

    def post(self, path: str, body: dict) -> tuple[bytes, float, float]:
        """(body, seconds to first body byte, seconds in all) of one POST."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=900)
        started = time.perf_counter()
        conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        response = conn.getresponse()
        first = response.read1(65536) if hasattr(response, "read1") else response.read(1)
        first_at = time.perf_counter() - started
        rest = response.read()
        total = time.perf_counter() - started
        conn.close()
        if response.status != 200:
            raise RuntimeError(f"{path}: HTTP {response.status}: {(first + rest)[:200]!r}")
        return first + rest, first_at, total


def rss_mib(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@contextmanager
def running_service(request_timeout: float = 120) -> Iterator[Service]:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    engine = EngineProcess.start()
    env = {"SPEECH_ENGINE_URL": engine.url, "SPEECH_REQUEST_TIMEOUT": str(request_timeout)}
    settings = Settings.from_mapping(env)
    server = make_server("127.0.0.1", 0, create_app(settings), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield Service("127.0.0.1", server.server_port, engine)
    finally:
        server.shutdown()
        engine.stop()
