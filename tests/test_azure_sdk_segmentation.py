"""The official Azure Speech SDK's segmentation and silence settings, end to end.

The app runs over the engine on fake models whose recognizer punctuates like a real one
(:class:`~test_engine_semantic_vad.ClauseModels`: each burst of tone is a clause, two clauses a
sentence), so the phrases the SDK gets show where the service cut the audio. Every SDK call runs
under a time limit.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import numpy as np
import pytest
from azure_sdk_fixtures import quiet, serve_on_engine, tone, within
from test_engine_semantic_vad import ClauseModels

from speech_realtime.audio import float_to_pcm16
from speech_realtime.text import word_error_rate

speechsdk = pytest.importorskip("azure.cognitiveservices.speech")

pytestmark = pytest.mark.sdk

Property = speechsdk.PropertyId
SENTENCE = "The quick brown fox, jumps over the lazy dog."
CLAUSE = "The quick brown fox"


@pytest.fixture
def clause_host() -> Iterator[str]:
    yield from serve_on_engine(ClauseModels())


def sentences(count: int, pause: float = 0.8, between: float = 0.8) -> np.ndarray:
    """``count`` sentences of two 0.6 s clauses: ``pause`` inside each, ``between`` them."""
    parts = [quiet(0.5)]
    for index in range(count):
        parts += [tone(0.6), quiet(pause), tone(0.6), quiet(between if index < count - 1 else 1.5)]
    return np.concatenate(parts)


def recognizer(host: str, samples: np.ndarray, **properties: str):
    """A recognizer of ``samples`` with these ``SpeechConfig`` properties (``PropertyId`` names).

    The audio goes through a push stream written whole and closed, which the SDK sends at twice
    real time in one turn (a file it sends 5 s ahead, then ends that turn's audio and opens
    another for the rest, which would cut a phrase at the 5 s mark).
    """
    stream = speechsdk.audio.PushAudioInputStream()
    stream.write(float_to_pcm16(samples))
    stream.close()
    config = speechsdk.SpeechConfig(host=host)
    config.speech_recognition_language = "en-US"
    for name, value in properties.items():
        config.set_property(getattr(Property, name), value)
    reco = speechsdk.SpeechRecognizer(config, audio_config=speechsdk.audio.AudioConfig(stream=stream))
    reco.pushed = stream  # kept alive with the recognizer (keep the recognizer in a variable too)
    return reco


def continuous(reco) -> list[tuple[str, int, int]]:
    """Every phrase of a continuous recognition of the whole file: text, offset, duration."""
    done = threading.Event()
    phrases: list[tuple[str, int, int]] = []
    reco.recognized.connect(lambda e: phrases.append((e.result.text, e.result.offset, e.result.duration)))
    reco.session_stopped.connect(lambda e: done.set())
    within(lambda: reco.start_continuous_recognition_async().get())
    assert done.wait(40), "session_stopped never came"
    within(lambda: reco.stop_continuous_recognition_async().get())
    return [phrase for phrase in phrases if phrase[0]]


def test_a_longer_segmentation_silence_gives_fewer_longer_phrases(clause_host):
    audio = sentences(3)
    short = continuous(recognizer(clause_host, audio))
    assert [text for text, _, _ in short] == [CLAUSE] * 6, short  # the default 500 ms cuts every pause
    long = continuous(recognizer(clause_host, audio, Speech_SegmentationSilenceTimeoutMs="2000"))
    assert len(long) == 1 and long[0][0].count("quick") == 3
    assert long[0][2] > 3 * max(duration for _, _, duration in short)


def test_semantic_segmentation_does_not_cut_a_sentence_at_its_pause(clause_host):
    audio = sentences(2)
    reco = recognizer(clause_host, audio)
    plain = within(lambda: reco.recognize_once_async().get())
    assert plain.text == CLAUSE  # server VAD: the pause inside the sentence ends the phrase
    reco = recognizer(clause_host, audio, Speech_SegmentationStrategy="Semantic")
    result = within(lambda: reco.recognize_once_async().get())
    assert result.reason == speechsdk.ResultReason.RecognizedSpeech and result.text == SENTENCE
    reco = recognizer(clause_host, audio, Speech_SegmentationStrategy="Semantic")
    assert [text for text, _, _ in continuous(reco)] == [SENTENCE, SENTENCE]


def test_recognize_once_ends_at_its_end_silence(clause_host):
    reco = recognizer(clause_host, sentences(1), SpeechServiceConnection_EndSilenceTimeoutMs="1500")
    assert within(lambda: reco.recognize_once_async().get()).text == SENTENCE


def test_a_speaker_who_never_pauses_is_cut_at_the_maximum_segment_time(clause_host):
    audio = np.concatenate([quiet(0.3), tone(24.0), quiet(1.0)])
    phrases = continuous(recognizer(clause_host, audio, Speech_SegmentationMaximumTimeMs="20000"))
    assert len(phrases) == 2
    (_, first, first_duration), (_, second, _) = phrases
    assert first_duration == pytest.approx(20 * 10**7, abs=0.3 * 10**7)
    assert second == pytest.approx(first + first_duration, abs=0.4 * 10**7)


def test_speech_after_the_initial_silence_timeout_is_no_match(clause_host):
    audio = np.concatenate([quiet(2.5), tone(0.6), quiet(1.5)])
    reco = recognizer(clause_host, audio, SpeechServiceConnection_InitialSilenceTimeoutMs="1000")
    result = within(lambda: reco.recognize_once_async().get())
    assert result.reason == speechsdk.ResultReason.NoMatch
    assert result.no_match_details.reason == speechsdk.NoMatchReason.InitialSilenceTimeout
    reco = recognizer(clause_host, audio)
    heard = within(lambda: reco.recognize_once_async().get())
    assert heard.text == CLAUSE  # within the default 5 s


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        (
            "Speech_SegmentationSilenceTimeoutMs",
            "50",
            "segmentation silence 50 ms is out of range (100 to 5000 ms)",
        ),
        ("Speech_SegmentationMaximumTimeMs", "90000", "segmentation max phrase 90000 ms is out of range"),
    ],
)
def test_an_out_of_range_value_is_the_sdks_bad_request(clause_host, name, value, reason):
    reco = recognizer(clause_host, sentences(1), **{name: value})
    result = within(lambda: reco.recognize_once_async().get())
    assert result.reason == speechsdk.ResultReason.Canceled
    details = result.cancellation_details
    assert details.code == speechsdk.CancellationErrorCode.BadRequest
    assert reason in details.error_details


# -- on the real models -------------------------------------------------------------------------

READING = ("The train leaves at nine.", "Bring a warm coat.", "We will meet at the station.")
#: The word error rate these tests allow. Piper's voice varies from run to run and Whisper
#: sometimes mishears "meet at the" ("need that to", "meet that"; once in each of two fresh-clone
#: runs, and in 1 of 12 readings of the phrase alone, while 10 readings of the whole sentence were
#: all heard right with the chunked voice and with the one before): these tests are about where
#: phrases end, so a misheard phrase is allowed; the recognition tests check the words.
MISHEARD = 0.3
#: Seconds one SDK call may take on the real models (two cores, CPU models).
ENGINE_LIMIT = 180.0


def read(host: str, parts: tuple[str, ...], pause: str = "800ms") -> np.ndarray:
    """``parts`` read by the engine's Piper voice with ``pause`` breaks between them, as float
    samples at 16 kHz with a little silence around."""
    config = speechsdk.SpeechConfig(host=host)
    config.set_speech_synthesis_output_format(speechsdk.SpeechSynthesisOutputFormat.Raw16Khz16BitMonoPcm)
    synth = speechsdk.SpeechSynthesizer(config, audio_config=None)
    ssml = '<speak version="1.0" xml:lang="en-US"><voice name="en-US-AvaMultilingualNeural">'
    ssml += f'<break time="{pause}"/>'.join(parts) + "</voice></speak>"
    spoken = within(lambda: synth.speak_ssml_async(ssml).get(), ENGINE_LIMIT)
    assert spoken.reason == speechsdk.ResultReason.SynthesizingAudioCompleted, spoken.cancellation_details
    samples = np.frombuffer(spoken.audio_data, dtype="<i2").astype(np.float32) / 32768
    return np.concatenate([quiet(0.3), samples, quiet(1.5)])


@pytest.mark.models
def test_real_speech_with_short_pauses_is_fewer_phrases_with_a_longer_segmentation_silence(engine_host):
    """Three sentences read by Piper with 0.8 s breaks: three phrases at the default 500 ms, one
    with a 2 s segmentation silence (Silero VAD, Whisper)."""
    audio = read(engine_host, READING)

    def phrases(**properties: str) -> list[str]:
        reco = recognizer(engine_host, audio, **properties)
        done = threading.Event()
        texts: list[str] = []
        reco.recognized.connect(lambda e: texts.append(e.result.text))
        reco.session_stopped.connect(lambda e: done.set())
        within(lambda: reco.start_continuous_recognition_async().get(), ENGINE_LIMIT)
        assert done.wait(ENGINE_LIMIT), "session_stopped never came"
        within(lambda: reco.stop_continuous_recognition_async().get(), ENGINE_LIMIT)
        return [text for text in texts if text]

    short = phrases()
    assert len(short) == 3, short
    assert word_error_rate(" ".join(READING), " ".join(short)) <= MISHEARD, short
    long = phrases(Speech_SegmentationSilenceTimeoutMs="2000")
    assert len(long) == 1, long
    assert word_error_rate(" ".join(READING), long[0]) <= MISHEARD, long


@pytest.mark.models
def test_real_speech_semantic_segmentation_keeps_a_sentence_across_a_pause(engine_host):
    """A pause after "at the": server VAD ends the phrase there, semantic segmentation does not
    (Whisper's transcript of the fragment ends in a word that leaves the clause open)."""
    # The pause is the break plus the voice's trailing silence (110 to 140 ms measured): with an
    # 800 ms break it came within 60 to 90 ms of semantic VAD's long pause (1000 ms), which then
    # ended the turn now and then; 650 ms leaves room on both sides (server VAD's 500 ms).
    audio = read(engine_host, ("We will meet at the", "station near the river."), pause="650ms")
    whole = "We will meet at the station near the river."
    reco = recognizer(engine_host, audio)
    cut = within(lambda: reco.recognize_once_async().get(), ENGINE_LIMIT)
    assert cut.text.startswith("We will meet") and "station" not in cut.text, cut.text
    reco = recognizer(engine_host, audio, Speech_SegmentationStrategy="Semantic")
    kept = within(lambda: reco.recognize_once_async().get(), ENGINE_LIMIT)
    assert word_error_rate(whole, kept.text) <= MISHEARD, kept.text
