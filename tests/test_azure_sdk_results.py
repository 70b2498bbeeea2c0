"""The official Azure Speech SDK (Python, pinned) reading results in the style it asked for:
``set_profanity`` (masked by default, raw, removed) and the language of auto-detection."""

from __future__ import annotations

import json

import pytest
from azure_sdk_fixtures import tone, wav_bytes, within

speechsdk = pytest.importorskip("azure.cognitiveservices.speech")

pytestmark = pytest.mark.sdk

PROFANE = "Well, shit happens."


def recognize(host: str, tmp_path, profanity=None, languages: list[str] | None = None):
    path = tmp_path / "input.wav"
    path.write_bytes(wav_bytes(tone(1.0)))
    config = speechsdk.SpeechConfig(host=host)
    config.output_format = speechsdk.OutputFormat.Detailed
    if profanity is not None:
        config.set_profanity(profanity)
    audio = speechsdk.audio.AudioConfig(filename=str(path))
    if languages:
        detect = speechsdk.languageconfig.AutoDetectSourceLanguageConfig(languages=languages)
        recognizer = speechsdk.SpeechRecognizer(
            config, auto_detect_source_language_config=detect, audio_config=audio
        )
    else:
        recognizer = speechsdk.SpeechRecognizer(config, audio_config=audio)
    result = within(lambda: recognizer.recognize_once_async().get())
    assert result.reason == speechsdk.ResultReason.RecognizedSpeech, result.reason
    return result


@pytest.mark.parametrize(
    ("profanity", "display", "lexical"),
    [
        (None, "Well, **** happens.", "well **** happens"),
        (speechsdk.ProfanityOption.Masked, "Well, **** happens.", "well **** happens"),
        (speechsdk.ProfanityOption.Raw, "Well, shit happens.", "well shit happens"),
        (speechsdk.ProfanityOption.Removed, "Well, happens.", "well happens"),
    ],
)
def test_set_profanity_shapes_the_text_and_every_nbest_form(
    sdk_host, upstream, tmp_path, profanity, display, lexical
):
    upstream.reset(transcript=PROFANE)
    result = recognize(sdk_host, tmp_path, profanity)
    assert result.text == display
    (best,) = json.loads(result.json)["NBest"]
    assert best["Display"] == display
    assert best["Lexical"] == best["ITN"] == best["MaskedITN"] == lexical


def test_hypotheses_are_masked_too(sdk_host, upstream, tmp_path):
    upstream.reset(transcript=PROFANE)
    path = tmp_path / "input.wav"
    path.write_bytes(wav_bytes(tone(1.0)))
    recognizer = speechsdk.SpeechRecognizer(
        speechsdk.SpeechConfig(host=sdk_host), audio_config=speechsdk.audio.AudioConfig(filename=str(path))
    )
    interim: list[str] = []
    recognizer.recognizing.connect(lambda event: interim.append(event.result.text))
    assert within(lambda: recognizer.recognize_once_async().get()).text == "Well, **** happens."
    assert interim and not any("shit" in text for text in interim)


def test_auto_detection_on_the_english_engine_reports_the_english_candidate(fake_engine_host, tmp_path):
    result = recognize(fake_engine_host, tmp_path, languages=["de-DE", "en-US"])
    assert speechsdk.AutoDetectSourceLanguageResult(result).language == "en-US"


def test_auto_detection_the_cloud_does_not_report_is_unknown(sdk_host, upstream, tmp_path):
    result = recognize(sdk_host, tmp_path, languages=["de-DE", "en-US"])
    assert speechsdk.AutoDetectSourceLanguageResult(result).language == "Unknown"
