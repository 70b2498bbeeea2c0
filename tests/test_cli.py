"""The command line: voices, check, and serve under gunicorn driven by the smoke scripts."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import API_KEY, PREVIEW_VERSION
from serve_process import ROOT, SERVE, clean_environ, launch

from speech_realtime.cli import main, protected_mode
from speech_realtime.text import words


def azure_env(upstream, dialect: str) -> dict[str, str]:
    env = {
        "AZURE_OPENAI_ENDPOINT": upstream.url,
        "AZURE_OPENAI_KEY": API_KEY,
        "AZURE_OPENAI_REALTIME_DEPLOYMENT": "gpt-realtime-test",
    }
    if dialect == "preview":
        env["AZURE_OPENAI_API_VERSION"] = PREVIEW_VERSION
    return env


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for name in list(os.environ):
        if name.startswith(("AZURE_", "OPENAI_", "SPEECH_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def test_voices_lists_real_voices_and_aliases(clean_env, capsys) -> None:
    assert main(["voices"]) == 0
    out = capsys.readouterr().out
    assert "marin" in out
    assert "jennyneural -> alloy" in out


def test_check_prints_backend_protocol_auth_and_timings(clean_env, upstream, dialect, capsys) -> None:
    for name, value in azure_env(upstream, dialect).items():
        clean_env.setenv(name, value)
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert "backend:    azure" in out
    assert f"protocol:   {dialect}" in out
    assert "deployment: gpt-realtime-test" in out
    assert "auth:       api-key" in out
    assert re.search(r"handshake:  [\d.]+ ms", out)
    assert API_KEY not in out


def test_check_fails_with_a_clear_reason(clean_env, upstream, capsys) -> None:
    for name, value in azure_env(upstream, "ga").items():
        clean_env.setenv(name, value)
    upstream.script.handshake_status = 404
    assert main(["check"]) == 1
    assert "does not know the deployment" in capsys.readouterr().err


def assert_one_line_exit_2(argv: list[str], capsys, mentions: str) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1, captured.err
    assert mentions in captured.err
    assert "Traceback" not in captured.err


def test_bad_configuration_exits_2(clean_env, capsys) -> None:
    clean_env.setenv("SPEECH_BACKEND", "nope")
    assert_one_line_exit_2(["check"], capsys, "SPEECH_BACKEND")


@pytest.mark.parametrize("command", ["serve", "check", "voices", "engine"])
def test_an_unknown_log_level_is_one_line_and_exit_2_for_every_command(clean_env, capsys, command) -> None:
    clean_env.setenv("LOG_LEVEL", "LOUD")
    assert_one_line_exit_2([command], capsys, "LOG_LEVEL")


@pytest.mark.parametrize("command", ["serve", "check"])
def test_an_endpoint_the_transport_cannot_use_is_one_line_and_exit_2(clean_env, capsys, command) -> None:
    clean_env.setenv("AZURE_OPENAI_ENDPOINT", "http://")
    clean_env.setenv("AZURE_OPENAI_KEY", API_KEY)
    assert_one_line_exit_2([command], capsys, "configuration error")


@dataclass(frozen=True)
class Served:
    """A running ``speech-realtime serve``: its base URL and process id."""

    url: str
    pid: int


def serve(env_overrides: dict[str, str]) -> Iterator[Served]:
    """``speech-realtime serve`` under gunicorn on 127.0.0.1:0, with its default worker model."""
    started = launch(SERVE, {**clean_environ(), **env_overrides}, watchdog=180)
    try:
        yield Served(f"http://{started.address}", started.process.pid)
    finally:
        started.stop()


@pytest.fixture
def served(upstream, dialect) -> Iterator[Served]:
    """The service pointed at the scripted Realtime server, with a 2 s client timeout."""
    yield from serve({**azure_env(upstream, dialect), "SPEECH_CLIENT_TIMEOUT": "2"})


@pytest.fixture
def served_offline() -> Iterator[Served]:
    """The service with no cloud configuration: it starts its own local engine."""
    yield from serve({})


def run_smoke(base: str) -> str:
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "smoke.sh"), base], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "smoke: OK" in result.stdout
    return result.stdout


@pytest.mark.subprocess
def test_serve_passes_the_curl_smoke_script(served, upstream, dialect) -> None:
    upstream.script.chunk_delay = 0.05
    output = run_smoke(served.url)
    assert '"text":"hello from the scripted server"' in output
    timing = re.search(r"first byte after ([\d.]+) s, finished after ([\d.]+) s", output)
    first, total = map(float, timing.groups())
    assert first < total


@pytest.mark.subprocess
@pytest.mark.skipif(shutil.which("pwsh") is None, reason="PowerShell (pwsh) is not installed")
def test_serve_passes_the_powershell_smoke_script(served) -> None:
    result = subprocess.run(
        ["pwsh", "-NoProfile", "-File", str(ROOT / "scripts" / "smoke.ps1"), "-BaseUrl", served.url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "smoke: OK" in result.stdout


@pytest.mark.subprocess
@pytest.mark.models
def test_serve_with_no_cloud_configuration_runs_offline_on_one_engine(served_offline) -> None:
    output = run_smoke(served_offline.url)
    assert '"backend":"local"' in output
    heard = json.loads(re.search(r"^(\{\"text\".*)$", output, re.MULTILINE).group(1))["text"]
    assert "testing" in words(heard), heard
    assert len(engines_started_by(served_offline.pid)) == 1


def engines_started_by(pid: int) -> list[int]:
    """Engine processes among the descendants of ``pid`` (its workers' children included)."""
    found = []
    pending = [pid]
    while pending:
        parent = pending.pop()
        with contextlib.suppress(FileNotFoundError):  # a process that has just exited
            for child in map(int, Path(f"/proc/{parent}/task/{parent}/children").read_text().split()):
                pending.append(child)
                if b"speech_realtime\x00engine" in Path(f"/proc/{child}/cmdline").read_bytes():
                    found.append(child)
    return found


def exchange(served: Served, data: bytes) -> tuple[bytes, dict]:
    """Send raw ``data``, read until the service closes; (head, JSON body) of its answer."""
    host, port = served.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(data)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return head, json.loads(body)


@pytest.mark.subprocess
def test_serve_answers_malformed_http_with_json(served) -> None:
    head, body = exchange(served, b"NOT A REQUEST\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ")
    assert b"Content-Type: application/json" in head
    assert body["error"]["code"] == "invalid_request"


@pytest.mark.subprocess
def test_serve_answers_a_body_that_stops_arriving_with_408_json(served, upstream) -> None:
    head, body = exchange(
        served,
        b"POST /api/speech-realtime/recognize HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"audioData": "',
    )
    assert head.startswith(b"HTTP/1.1 408 ")
    assert body["error"]["code"] == "request_timeout"
    assert upstream.connections == 0


@pytest.mark.subprocess
def test_an_engine_that_never_gets_ready_is_given_up_on(tmp_path, monkeypatch) -> None:
    import time

    from speech_realtime.cli import EngineProcess
    from speech_realtime.errors import SpeechError

    silent = tmp_path / "silent-engine"
    silent.write_text("#!/bin/sh\nexec sleep 30\n")
    silent.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(silent))
    started = time.monotonic()
    with pytest.raises(SpeechError, match=r"did not start within 0\.5 s"):
        EngineProcess.start(timeout=0.5)
    assert time.monotonic() - started < 5


# -- protected mode and the token secret shared by workers ------------------------------------------


@pytest.mark.parametrize("how", ["flag", "env"])
def test_serve_on_a_network_address_without_keys_refuses_to_start(clean_env, capsys, how) -> None:
    argv = ["serve", "--host", "0.0.0.0"] if how == "flag" else ["serve"]
    if how == "env":
        clean_env.setenv("HOST", "::")
    assert_one_line_exit_2(argv, capsys, "SPEECH_ALLOW_ANONYMOUS=true")


def test_protected_mode_allows_loopback_keys_or_an_explicit_anonymous_choice() -> None:
    from speech_realtime.config import Settings
    from speech_realtime.errors import ConfigError

    protected_mode(Settings(), "127.0.0.1")
    protected_mode(Settings(), "::1")
    protected_mode(Settings(api_keys=("k",)), "0.0.0.0")
    protected_mode(Settings(allow_anonymous=True), "0.0.0.0")
    with pytest.raises(ConfigError, match="SPEECH_ALLOW_ANONYMOUS=true"):
        protected_mode(Settings(), "10.0.0.5")


@pytest.mark.subprocess
def test_serve_process_bound_to_all_interfaces_without_keys_exits_2() -> None:
    result = subprocess.run(
        [*SERVE, "--host", "0.0.0.0"],
        env=clean_environ(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "SPEECH_API_KEYS" in result.stderr and "SPEECH_ALLOW_ANONYMOUS=true" in result.stderr
    assert "Listening at" not in result.stderr


@pytest.mark.subprocess
def test_two_workers_accept_each_others_tokens(upstream) -> None:
    import requests

    key = "inbound-key-DELTA-0123456789"
    env = {**clean_environ(), **azure_env(upstream, "ga"), "SPEECH_API_KEYS": key}
    started = launch([*SERVE, "--workers", "2"], env, watchdog=120)
    base = f"http://{started.address}"
    try:
        for _ in range(24):  # a new connection each time: the workers take them in turn or at random
            token = requests.post(
                f"{base}/sts/v1.0/issueToken", headers={"Ocp-Apim-Subscription-Key": key}, timeout=10
            ).text
            answer = requests.get(
                f"{base}/cognitiveservices/voices/list",
                headers={"Authorization": f"Bearer {token}"},
                timeout=10,
            )
            assert answer.status_code == 200
    finally:
        started.stop()
    assert key not in "".join(started.log)
