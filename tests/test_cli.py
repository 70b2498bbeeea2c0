"""The command line: voices, check, and serve under gunicorn driven by the smoke scripts."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import API_KEY, PREVIEW_VERSION

from speech_realtime.cli import main

ROOT = Path(__file__).resolve().parent.parent


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


def test_bad_configuration_exits_2(clean_env, capsys) -> None:
    clean_env.setenv("SPEECH_BACKEND", "nope")
    assert main(["check"]) == 2
    assert "SPEECH_BACKEND" in capsys.readouterr().err


@pytest.fixture
def served(upstream, dialect) -> Iterator[str]:
    """``speech-realtime serve`` under gunicorn on 127.0.0.1:0, pointed at the scripted server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "OPENAI_", "SPEECH_"))}
    env.update(azure_env(upstream, dialect))
    process = subprocess.Popen(
        [sys.executable, "-m", "speech_realtime", "serve", "--port", "0", "--threads", "4"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert process.stderr is not None
    base = None
    for line in process.stderr:
        found = re.search(r"Listening at: (http://127\.0\.0\.1:\d+)", line)
        if found:
            base = found.group(1)
            break
    try:
        assert base, "gunicorn did not start"
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_serve_passes_the_curl_smoke_script(served, upstream, dialect) -> None:
    upstream.script.chunk_delay = 0.05
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "smoke.sh"), served], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert '"text":"hello from the scripted server"' in result.stdout
    assert "smoke: OK" in result.stdout
    timing = re.search(r"first byte after ([\d.]+) s, finished after ([\d.]+) s", result.stdout)
    first, total = map(float, timing.groups())
    assert first < total


@pytest.mark.skipif(shutil.which("pwsh") is None, reason="PowerShell (pwsh) is not installed")
def test_serve_passes_the_powershell_smoke_script(served) -> None:
    result = subprocess.run(
        ["pwsh", "-NoProfile", "-File", str(ROOT / "scripts" / "smoke.ps1"), "-BaseUrl", served],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "smoke: OK" in result.stdout


def test_serve_without_backend_or_engine_exits_with_a_message(clean_env, capsys) -> None:
    assert main(["serve"]) == 2
    assert "SPEECH_ENGINE_URL" in capsys.readouterr().err
