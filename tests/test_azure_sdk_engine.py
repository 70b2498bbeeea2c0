"""The official Azure Speech SDK against the offline engine with its real models.

A sentence goes round: ``speak_text`` with word boundaries into a WAV the SDK writes, then
``recognize_once`` and continuous recognition of that WAV with ``format=detailed``. Every SDK
call runs under a time limit.
"""

from __future__ import annotations

import json
import threading

import pytest
from azure_sdk_fixtures import quiet, wav_bytes, within

from speech_realtime.text import word_error_rate

speechsdk = pytest.importorskip("azure.cognitiveservices.speech")

pytestmark = pytest.mark.sdk

SENTENCE = "The quick brown fox jumps over the lazy dog."
#: Seconds one SDK call may take on the engine (two cores, CPU models).
ENGINE_LIMIT = 120.0


@pytest.fixture
def spoken(engine_host, tmp_path):
    """``SENTENCE`` synthesized through the SDK into a 16 kHz WAV, with its word boundaries."""
    config = speechsdk.SpeechConfig(host=engine_host)
    config.set_speech_synthesis_output_format(speechsdk.SpeechSynthesisOutputFormat.Riff16Khz16BitMonoPcm)
    synth = speechsdk.SpeechSynthesizer(config, audio_config=None)
    words: list[tuple[str, int, int]] = []
    all_words = threading.Event()

    def boundary(event) -> None:
        words.append((event.text, event.audio_offset, event.text_offset))
        if len(words) == len(SENTENCE.split()):
            all_words.set()

    synth.synthesis_word_boundary.connect(boundary)
    result = within(lambda: synth.speak_text_async(SENTENCE).get(), ENGINE_LIMIT)
    all_words.wait(5)  # events may be delivered just after the result
    assert result.reason == speechsdk.ResultReason.SynthesizingAudioCompleted, result.cancellation_details
    path = tmp_path / "spoken.wav"
    path.write_bytes(result.audio_data)
    return path, words, result.audio_duration.total_seconds()


def recognizer(host: str, path) -> object:
    config = speechsdk.SpeechConfig(host=host)
    config.speech_recognition_language = "en-US"
    config.output_format = speechsdk.OutputFormat.Detailed
    return speechsdk.SpeechRecognizer(config, audio_config=speechsdk.audio.AudioConfig(filename=str(path)))


def test_round_trip_speak_then_recognize_once(engine_host, spoken):
    path, words, seconds = spoken
    assert [text for text, _, _ in words] == SENTENCE.rstrip(".").split()
    offsets = [offset for _, offset, _ in words]
    assert offsets == sorted(offsets) and offsets[-1] < seconds * 10_000_000
    assert [text_offset for _, _, text_offset in words][:3] == [0, 4, 10]  # found in the input
    reco = recognizer(engine_host, path)
    result = within(lambda: reco.recognize_once_async().get(), ENGINE_LIMIT)
    assert result.reason == speechsdk.ResultReason.RecognizedSpeech, result
    assert word_error_rate(SENTENCE, result.text) <= 0.2, result.text
    best = json.loads(result.json)["NBest"][0]
    assert best["Display"] == result.text and best["Lexical"]
    assert 0 < result.duration <= seconds * 10_000_000 + 5_000_000


def test_round_trip_continuous_recognition(engine_host, spoken):
    path, _, _ = spoken
    reco = recognizer(engine_host, path)
    stopped = threading.Event()
    phrases: list[str] = []
    reco.recognized.connect(lambda e: phrases.append(e.result.text))
    reco.session_stopped.connect(lambda e: stopped.set())
    within(lambda: reco.start_continuous_recognition_async().get(), ENGINE_LIMIT)
    assert stopped.wait(ENGINE_LIMIT), "session_stopped never came"
    within(lambda: reco.stop_continuous_recognition_async().get(), ENGINE_LIMIT)
    assert word_error_rate(SENTENCE, " ".join(phrases)) <= 0.2, phrases


def test_silence_is_no_match_on_the_real_models(engine_host, tmp_path):
    path = tmp_path / "silence.wav"
    path.write_bytes(wav_bytes(quiet(2.0)))
    reco = recognizer(engine_host, path)
    result = within(lambda: reco.recognize_once_async().get(), ENGINE_LIMIT)
    assert result.reason == speechsdk.ResultReason.NoMatch, result.text
