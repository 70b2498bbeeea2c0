"""Long work in small steps, sans I/O on fake models: phrase-by-phrase transcription of a long
item (deltas per phrase, ``x_segments`` on the item's timeline, a close stops the work), the
phrase plan itself, the fair model lock, and long readings voiced in bounded pieces.
"""

from __future__ import annotations

import itertools
import threading

import numpy as np
import pytest
from engine_client import EngineConnection
from engine_fixtures import Driver, FakeModels, b64, names, pcm, silence, tone, wait_until

from speech_realtime.engine.models import ASR_RATE, FairLock, Word
from speech_realtime.engine.phrases import phrases, plan_phrases, snap_words, speech_probabilities
from speech_realtime.engine.responder import cue_segments
from speech_realtime.engine.sentences import MAX_PIECE_CHARS, MIN_PIECE_CHARS, piece_limit, split_sentences
from speech_realtime.engine.server import EngineServer

TRANSCRIBE = {"type": "realtime", "audio": {"input": {"transcription": {"model": "whisper-1"}}}}
COMPLETED = "conversation.item.input_audio_transcription.completed"
DELTA = "conversation.item.input_audio_transcription.delta"


def speech_at(spans: list[tuple[float, float]], total: float, rate: int = 24000) -> np.ndarray:
    """``total`` seconds of silence with a tone over each ``(start, end)`` second span."""
    audio = silence(total, rate)
    for start, end in spans:
        audio[int(start * rate) : int(start * rate) + int((end - start) * rate)] = tone(end - start, rate)
    return audio


#: Four 10 s stretches of "speech" with 3 s pauses: 52 s, two phrases of two stretches each.
FOUR = [(1.0, 11.0), (14.0, 24.0), (27.0, 37.0), (40.0, 50.0)]


@pytest.fixture
def fake_models(fake_models):
    """The fake recognizer hearing a whole phrase (two stretches 3 s apart) as one utterance."""
    fake_models.utterance_gap = 60.0
    return fake_models


def committed(driver: Driver, audio: np.ndarray) -> None:
    driver.send("session.update", session=TRANSCRIBE)
    data = pcm(audio)
    for start in range(0, len(data), 2_000_000):
        assert driver.send("input_audio_buffer.append", audio=b64(data[start : start + 2_000_000])) == []
    assert names(driver.send("input_audio_buffer.commit"))[0] == "input_audio_buffer.committed"


def test_a_long_item_is_transcribed_one_phrase_per_step_with_a_delta_each(fake_models) -> None:
    driver = Driver(models=fake_models)
    committed(driver, speech_at(FOUR, 52.0))
    steps = []
    while driver.session.busy:
        calls = len(fake_models.heard)
        events = driver.step()
        steps.append((len(fake_models.heard) - calls, names(events)))
    assert steps[0] == (0, [])  # voice activity over the item
    assert steps[1:3] == [(1, [DELTA, DELTA])] * 2  # one Whisper call, one phrase's words
    assert steps[3] == (0, [COMPLETED])
    # phrases of two stretches each, padded 0.4 s into the pauses; the middle pause is left out
    assert [n / ASR_RATE for n in fake_models.heard] == [pytest.approx(23.8, abs=0.05)] * 2


def test_phrase_deltas_concatenate_to_the_transcript_and_x_segments_are_on_the_item_timeline(
    fake_models,
) -> None:
    fake_models.transcript = "one two three four"
    driver = Driver(models=fake_models)
    committed(driver, speech_at(FOUR, 52.0))
    events = driver.run()
    completed = events[-1]
    assert "".join(e["delta"] for e in events if e["type"] == DELTA) == completed["transcript"]
    assert completed["transcript"] == "one two three four one two three four"
    segments = completed["x_segments"]  # the fake spreads words over each phrase; they are
    # snapped to the speech, so the pause inside a phrase ends a segment too
    assert [(s["text"], s["start"], s["end"]) for s in segments] == [
        ("one two", pytest.approx(start, abs=0.05), pytest.approx(end, abs=0.05))
        if n % 2 == 0
        else ("three four", pytest.approx(start, abs=0.05), pytest.approx(end, abs=0.05))
        for n, (start, end) in enumerate(FOUR)
    ]
    words = segments[2]["words"]
    assert [w["word"] for w in words] == ["one", "two"]
    assert words[0]["start"] == pytest.approx(27.0, abs=0.05) and words[-1]["end"] == pytest.approx(
        37.0, abs=0.05
    )


def test_a_short_item_is_one_call_with_x_segments(fake_models) -> None:
    driver = Driver(models=fake_models)
    committed(driver, speech_at([(0.5, 2.5)], 3.0))
    completed = driver.run()[-1]
    assert len(fake_models.heard) == 1
    assert completed["x_segments"][0]["start"] == pytest.approx(0.5, abs=0.01)


def test_a_long_silent_item_calls_no_recognizer(fake_models) -> None:
    driver = Driver(models=fake_models)
    committed(driver, silence(40.0))
    completed = driver.run()[-1]
    assert (completed["transcript"], completed["x_segments"], fake_models.heard) == ("", [], [])


def test_closing_the_session_mid_item_stops_at_the_next_phrase(fake_models) -> None:
    driver = Driver(models=fake_models)
    committed(driver, speech_at(FOUR, 52.0))
    while len(fake_models.heard) < 1:
        driver.step()
    driver.session.close()
    assert not driver.session.busy
    assert len(fake_models.heard) == 1


def test_another_sessions_short_item_is_done_between_two_phrases(fake_models) -> None:
    """Two sessions driven in turn, as their two threads are: the long one is one call a step."""
    long, short = Driver(models=fake_models), Driver(models=fake_models)
    committed(long, speech_at(FOUR, 52.0))
    committed(short, speech_at([(0.2, 2.8)], 3.0))
    order = []
    while long.session.busy or short.session.busy:
        for label, driver in (("long", long), ("short", short)):
            if driver.session.busy and any(e["type"] == COMPLETED for e in driver.step()):
                order.append(label)
    assert order == ["short", "long"]


def test_a_response_reading_a_long_audio_item_transcribes_it_in_steps_and_can_be_cancelled(
    fake_models,
) -> None:
    driver = Driver(models=fake_models)
    item = {"type": "message", "role": "user", "content": [{"type": "input_audio", "audio": ""}]}
    item["content"][0]["audio"] = b64(pcm(speech_at(FOUR, 52.0)))
    driver.send("conversation.item.create", item=item)
    driver.send("response.create")
    while len(fake_models.heard) < 1:
        driver.step()
    driver.send("response.cancel")
    done = driver.run()[-1]
    assert done["response"]["status"] == "cancelled"
    assert len(fake_models.heard) == 1


class SlowRecognizer(FakeModels):
    """Every transcription after the first waits until the test lets it go."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting, self.release = threading.Event(), threading.Event()

    def transcribe(self, samples: np.ndarray, language: str | None = None):
        if self.heard:
            self.waiting.set()
            assert self.release.wait(10), "the test never let the recognizer go"
        return super().transcribe(samples, language)


def test_a_client_gone_mid_item_stops_the_work_at_the_next_phrase() -> None:
    """Over a real socket: three phrases; the client leaves during the second; no third call."""
    models = SlowRecognizer()
    server = EngineServer(models=models).start()
    try:
        conn = EngineConnection(server.url)
        conn.send("session.update", session=TRANSCRIBE)
        conn.expect("session.updated")
        data = pcm(speech_at([*FOUR, (53.0, 63.0), (66.0, 76.0)], 78.0))
        for start in range(0, len(data), 2_000_000):
            conn.send("input_audio_buffer.append", audio=b64(data[start : start + 2_000_000]))
        conn.send("input_audio_buffer.commit")
        conn.until(DELTA)
        assert models.waiting.wait(5)  # the second phrase's call has begun
        conn.close()
        models.release.set()
        assert wait_until(lambda: server.open_sessions == 0)
        assert len(models.heard) == 2
    finally:
        server.stop()


def test_the_model_lock_serves_a_waiting_thread_before_the_holder_again() -> None:
    lock, order = FairLock(), []

    def waiter() -> None:
        with lock:
            order.append("waiter")

    with lock:
        thread = threading.Thread(target=waiter)
        thread.start()
        assert wait_until(lambda: lock.waiting == 1)
    with lock:  # asked again at once: the waiter goes first
        order.append("holder")
    thread.join(5)
    assert order == ["waiter", "holder"]


# -- the phrase plan --------------------------------------------------------------------------


def plan(audio: np.ndarray) -> list[tuple[float, float]]:
    probabilities = np.concatenate(list(speech_probabilities(audio, FakeModels().voice_activity())))
    return [(a / ASR_RATE, b / ASR_RATE) for a, b in plan_phrases(audio, probabilities)]


def test_phrases_are_final_as_the_vad_goes_and_the_same_as_the_whole_plan() -> None:
    stretches = [(t + 1.0, t + 9.0) for t in range(0, 60, 10)] + [(61.0, 131.0), (133.0, 140.0)]
    stretches += [(185.0, 190.0), (250.0, 255.0)]  # long silences, one across a VAD step
    audio = speech_at(stretches, 260.0, ASR_RATE)
    steps = list(phrases(audio, FakeModels().voice_activity()))
    assert steps[0] is None and steps[1] is not None  # the first phrase after one VAD step
    spans = [(p.start, p.end) for p in steps if p is not None]
    probabilities = np.concatenate(list(speech_probabilities(audio, FakeModels().voice_activity())))
    assert spans == plan_phrases(audio, probabilities)
    assert all(p.end - p.start <= 25.8 * ASR_RATE for p in steps if p is not None)


def test_a_speaker_who_never_pauses_is_cut_at_the_quietest_points() -> None:
    audio = tone(60.0, ASR_RATE)
    for dip in (20.0, 40.0):  # softer, still speech to the VAD
        audio[int((dip - 0.1) * ASR_RATE) : int((dip + 0.1) * ASR_RATE)] *= 0.1
    spans = plan(audio)
    assert len(spans) == 3 and spans[0][0] == 0 and spans[-1][1] == 60.0
    assert [s[1] for s in spans[:2]] == [pytest.approx(20.0, abs=0.1), pytest.approx(40.0, abs=0.1)]
    assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))  # nothing lost


def test_a_phrase_ends_at_the_longest_pause_that_fits() -> None:
    spans = plan(speech_at([(0.0, 10.0), (10.3, 18.0), (20.0, 30.0), (30.3, 40.0)], 40.0, ASR_RATE))
    assert spans == [(0.0, pytest.approx(18.4, abs=0.05)), (pytest.approx(19.6, abs=0.05), 40.0)]


def test_word_edges_in_silence_are_snapped_to_the_speech() -> None:
    speech = [(1.0, 3.0), (5.0, 6.0)]
    words = [Word("It", 0.6, 1.2), Word("wife.", 2.5, 4.2), Word("so", 5.1, 5.3), Word("lost", 7.0, 7.5)]
    assert snap_words(words, speech) == [
        Word("It", 1.0, 1.2),
        Word("wife.", 2.5, 3.0),
        Word("so", 5.1, 5.3),
        Word("lost", 5.5, 6.0),  # no speech under it: onto the nearest speech, its length kept
    ]
    assert snap_words([Word("early", 0.2, 0.2)], speech) == [Word("early", 1.0, 1.0)]


def test_cue_segments_end_at_sentences_and_pauses() -> None:
    words = [Word("Hi", 0, 0.2), Word("there.", 0.3, 0.6), Word("So", 0.7, 0.8), Word("then", 2.0, 2.2)]
    assert [s["text"] for s in cue_segments(words)] == ["Hi there.", "So", "then"]


# -- long readings -------------------------------------------------------------------------------


def test_a_text_with_no_punctuation_is_voiced_in_bounded_pieces_cut_between_words() -> None:
    text = " ".join(f"word{n}" for n in range(700))  # 4,5k characters, one "sentence"
    pieces = split_sentences(text)
    assert max(len(p) for p in pieces) <= MAX_PIECE_CHARS and " ".join(pieces) == text


def test_long_sentences_are_cut_at_clauses_first() -> None:
    text = ", ".join(["a clause of a few words"] * 30) + "."
    pieces = split_sentences(text)
    assert all(p.endswith((",", ".")) for p in pieces) and " ".join(pieces) == text


def test_a_long_reading_at_quarter_speed_sends_audio_every_step(fake_models) -> None:
    driver = Driver(models=fake_models)
    driver.send("session.update", session={"audio": {"output": {"speed": 0.25}}})
    text = " ".join(f"word{n}" for n in range(700))
    driver.send(
        "conversation.item.create", item={"role": "user", "content": [{"type": "input_text", "text": text}]}
    )
    driver.send("response.create")
    driver.step()  # response.created ...
    steps = []
    while driver.session.busy:
        steps.append(names(driver.step()))
    voiced = [step for step in steps if "response.output_audio_transcript.delta" in step]
    pieces = split_sentences(text, piece_limit(0.25))  # shorter pieces when slower
    assert len(voiced) == len(pieces) >= len(text) // MIN_PIECE_CHARS
    assert all(step.count("response.output_audio.delta") >= 1 for step in voiced)  # a piece per step
