#!/usr/bin/env python3
"""What metrics, request ids, JSON logging and auth add to a request, on this machine.

Two apps over the test suite's scripted Realtime upstream, in this process, measured in one run
with their requests interleaved (so load on the machine moves both alike):

- **off**: the app without the request-id and request-metrics hooks, and gunicorn's plain text
  access line for each request (what every request cost before);
- **on**: the app as it is built (request ids and per-request metrics), and the JSON access
  line of ``LOG_FORMAT=json`` for each request.

The service metrics the lower layers record (sessions, tokens, audio seconds: a few counter
increments per upstream session) cannot be switched off, so both arms include them.

Both access lines go to /dev/null through gunicorn's own logger classes. Requests go through
the WSGI app with werkzeug's test client (no sockets), so the figures are the app's own cost.
Prints the median of each and the difference for ``GET /api/speech-realtime/info`` and a small
``POST /api/speech-realtime/synthesize`` (one upstream session each).

Then auth, the same way: the app as it is built with ``SPEECH_API_KEYS`` unset (**off**) and set
(**on**), every request sending an ``X-API-Key`` (ignored when auth is off), both with the JSON
access line, so the key check is the only difference.

Usage: .venv/bin/python scripts/bench_ops.py [--runs N]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from gunicorn import glogging  # noqa: E402
from gunicorn.config import Config  # noqa: E402
from realtime_server import ScriptedRealtimeServer  # noqa: E402

from speech_realtime.config import Settings  # noqa: E402
from speech_realtime.logs import attach  # noqa: E402
from speech_realtime.web import create_app  # noqa: E402
from speech_realtime.web.access_log import TEXT_ACCESS_FORMAT, logger_class  # noqa: E402

BENCH_KEY = "bench-api-key-0123456789"  # made up, for this process only

#: The modules whose hooks the "off" app goes without.
OPS_HOOKS = ("speech_realtime.web.request_ids", "speech_realtime.web.request_metrics")


def without_ops_hooks(app: Any) -> Any:
    """``app`` without the request-id and request-metrics hooks."""
    for registry in (app.before_request_funcs, app.after_request_funcs, app.teardown_request_funcs):
        for name, hooks in registry.items():
            registry[name] = [hook for hook in hooks if hook.__module__ not in OPS_HOOKS]
    return app


def access_logger(json_lines: bool) -> glogging.Logger:
    cfg = Config()
    cfg.set("accesslog", os.devnull)
    if json_lines:
        return logger_class("json")(cfg)
    cfg.set("access_log_format", TEXT_ACCESS_FORMAT)
    return glogging.Logger(cfg)


def timed(client: Any, access: glogging.Logger, call: Callable[[Any], Any]) -> float:
    """Seconds for one request through the app, its body read, and its access line."""
    started = time.perf_counter()
    response = call(client)
    body = response.get_data()
    response.close()
    took = time.perf_counter() - started
    resp = SimpleNamespace(status=response.status, headers=list(response.headers.items()), sent=len(body))
    access.access(resp, SimpleNamespace(headers=[]), response.request.environ, timedelta(seconds=took))
    return time.perf_counter() - started


def compare(
    name: str, runs: int, arms: dict[str, tuple[Any, glogging.Logger]], call: Callable[[Any], Any]
) -> None:
    samples: dict[str, list[float]] = {arm: [] for arm in arms}
    for _ in range(runs):
        for arm, (client, access) in arms.items():
            samples[arm].append(timed(client, access, call))
    off, on = (statistics.median(samples[arm]) * 1000 for arm in ("off", "on"))
    print(f"{name:<42} off {off:8.3f} ms   on {on:8.3f} ms   added {on - off:+.3f} ms  (median of {runs})")


def measure(title: str, runs: int, arms: dict[str, tuple[Any, glogging.Logger]], headers: dict) -> None:
    """/info and a small synthesize, ``off`` against ``on``, after a warm-up of both."""
    print(title)
    info = "/api/speech-realtime/info"
    for client, access in arms.values():  # warm up both; the key is accepted, not refused
        timed(client, access, lambda c: c.get(info, headers=headers))
        if client.get(info, headers=headers).status_code != 200:
            raise SystemExit(f"{title} {info} is not answered 200")
    compare(f"GET {info}", runs, arms, lambda c: c.get(info, headers=headers))
    compare(
        "POST /api/speech-realtime/synthesize (2 words)",
        max(20, runs // 10),
        arms,
        lambda c: c.post("/api/speech-realtime/synthesize", json={"text": "Hello there."}, headers=headers),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--runs", type=int, default=2000, help="requests per arm for /info (synthesize: a tenth)"
    )
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    root = logging.getLogger()
    handler = logging.FileHandler(os.devnull)
    attach([handler], "json")
    root.addHandler(handler)
    root.setLevel(logging.INFO)

    upstream = ScriptedRealtimeServer().start()
    try:
        settings = Settings.from_mapping(
            {
                "AZURE_OPENAI_ENDPOINT": upstream.url + "/",
                "AZURE_OPENAI_KEY": "bench-key",
                "SPEECH_MAX_SESSIONS": "4",
            }
        )
        load = os.getloadavg()[0]
        ops = {
            "off": (without_ops_hooks(create_app(settings)).test_client(), access_logger(json_lines=False)),
            "on": (create_app(settings).test_client(), access_logger(json_lines=True)),
        }
        measure("request ids, metrics and JSON access lines:", args.runs, ops, {})
        keyed = settings.with_changes(api_keys=(BENCH_KEY,))
        auth = {
            "off": (create_app(settings).test_client(), access_logger(json_lines=True)),
            "on": (create_app(keyed).test_client(), access_logger(json_lines=True)),
        }
        measure("auth (SPEECH_API_KEYS set, the key sent):", args.runs, auth, {"X-API-Key": BENCH_KEY})
        print(f"load average at the start: {load:.2f}")
    finally:
        upstream.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
