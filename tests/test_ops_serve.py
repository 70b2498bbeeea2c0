"""``speech-realtime serve --workers 2`` for real: one /metrics for all workers, JSON logs."""

from __future__ import annotations

import http.client
import json
import re
from pathlib import Path

import pytest
from conftest import API_KEY
from serve_process import SERVE, clean_environ, launch

pytestmark = pytest.mark.subprocess

REQUESTS = 24
INFO_SERIES = 'speech_http_requests_total{family="reference",route="/api/speech-realtime/info",status="200"}'


def get(port: int, path: str, headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
    """One request on a fresh connection (so the workers share them out), body read."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path, headers={"Connection": "close", **(headers or {})})
    response = conn.getresponse()
    response.body = response.read()  # type: ignore[attr-defined]
    conn.close()
    return response


def counted(text: str, series: str) -> float:
    found = re.search(re.escape(series) + r" ([0-9.e+]+)", text)
    return float(found.group(1)) if found else 0.0


def test_two_workers_give_one_metrics_and_json_lines(upstream, tmp_path: Path, capfd) -> None:
    env = {
        **clean_environ(),
        "AZURE_OPENAI_ENDPOINT": upstream.url + "/",
        "AZURE_OPENAI_KEY": API_KEY,
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "DEBUG",
        "TMPDIR": str(tmp_path),  # where serve makes its metrics directory
    }
    server = launch([*SERVE, "--workers", "2"], env)
    try:
        directories = list(tmp_path.glob("speech-realtime-metrics-*"))
        assert len(directories) == 1, "serve made no fresh metrics directory"
        for _ in range(REQUESTS):
            assert get(server.port, "/api/speech-realtime/info").status == 200
        answers = [get(server.port, "/metrics", {"X-Request-ID": f"m-{n}"}) for n in range(8)]
        assert {a.status for a in answers} == {200}
        assert {a.getheader("X-Request-ID") for a in answers} == {f"m-{n}" for n in range(8)}
        totals = {counted(a.body.decode(), INFO_SERIES) for a in answers}  # type: ignore[attr-defined]
        assert totals == {REQUESTS}, "the workers' metrics are not added up"
        writers = {re.sub(r"\D", "", p.name) for p in directories[0].glob("counter_*.db")}
        assert len(writers) >= 2, "only one process wrote metrics"
        assert get(server.port, "/readyz").status == 200
    finally:
        server.stop()
    assert not directories[0].exists(), "the metrics directory outlived the server"
    stdout = capfd.readouterr().out  # gunicorn's access log (the child shares this process's stdout)
    lines = [line for line in [*server.log, *stdout.splitlines()] if line.strip()]
    for line in lines:
        json.loads(line)  # every line is one JSON object
    access = [json.loads(line) for line in lines if '"logger": "gunicorn.access"' in line]
    access = [entry for entry in access if entry["path"] == "/metrics"]
    assert {entry["request_id"] for entry in access} >= {f"m-{n}" for n in range(8)}
    assert all(entry["status"] == 200 for entry in access)
    assert API_KEY not in "".join(lines)
