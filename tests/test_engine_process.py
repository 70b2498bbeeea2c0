"""The engine's child process, with a stand-in engine script (no models, no real engine)."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

import pytest
import websocket
from engine_fixtures import wait_until

from speech_realtime.engine.process import EngineProcess


def stand_in_engine(tmp_path: Path, body: str) -> Path:
    script = tmp_path / "fake-engine"
    script.write_text(f"#!/bin/sh\necho '{EngineProcess.READY}http://127.0.0.1:9'\n{body}\n")
    script.chmod(0o755)
    return script


def test_a_chatty_engine_is_drained_after_its_ready_line(tmp_path, monkeypatch) -> None:
    done = tmp_path / "wrote-everything"
    # 400 KiB of output: far more than a pipe holds, so undrained the script blocks before the touch.
    chatty = (
        f"i=0; while [ $i -lt 4000 ]; do printf '%0100d\\n' $i; i=$((i+1)); done; touch {done}; exec sleep 30"
    )
    monkeypatch.setattr(sys, "executable", str(stand_in_engine(tmp_path, chatty)))
    engine = EngineProcess.start(timeout=5)
    try:
        assert engine.url == "http://127.0.0.1:9"
        assert wait_until(done.exists, 10), "the engine blocked writing to its stdout"
    finally:
        engine.stop()
    assert engine.process.poll() is not None


def test_an_engine_that_exits_before_ready_is_an_error(tmp_path, monkeypatch) -> None:
    script = tmp_path / "failing-engine"
    script.write_text("#!/bin/sh\necho 'loading'\nexit 3\n")
    script.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(script))
    from speech_realtime.errors import SpeechError

    with pytest.raises(SpeechError, match="did not start"):
        EngineProcess.start(timeout=5)


def test_the_engine_leaves_the_process_environment_alone() -> None:
    """Only config reads the environment, and nothing writes it (the models load by local path)."""
    import speech_realtime.engine as engine

    for module in Path(engine.__file__).parent.glob("*.py"):
        source = module.read_text()
        assert "os.environ" not in source and "getenv" not in source, module.name


@pytest.mark.models
@pytest.mark.subprocess
def test_sigterm_drains_the_engine_and_it_exits_once_its_sessions_are_done() -> None:
    engine = EngineProcess.start(timeout=120)
    try:
        pooled = websocket.create_connection(engine.url.replace("http", "ws") + "/v1/realtime", timeout=10)
        assert json.loads(pooled.recv())["type"] == "session.created"
        engine.process.send_signal(signal.SIGTERM)
        opcode, frame = pooled.recv_data_frame(True)  # a session that said nothing is closed at once
        assert (opcode, int.from_bytes(frame.data[:2], "big")) == (websocket.ABNF.OPCODE_CLOSE, 1001)
        assert engine.process.wait(timeout=10) == 0
    finally:
        engine.stop()
