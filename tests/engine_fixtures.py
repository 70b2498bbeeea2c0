"""Engine test helpers: a fake model set (tones, canned transcripts, an energy VAD), a sans-I/O driver.

Registered in conftest's ``pytest_plugins`` for the fixtures ``fake_models`` and ``fake_engine``.
Protocol tests run :class:`~speech_realtime.engine.session.EngineSession` on these with no
sockets and no neural models; every server event is validated against the openai typed union
of the session's dialect.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from openai_types import validate_server_event

from speech_realtime.audio import float_to_pcm16
from speech_realtime.engine.models import ASR_RATE, ENGINE_RATE, Heard, Word
from speech_realtime.engine.sentences import piece_limit, split_sentences
from speech_realtime.engine.server import EngineServer
from speech_realtime.engine.session import EngineSession

#: Seconds of tone the fake voice speaks per word at speed 1.
WORD_SECONDS = 0.1


def tone(seconds: float, rate: int = ENGINE_RATE, level: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (level * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


def silence(seconds: float, rate: int = ENGINE_RATE) -> np.ndarray:
    return np.zeros(int(seconds * rate), dtype=np.float32)


def pcm(samples: np.ndarray) -> bytes:
    return float_to_pcm16(samples)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class EnergyVad:
    """Speech is any frame louder than a whisper; counts the frames it is shown."""

    def __init__(self) -> None:
        self.frames = 0

    def push(self, frames: np.ndarray) -> np.ndarray:
        self.frames += len(frames)
        return (np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1)) > 0.01).astype(np.float32)


def _utterances(audible: np.ndarray, gap: float) -> list[np.ndarray]:
    """The audible sample indexes, cut where ``gap`` seconds of silence part them."""
    cuts = np.flatnonzero(np.diff(audible) > gap * ASR_RATE) + 1
    return np.split(audible, cuts)


class FakeModels:
    """Tones for speech (:data:`WORD_SECONDS` per word, divided by speed), canned transcripts.

    A transcript's words are spread evenly over each utterance of what it was given (audible
    runs parted by ``utterance_gap`` seconds of silence; the engine's batches put 2 s between
    items), so word times are exact enough to check offsets and a batch of several items hears
    each one, as Whisper does.

    ``fail``: ``"synthesize"`` or ``"transcribe"`` makes that model raise. ``gate``: when set to
    an Event, synthesis waits for it before each sentence after the first (a slow model).
    """

    def __init__(self, transcript: str = "canned words") -> None:
        self.transcript = transcript
        self.utterance_gap = 1.5
        self.fail: str | None = None
        self.gate: threading.Event | None = None
        self.speeds: list[float] = []
        self.heard: list[int] = []  # samples given to each transcription
        self.vads: list[EnergyVad] = []
        self.synthesis_closed = 0

    def synthesize(self, text: str, speed: float = 1.0) -> Iterator[tuple[str, np.ndarray]]:
        self.speeds.append(speed)
        try:
            for index, sentence in enumerate(split_sentences(text, piece_limit(speed))):
                if self.fail == "synthesize":
                    raise RuntimeError("the fake voice failed")
                if self.gate is not None and index:
                    assert self.gate.wait(5), "the test never opened the gate"
                yield sentence, tone(WORD_SECONDS * len(sentence.split()) / speed)
            yield "", np.zeros(0, dtype=np.float32)
        except GeneratorExit:
            self.synthesis_closed += 1
            raise

    def transcribe(self, samples: np.ndarray, language: str | None = None) -> Heard:
        if self.fail == "transcribe":
            raise RuntimeError("the fake recognizer failed")
        self.heard.append(len(samples))
        audible = np.flatnonzero(np.abs(samples) > 0.01)
        words = self.transcript.split()
        if not len(audible) or not words:
            return Heard("", ())
        timed: list[Word] = []
        for run in _utterances(audible, self.utterance_gap):
            start, end = float(run[0] / ASR_RATE), float((run[-1] + 1) / ASR_RATE)
            each = (end - start) / len(words)
            timed += [Word(w, start + n * each, start + (n + 1) * each) for n, w in enumerate(words)]
        return Heard(" ".join(word.text for word in timed), tuple(timed))

    def voice_activity(self) -> EnergyVad:
        self.vads.append(EnergyVad())
        return self.vads[-1]


NO_VAD = {
    "ga": {"type": "realtime", "audio": {"input": {"turn_detection": None}}},
    "preview": {"turn_detection": None},
}


class Driver:
    """Drives a session as the server does, without a socket; validates every event."""

    def __init__(self, dialect: str = "ga", models: FakeModels | None = None, *, vad: bool = False) -> None:
        self.dialect = dialect
        self.models = models or FakeModels()
        self.session = EngineSession(dialect, self.models)
        self.created = self._checked(self.session.open())[0]
        if not vad:
            assert self.send("session.update", session=NO_VAD[dialect])[0]["type"] == "session.updated"

    def _checked(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for event in events:
            validate_server_event(self.dialect, json.loads(json.dumps(event)))
        return events

    def raw(self, message: str | bytes) -> list[dict[str, Any]]:
        return self._checked(self.session.handle(message))

    def send(self, type_: str, **fields: Any) -> list[dict[str, Any]]:
        return self.raw(json.dumps({"type": type_, **fields}))

    def step(self) -> list[dict[str, Any]]:
        return self._checked(self.session.step())

    def run(self, limit: int = 1000) -> list[dict[str, Any]]:
        """Every event of the queued work, to its end."""
        events: list[dict[str, Any]] = []
        for _ in range(limit):
            if not self.session.busy:
                return events
            events += self.step()
        raise AssertionError("the session's work never ended")

    def error(self, message: str) -> dict[str, Any]:
        """The one error event ``message`` gets."""
        events = self.raw(message)
        assert [e["type"] for e in events] == ["error"], events
        return events[0]["error"]


def names(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in events]


def wait_until(condition: Callable[[], bool], seconds: float = 5) -> bool:
    """Whether ``condition`` holds within ``seconds`` (checked every 20 ms)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def user_text(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


@pytest.fixture
def fake_models() -> FakeModels:
    return FakeModels()


@pytest.fixture
def fake_engine(fake_models: FakeModels) -> Iterator[EngineServer]:
    """The engine's WebSocket server on loopback, on the fake models."""
    server = EngineServer(models=fake_models).start()
    yield server
    server.stop()
