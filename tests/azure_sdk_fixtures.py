"""Fixtures for the Azure Speech SDK tests: the app on a real loopback port, SDK calls under a limit.

The SDK speaks WebSocket to ``SpeechConfig(host="ws://127.0.0.1:PORT")``, so the app runs on a
loopback port (:func:`loopback.serve`). The SDK has no timeout of its own: every call goes through
:func:`within`, which fails the test instead of hanging when a call does not return in time.
"""

from __future__ import annotations

import dataclasses
import io
import threading
import wave
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import numpy as np
import pytest
from loopback import serve

from speech_realtime.config import Settings
from speech_realtime.engine.server import EngineServer
from speech_realtime.web import create_app

T = TypeVar("T")

#: Seconds an SDK call may take against the scripted upstream or the fake engine.
CALL_LIMIT = 20.0
#: The service's watchdog in these tests: a turn with no progress ends after this.
CLIENT_TIMEOUT = 2.0


def within(call: Callable[[], T], limit: float = CALL_LIMIT) -> T:
    """``call()`` on a thread; fails the test if it has not returned within ``limit`` seconds."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:  # re-raised in the test's thread
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(limit)
    if thread.is_alive():
        pytest.fail(f"the SDK call did not return within {limit:g} s (a turn was left open)")
    if "error" in box:
        raise box["error"]
    return box["value"]


def wav_bytes(samples: np.ndarray, rate: int = 16000) -> bytes:
    """Mono 16-bit WAV of float ``samples``."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return buffer.getvalue()


def silent_wav(seconds: float = 1.0) -> bytes:
    """Mono 16-bit 16 kHz WAV of silence."""
    return wav_bytes(np.zeros(int(16000 * seconds), dtype=np.float32))


def tone(seconds: float, rate: int = 16000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


def quiet(seconds: float, rate: int = 16000) -> np.ndarray:
    return np.zeros(int(seconds * rate), dtype=np.float32)


def serve_ws(app) -> Iterator[str]:
    """Serve ``app`` on loopback until the generator is closed: ``ws://127.0.0.1:PORT``."""
    with serve(app) as base:
        yield "ws://" + base.removeprefix("http://")


@pytest.fixture
def sdk_host(settings: Settings) -> Iterator[str]:
    """The app over the scripted upstream, served on loopback: ``ws://127.0.0.1:PORT``."""
    app = create_app(dataclasses.replace(settings, client_timeout=CLIENT_TIMEOUT))
    yield from serve_ws(app)


@pytest.fixture
def fake_engine_host() -> Iterator[str]:
    """The app over the engine on fake models (tones, canned words, an energy VAD)."""
    from engine_fixtures import FakeModels  # a plugin too: imported once pytest has loaded it

    yield from serve_on_engine(FakeModels())


def serve_on_engine(models: Any) -> Iterator[str]:
    """The app over an engine on ``models``, served for the SDK; the engine stops afterwards."""
    engine = EngineServer(models=models).start()
    settings = Settings.from_mapping(
        {"SPEECH_ENGINE_URL": engine.url, "SPEECH_REQUEST_TIMEOUT": "10", "SPEECH_CLIENT_TIMEOUT": "3"}
    )
    try:
        yield from serve_ws(create_app(settings))
    finally:
        engine.stop()


@pytest.fixture
def engine_host(engine_settings: Settings) -> Iterator[str]:
    """The app over the offline engine with its real models."""
    yield from serve_ws(create_app(engine_settings))
