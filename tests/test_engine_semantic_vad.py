"""The engine's semantic VAD on fake models: a turn is not cut at a pause inside a sentence.

:class:`ClauseModels` transcribes each tone burst as a clause and punctuates like a real model:
two clauses make a sentence, so the transcript so far ends with a period only after an even
number of bursts.
"""

from __future__ import annotations

import numpy as np
import pytest
from engine_fixtures import Driver, FakeModels, names, silence, tone
from test_engine_protocol import stream

from speech_realtime.engine.models import Heard
from speech_realtime.engine.turns import ends_sentence

CLAUSES = ("the quick brown fox", "jumps over the lazy dog")


class ClauseModels(FakeModels):
    """Each burst of tone is a clause; every second clause ends a sentence."""

    def transcribe(self, samples: np.ndarray, language: str | None = None) -> Heard:
        if self.fail == "transcribe":
            raise RuntimeError("the fake recognizer failed")
        self.heard.append(len(samples))
        bursts = _bursts(samples)
        text = ", ".join(CLAUSES[n % 2] for n in range(bursts))
        return Heard(text.capitalize() + ("." if bursts and bursts % 2 == 0 else ""))


def _bursts(samples: np.ndarray, frame: int = 160) -> int:
    """Runs of loud 10 ms frames."""
    count = len(samples) // frame
    loud = np.sqrt(np.mean(samples[: count * frame].reshape(count, frame) ** 2, axis=1)) > 0.01
    return int(loud[:1].sum() + np.count_nonzero(loud[1:] & ~loud[:-1]))


def session(dialect: str, detection: dict) -> dict:
    if dialect == "ga":
        return {
            "type": "realtime",
            "audio": {"input": {"transcription": {"model": "w"}, "turn_detection": detection}},
        }
    return {"input_audio_transcription": {"model": "w"}, "turn_detection": detection}


SEMANTIC = {"type": "semantic_vad", "create_response": False, "interrupt_response": False}
SERVER = {"type": "server_vad", "create_response": False, "silence_duration_ms": 500}


def clauses(*pauses: float) -> np.ndarray:
    """A clause (1 s of tone) before and after each of ``pauses``, then 2.5 s of silence."""
    parts = [silence(0.5), tone(1.0)]
    for pause in pauses:
        parts += [silence(pause), tone(1.0)]
    return np.concatenate([*parts, silence(2.5)])


def two_sentences(pause: float, between: float = 0.7) -> np.ndarray:
    """Two sentences of two clauses each: ``pause`` inside each sentence, ``between`` them."""
    return clauses(pause, between, pause)


def transcripts(events: list[dict]) -> list[str]:
    return [e["transcript"] for e in events if e["type"].endswith("transcription.completed")]


@pytest.mark.parametrize("dialect", ["ga", "preview"])
def test_semantic_vad_keeps_a_sentence_whole_across_its_pause(dialect: str) -> None:
    driver = Driver(dialect, ClauseModels(), vad=True)
    updated = driver.send("session.update", session=session(dialect, SEMANTIC))[0]
    detection = (
        updated["session"]["audio"]["input"]["turn_detection"]
        if dialect == "ga"
        else updated["session"]["turn_detection"]
    )
    assert detection == {**SEMANTIC, "eagerness": "auto"}
    events = stream(driver, two_sentences(pause=0.7))
    sentence = "The quick brown fox, jumps over the lazy dog."
    assert transcripts(events) == [sentence, sentence]
    stopped = [e["audio_end_ms"] for e in events if e["type"].endswith("speech_stopped")]
    # each sentence ends at the short pause after it (0.5 s), not at the long one
    assert stopped == [pytest.approx(3200 + 500, abs=70), pytest.approx(6600 + 500, abs=70)]


@pytest.mark.parametrize("dialect", ["ga", "preview"])
def test_server_vad_cuts_the_same_audio_at_every_pause(dialect: str) -> None:
    driver = Driver(dialect, ClauseModels(), vad=True)
    driver.send("session.update", session=session(dialect, SERVER))
    events = stream(driver, two_sentences(pause=0.7))
    assert transcripts(events) == ["The quick brown fox", "The quick brown fox"] * 2


def test_the_long_pause_ends_a_turn_whatever_was_said() -> None:
    driver = Driver("ga", ClauseModels(), vad=True)
    driver.send("session.update", session=session("ga", SEMANTIC))
    events = stream(driver, clauses(1.2, 1.2, 1.2))  # over auto's 1.0 s
    assert transcripts(events) == ["The quick brown fox"] * 4


def test_low_eagerness_waits_longer() -> None:
    driver = Driver("ga", ClauseModels(), vad=True)
    driver.send("session.update", session=session("ga", {**SEMANTIC, "eagerness": "low"}))
    events = stream(driver, two_sentences(pause=1.5, between=1.0))  # 1.5 s: under low's 2.0 s
    assert len(transcripts(events)) == 2


def test_the_sentence_check_runs_once_per_pause_and_each_frame_is_examined_once() -> None:
    models = ClauseModels()
    driver = Driver("ga", models, vad=True)
    driver.send("session.update", session=session("ga", SEMANTIC))
    stream(driver, two_sentences(pause=0.7))
    # four pauses reach the short pause (two inside sentences, two after them), then two turns
    assert len(models.heard) == 4 + 2
    seconds = len(two_sentences(0.7)) / 24000
    # the session's turn detector saw each frame once (each transcribed item runs a VAD of its own)
    assert max(vad.frames for vad in models.vads) == pytest.approx(seconds * 16000 / 512, abs=3)


def test_a_bad_eagerness_is_refused_and_changes_nothing() -> None:
    driver = Driver("ga", ClauseModels(), vad=True)
    error = driver.send("session.update", session=session("ga", {**SEMANTIC, "eagerness": "eager"}))[0]
    assert error["type"] == "error" and error["error"]["param"].endswith("turn_detection.eagerness")
    assert not driver.session.config.turn_detection.semantic


@pytest.mark.parametrize(
    ("text", "ends"),
    [
        ("Hello there.", True),
        ("Is it?", True),
        ('He said "stop!"', True),
        ("and then", False),
        ("well...", False),
        ("I think that we should.", False),
        ("It was the best of times, it was.", False),
        ("", False),
    ],
)
def test_what_ends_a_sentence(text: str, ends: bool) -> None:
    assert ends_sentence(text) is ends


def test_a_failing_model_falls_back_to_the_long_pause() -> None:
    models = ClauseModels()
    driver = Driver("ga", models, vad=True)
    driver.send("session.update", session=session("ga", SEMANTIC))
    models.fail = "transcribe"
    events = stream(driver, np.concatenate([silence(0.3), tone(1.0), silence(1.5)]))
    assert names(events)[:2] == ["input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped"]
    stopped = next(e for e in events if e["type"].endswith("speech_stopped"))
    assert stopped["audio_end_ms"] == pytest.approx(1300 + 1000, abs=70)
