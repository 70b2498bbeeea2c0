"""Committed items transcribed together when several are queued (no neural models: each item is
a tone whose pitch names its word, and a recognizer that names every tone it is given)."""

from __future__ import annotations

import numpy as np
import pytest
from engine_fixtures import Driver, FakeModels, b64, pcm, silence

from speech_realtime.engine import batching
from speech_realtime.engine.batching import (
    GAP_SECONDS,
    Queued,
    batch_size,
    transcribe_queued,
    transcribe_together,
)
from speech_realtime.engine.models import ASR_RATE, ENGINE_RATE, Heard, Word

BASE_HZ, STEP_HZ = 300, 50
COMPLETED = "conversation.item.input_audio_transcription.completed"


def pitched(index: int, seconds: float = 1.0, rate: int = ENGINE_RATE) -> np.ndarray:
    """An item's speech: 0.3 s of silence, a tone whose pitch says ``index``, 0.3 s of silence."""
    t = np.arange(int(seconds * rate)) / rate
    voiced = 0.4 * np.sin(2 * np.pi * (BASE_HZ + STEP_HZ * index) * t)
    return np.concatenate([silence(0.3, rate), voiced, silence(0.3, rate)]).astype(np.float32)


class PitchModels(FakeModels):
    """Hears each tone as the word ``W<index>`` of its pitch, at the tone's exact place."""

    def __init__(self) -> None:
        super().__init__()
        self.shift = 0.0  # seconds every word's time is moved by (a recognizer's misalignment)

    def transcribe(self, samples: np.ndarray, language: str | None = None) -> Heard:
        self.heard.append(len(samples))
        frame = ASR_RATE // 100
        frames = samples[: len(samples) - len(samples) % frame].reshape(-1, frame)
        loud = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1)) > 0.05
        edges = np.flatnonzero(np.diff(np.concatenate(([0], loud.astype(np.int8), [0]))))
        words = []
        for start, end in zip(edges[::2], edges[1::2], strict=True):
            run = samples[start * frame : end * frame]
            pitch = np.argmax(np.abs(np.fft.rfft(run))) * ASR_RATE / len(run)
            at, to = start / 100 + self.shift, end / 100 + self.shift
            words.append(Word(f"W{round((pitch - BASE_HZ) / STEP_HZ)}", at, to))
        return Heard(" ".join(w.text for w in words), tuple(words))


def item_samples(index: int, seconds: float = 1.0) -> np.ndarray:
    return pitched(index, seconds, ASR_RATE)


# -- the decision ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "count"),
    [
        ([], 1),
        ([3.0], 1),
        ([3.0, 4.0, 3.5, 4.2], 4),  # 14.7 s and three gaps fit one window
        ([12.0, 12.0, 3.0], 2),
        ([20.0, 8.0], 1),  # with the gap, the second does not fit
        ([5.0] * 10, 4),  # 5 s items 2 s apart: four in 26 s
        ([30.0, 1.0], 1),
    ],
)
def test_the_batch_is_what_is_queued_and_fits_one_window(seconds: list[float], count: int) -> None:
    assert batch_size(seconds) == count


def test_items_transcribed_together_get_their_own_words_on_their_own_timeline() -> None:
    models = PitchModels()
    items = [batching.queued(item_samples(index), models) for index in range(3)]
    results = transcribe_together(items, models, None)
    assert len(models.heard) == 1 and models.heard[0] == sum(len(i.samples) for i in items) + 2 * int(
        GAP_SECONDS * ASR_RATE
    )
    assert [heard.text for heard in results] == ["W0", "W1", "W2"]
    for heard in results:
        (word,) = heard.words
        assert word.start == pytest.approx(0.3, abs=0.02) and word.end == pytest.approx(1.3, abs=0.02)


def test_a_word_misaligned_into_a_gap_goes_to_the_speech_it_is_nearest() -> None:
    models = PitchModels()
    models.shift = 0.5  # every word half a second late: into the gap after its item
    results = transcribe_together([batching.queued(item_samples(i), models) for i in range(2)], models, None)
    assert [heard.text for heard in results] == ["W0", "W1"]


def test_an_unsure_word_or_a_dropped_item_sends_its_items_back_to_one_call_each() -> None:
    class Misplacing(PitchModels):
        def transcribe(self, samples, language=None):  # the first word put in the first gap's middle
            heard = super().transcribe(samples, language)
            return Heard(heard.text, (Word(heard.words[0].text, 2.5, 2.6), *heard.words[1:]))

    models = Misplacing()
    results = transcribe_together([batching.queued(item_samples(i), models) for i in range(4)], models, None)
    assert results[:2] == [None, None]  # the two items on either side of that gap
    assert [heard.text for heard in results[2:]] == ["W2", "W3"]

    class Dropping(PitchModels):
        def transcribe(self, samples, language=None):  # the decoder stopped after the first item
            heard = super().transcribe(samples, language)
            return Heard(heard.words[0].text, heard.words[:1])

    models = Dropping()
    results = transcribe_together([batching.queued(item_samples(i), models) for i in range(2)], models, None)
    assert results[0] is not None and results[0].text == "W0" and results[1] is None


def test_a_lone_or_silent_item_is_not_batched() -> None:
    models = PitchModels()
    assert transcribe_queued([item_samples(0)], models, None) == []
    quiet = np.zeros(ASR_RATE, dtype=np.float32)
    assert transcribe_queued([item_samples(0), quiet], models, None) == []
    assert transcribe_queued([quiet, item_samples(0)], models, None) == []
    assert models.heard == []
    results = transcribe_queued([item_samples(0), quiet, item_samples(2)], models, None)
    assert [r.text if r else None for r in results] == ["W0", None, "W2"]
    assert isinstance(Queued(quiet, []).seconds, float)


# -- in a session -----------------------------------------------------------------------------------


def transcribing(models: PitchModels) -> Driver:
    driver = Driver("ga", models)
    driver.send(
        "session.update", session={"type": "realtime", "audio": {"input": {"transcription": {"model": "x"}}}}
    )
    return driver


def commit(driver: Driver, index: int) -> str:
    driver.send("input_audio_buffer.append", audio=b64(pcm(pitched(index))))
    return driver.send("input_audio_buffer.commit")[0]["item_id"]


def test_items_queued_faster_than_real_time_share_one_call_and_keep_their_order() -> None:
    models = PitchModels()
    driver = transcribing(models)
    ids = [commit(driver, index) for index in range(4)]
    events = driver.run()
    completed = [e for e in events if e["type"] == COMPLETED]
    assert [e["item_id"] for e in completed] == ids
    assert [e["transcript"] for e in completed] == ["W0", "W1", "W2", "W3"]
    assert len(models.heard) == 1  # one window for the four
    for event in completed:  # words on each item's own timeline
        assert event["x_segments"][0]["start"] == pytest.approx(0.3, abs=0.05)
    deltas = [e["item_id"] for e in events if e["type"].endswith("transcription.delta")]
    assert deltas == ids


def test_messages_already_waiting_are_read_before_the_recognizer_runs() -> None:
    models = PitchModels()
    driver = transcribing(models)
    first = commit(driver, 0)
    assert driver.step() == [] and models.heard == []  # a message came in: look for more first
    second = commit(driver, 1)  # ... and one was waiting
    assert driver.step() == [] and models.heard == []
    events = driver.run()
    assert len(models.heard) == 1
    assert [(e["item_id"], e["transcript"]) for e in events if e["type"] == COMPLETED] == [
        (first, "W0"),
        (second, "W1"),
    ]


def test_live_audio_is_transcribed_at_once_never_waiting_for_a_batch() -> None:
    models = PitchModels()
    driver = transcribing(models)
    commit(driver, 0)
    driver.step()  # the one step that looks for waiting messages: there were none
    events = driver.step()
    assert models.heard and [e["delta"] for e in events] == ["W0"]


# -- with the real models, through the service ----------------------------------------------------

UPLOAD = [
    "The weather today is sunny with a light breeze.",
    "Please send the report to Maria before Friday.",
    "Our meeting starts at ten thirty in the morning.",
    "The train to Boston leaves at noon on Monday.",
]


def test_an_upload_streamed_gets_each_phrases_words_in_its_own_phrase_in_order(
    engine, models, monkeypatch
) -> None:
    from engine_client import speech_pcm

    from speech_realtime.audio import float_to_pcm16, pcm16_to_float, resample
    from speech_realtime.config import Settings
    from speech_realtime.options import Ended, Phrase
    from speech_realtime.speech import SpeechService
    from speech_realtime.text import word_error_rate

    spoken = [resample(pcm16_to_float(speech_pcm(models, text)), ENGINE_RATE, ASR_RATE) for text in UPLOAD]
    pause = np.zeros(ASR_RATE, dtype=np.float32)
    audio = float_to_pcm16(np.concatenate([pause, *(part for s in spoken for part in (s, pause))]))
    calls: list[int] = []
    transcribe = models.transcribe
    monkeypatch.setattr(
        models,
        "transcribe",
        lambda samples, language=None: calls.append(len(samples)) or transcribe(samples, language),
    )
    settings = Settings.from_mapping({"SPEECH_ENGINE_URL": engine.url, "SPEECH_REQUEST_TIMEOUT": "60"})
    stream = SpeechService(settings).recognition_stream(rate=ASR_RATE)
    events = []
    try:
        stream.push(audio)  # all at once: an upload, faster than real time
        stream.finish()
        while not events or not isinstance(events[-1], Ended):
            event = stream.poll(timeout=60)
            assert event is not None, events
            events.append(event)
    finally:
        stream.close()
    phrases = [e for e in events if isinstance(e, Phrase)]
    assert len(phrases) == len(UPLOAD), phrases
    for sentence, phrase in zip(UPLOAD, phrases, strict=True):
        assert word_error_rate(sentence, phrase.text) <= 0.25, (sentence, phrase.text)
        first, last = sentence.lower().split()[0], sentence.lower().split()[-1].strip(".")
        heard = phrase.text.lower().split()
        assert heard[0].strip(",.") == first and last in heard[-1], phrase.text  # words complete
    assert [p.offset for p in phrases] == sorted(p.offset for p in phrases)
    assert len(calls) < len(UPLOAD), calls  # phrases shared windows


def test_items_a_batch_could_not_place_are_not_batched_again() -> None:
    class Misplacing(PitchModels):
        def transcribe(self, samples, language=None):  # a word in the first gap, in every batch
            heard = super().transcribe(samples, language)
            if len(heard.words) < 2:
                return heard
            return Heard(heard.text, (Word(heard.words[0].text, 2.5, 2.6), *heard.words[1:]))

    models = Misplacing()
    driver = transcribing(models)
    for index in range(3):
        commit(driver, index)
    events = driver.run()
    assert [e["transcript"] for e in events if e["type"] == COMPLETED] == ["W0", "W1", "W2"]
    # one batch of three (the third placed), then the first two alone: never batched again
    assert len(models.heard) == 3


def test_each_items_text_is_cut_from_the_transcript_as_written() -> None:
    class Numbers(PitchModels):
        def transcribe(self, samples, language=None):  # a time read as "10.30", two words
            heard = super().transcribe(samples, language)
            first, second = heard.words
            words = (
                Word("At", first.start, first.start + 0.3),
                Word("10", first.start + 0.3, first.end - 0.3),
            )
            words += (Word(".30.", first.end - 0.3, first.end), Word("Yes.", second.start, second.end))
            return Heard("At 10.30. Yes.", words)

    models = Numbers()
    results = transcribe_together([batching.queued(item_samples(i), models) for i in range(2)], models, None)
    assert [heard.text for heard in results] == ["At 10.30.", "Yes."]

    class Running(PitchModels):  # the second item read as the first's sentence going on
        def transcribe(self, samples, language=None):
            first, second = super().transcribe(samples, language).words
            return Heard(
                "Hello there, and welcome.",
                (
                    Word("Hello there,", first.start, first.end),
                    Word("and welcome.", second.start, second.end),
                ),
            )

    models = Running()
    results = transcribe_together([batching.queued(item_samples(i), models) for i in range(2)], models, None)
    assert [heard.text for heard in results] == ["Hello there,", "And welcome."]
    assert results[1].words[0].text == "And welcome."


def test_words_given_back_out_of_order_make_the_whole_batch_unsure() -> None:
    class Swapping(PitchModels):
        def transcribe(self, samples, language=None):
            heard = super().transcribe(samples, language)
            return Heard(heard.text, tuple(reversed(heard.words)))

    models = Swapping()
    results = transcribe_together([batching.queued(item_samples(i), models) for i in range(3)], models, None)
    assert results == [None, None, None]
