"""The official Azure Speech SDK (Python, pinned) against the service: SpeechConfig(host=) only.

Every SDK call runs under a time limit (:func:`within`), so a turn the service forgot to end
fails the test instead of stalling it. The upstream is the scripted Realtime server (recognition
without server VAD: the turn is committed when the audio ends) or the engine on fake models
(an energy VAD decides where an utterance ends, as with a live microphone).
"""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
from azure_sdk_fixtures import quiet, tone, wav_bytes, within
from engine_fixtures import wait_until

from speech_realtime.web import sdk_sockets

speechsdk = pytest.importorskip("azure.cognitiveservices.speech")

pytestmark = pytest.mark.sdk

Reason = speechsdk.ResultReason
Format = speechsdk.SpeechSynthesisOutputFormat


def synthesizer(host: str, fmt=None, voice: str | None = None):
    config = speechsdk.SpeechConfig(host=host)
    config.set_property(speechsdk.PropertyId.SpeechServiceResponse_RequestSentenceBoundary, "true")
    if fmt is not None:
        config.set_speech_synthesis_output_format(fmt)
    if voice:
        config.speech_synthesis_voice_name = voice
    return speechsdk.SpeechSynthesizer(config, audio_config=None)


def file_recognizer(host: str, tmp_path, samples, *, language="en-US", detailed=False):
    path = tmp_path / "input.wav"
    path.write_bytes(wav_bytes(samples))
    config = speechsdk.SpeechConfig(host=host)
    config.speech_recognition_language = language
    if detailed:
        config.output_format = speechsdk.OutputFormat.Detailed
    return speechsdk.SpeechRecognizer(config, audio_config=speechsdk.audio.AudioConfig(filename=str(path)))


def microphone(stream, audio: bytes, stop: threading.Event) -> None:
    """Write ``audio`` to the push stream in real time, 100 ms at a time, never closing it."""
    for start in range(0, len(audio), 3200):
        if stop.wait(0.1):
            return
        stream.write(audio[start : start + 3200])


def canceled(result):
    assert result.reason == Reason.Canceled, result.reason
    return result.cancellation_details


# -- synthesis ----------------------------------------------------------------------------------


def test_speak_text_riff_is_sent_raw_and_the_sdk_writes_the_header(sdk_host, upstream):
    synth = synthesizer(sdk_host, Format.Riff24Khz16BitMonoPcm)
    result = within(lambda: synth.speak_text_async("hello from the scripted server").get())
    assert result.reason == Reason.SynthesizingAudioCompleted
    audio = result.audio_data
    assert audio[:4] == b"RIFF" and audio[8:12] == b"WAVE"
    assert audio.count(b"RIFF") == 1  # our bytes carry no second header
    assert len(audio) > 44 and (len(audio) - 44) % 2 == 0


def test_several_syntheses_on_one_socket_with_word_boundaries(sdk_host, upstream):
    synth = synthesizer(sdk_host)
    words: list[tuple[str, int]] = []
    synth.synthesis_word_boundary.connect(lambda e: words.append((e.text, e.audio_offset, e.boundary_type)))
    for _ in range(3):
        result = within(lambda: synth.speak_text_async("hello from the scripted server").get())
        assert result.reason == Reason.SynthesizingAudioCompleted
    spoken = [
        (text, offset) for text, offset, kind in words if kind == speechsdk.SpeechSynthesisBoundaryType.Word
    ]
    assert [text for text, _ in spoken[:5]] == ["hello", "from", "the", "scripted", "server"]
    assert [offset for _, offset in spoken[:5]] == sorted(offset for _, offset in spoken[:5])
    assert spoken[1][1] > 0
    assert any(kind == speechsdk.SpeechSynthesisBoundaryType.Sentence for _, _, kind in words)


def test_speak_ssml_with_bookmarks_breaks_and_two_voices(sdk_host, upstream):
    synth = synthesizer(sdk_host, Format.Raw24Khz16BitMonoPcm)
    marks: list[tuple[str, int]] = []
    last = threading.Event()

    def reached(event) -> None:
        marks.append((event.text, event.audio_offset))
        if event.text == "end":
            last.set()

    synth.bookmark_reached.connect(reached)
    ssml = (
        "<speak version='1.0' xmlns='http://www.w3.org/2001/10/synthesis' xml:lang='en-US'>"
        "<voice name='en-US-AvaMultilingualNeural'>hello <bookmark mark='middle'/>from the"
        "<break time='500ms'/></voice><voice name='en-US-AndrewMultilingualNeural'>scripted server"
        "<bookmark mark='end'/></voice></speak>"
    )
    result = within(lambda: synth.speak_ssml_async(ssml).get())
    assert result.reason == Reason.SynthesizingAudioCompleted, result.cancellation_details
    assert last.wait(5), marks  # events may be delivered just after the result
    assert [name for name, _ in marks] == ["middle", "end"]
    assert 0 < marks[0][1] < marks[1][1]
    assert len(result.audio_data) >= 24000  # at least the half second of silence
    voices = [e["session"] for e in upstream.client_events("session.update")]
    assert len(voices) >= 2


@pytest.mark.parametrize(
    ("fmt", "magic"),
    [
        (Format.Riff16Khz16BitMonoPcm, b"RIFF"),
        (Format.Riff8Khz8BitMonoMULaw, b"RIFF"),
        (Format.Raw8Khz8BitMonoALaw, None),
        (Format.Audio24Khz48KBitRateMonoMp3, None),
        (Format.Ogg24Khz16BitMonoOpus, b"OggS"),
        (Format.Webm24Khz16BitMonoOpus, b"\x1a\x45\xdf\xa3"),
    ],
)
def test_output_formats(sdk_host, upstream, fmt, magic):
    synth = synthesizer(sdk_host, fmt)
    result = within(lambda: synth.speak_text_async("hello").get())
    assert result.reason == Reason.SynthesizingAudioCompleted, result.cancellation_details
    if magic:
        assert result.audio_data.startswith(magic)
    if fmt == Format.Audio24Khz48KBitRateMonoMp3:
        assert result.audio_data[:3] == b"ID3" or result.audio_data[0] == 0xFF


def test_unsupported_output_format_is_refused_naming_it(sdk_host, upstream):
    synth = synthesizer(sdk_host, Format.Audio16Khz16Bit32KbpsMonoOpus)
    result = within(lambda: synth.speak_text_async("hi").get())
    details = canceled(result)
    assert "audio-16khz-16bit-32kbps-mono-opus" in details.error_details
    assert upstream.connections == 0


def test_unknown_voice_ends_the_turn_naming_the_voice(sdk_host, upstream):
    synth = synthesizer(sdk_host, voice="en-US-NobodyNeural")
    result = within(lambda: synth.speak_text_async("hi").get())
    assert "en-US-NobodyNeural" in canceled(result).error_details
    assert upstream.connections == 0


@pytest.mark.parametrize(
    ("script", "code"),
    [
        ({"handshake_status": 401}, speechsdk.CancellationErrorCode.ConnectionFailure),
        ({"handshake_status": 429, "retry_after": "1"}, speechsdk.CancellationErrorCode.TooManyRequests),
        ({"mode": "rate_limit_event"}, speechsdk.CancellationErrorCode.TooManyRequests),
        ({"mode": "error_event"}, speechsdk.CancellationErrorCode.ServiceError),
        ({"mode": "close_before_done"}, speechsdk.CancellationErrorCode.ServiceError),
        ({"mode": "content_filter"}, speechsdk.CancellationErrorCode.BadRequest),
    ],
)
def test_synthesis_upstream_failures_cancel_without_hanging(sdk_host, upstream, script, code):
    upstream.reset(**script)
    synth = synthesizer(sdk_host)
    result = within(lambda: synth.speak_text_async("hello there").get())
    details = canceled(result)
    assert details.error_details
    if code is not None:
        assert details.error_code == code, details.error_details
    assert "SECRET" not in details.error_details


def test_unsupported_viseme_events_close_naming_the_feature(sdk_host, upstream):
    synth = synthesizer(sdk_host)
    synth.viseme_received.connect(lambda e: None)
    assert "viseme" in canceled(within(lambda: synth.speak_text_async("hi").get())).error_details


# -- recognition --------------------------------------------------------------------------------


def test_recognize_once_from_a_file_with_detailed_nbest(sdk_host, upstream, tmp_path):
    upstream.reset(transcript="It costs 25 dollars.")
    recognizer = file_recognizer(sdk_host, tmp_path, tone(1.0), language="de-DE", detailed=True)
    result = within(lambda: recognizer.recognize_once_async().get())
    assert result.reason == Reason.RecognizedSpeech
    assert result.text == "It costs 25 dollars."
    assert result.duration > 0 and result.offset >= 0
    best = json.loads(result.json)["NBest"][0]
    assert best["Display"] == "It costs 25 dollars."
    assert best["Lexical"] == "it costs twenty five dollars"
    assert best["ITN"] == best["MaskedITN"] == "it costs 25 dollars"
    assert "Confidence" in best
    session = upstream.client_events("session.update")[0]["session"]
    assert '"language": "de"' in json.dumps(session)


def test_continuous_recognition_phrase_then_session_stopped(sdk_host, upstream, tmp_path):
    recognizer = file_recognizer(sdk_host, tmp_path, tone(1.5))
    done = threading.Event()
    phrases: list[str] = []
    cancellations: list[object] = []
    recognizer.recognized.connect(lambda e: phrases.append(e.result.text))
    recognizer.canceled.connect(lambda e: cancellations.append(e.cancellation_details.reason))
    recognizer.session_stopped.connect(lambda e: done.set())
    within(lambda: recognizer.start_continuous_recognition_async().get())
    assert done.wait(20), "session_stopped never came"
    within(lambda: recognizer.stop_continuous_recognition_async().get())
    assert phrases == ["hello from the scripted server"]
    assert cancellations in ([], [speechsdk.CancellationReason.EndOfStream])


def test_silence_is_no_match(sdk_host, upstream, tmp_path):
    upstream.reset(transcript="")
    recognizer = file_recognizer(sdk_host, tmp_path, quiet(1.0))
    result = within(lambda: recognizer.recognize_once_async().get())
    assert result.reason == Reason.NoMatch


@pytest.mark.parametrize(
    ("script", "code"),
    [
        ({"handshake_status": 429, "retry_after": "1"}, speechsdk.CancellationErrorCode.TooManyRequests),
        ({"handshake_status": 401}, speechsdk.CancellationErrorCode.Forbidden),
        ({"mode": "error_event"}, speechsdk.CancellationErrorCode.ServiceError),
        ({"mode": "malformed"}, speechsdk.CancellationErrorCode.ServiceError),
        ({"mode": "close_before_done"}, speechsdk.CancellationErrorCode.ServiceError),
        ({"mode": "silence"}, speechsdk.CancellationErrorCode.ServiceError),
    ],
)
def test_recognition_upstream_failures_map_to_sdk_errors(sdk_host, upstream, tmp_path, script, code):
    upstream.reset(**script)
    recognizer = file_recognizer(sdk_host, tmp_path, tone(0.5))
    result = within(lambda: recognizer.recognize_once_async().get())
    details = canceled(result)
    assert details.code == code, details.error_details
    assert "SECRET" not in details.error_details


def test_watchdog_ends_a_turn_whose_client_stopped_sending(sdk_host, upstream):
    stream = speechsdk.audio.PushAudioInputStream()
    config = speechsdk.SpeechConfig(host=sdk_host)
    recognizer = speechsdk.SpeechRecognizer(config, audio_config=speechsdk.audio.AudioConfig(stream=stream))
    future = recognizer.recognize_once_async()
    stream.write(wav_bytes(tone(0.5))[44:])  # then nothing more, and the stream is never closed
    result = within(future.get)
    assert result.reason == Reason.RecognizedSpeech
    stream.close()


def test_translation_is_refused_naming_the_feature(sdk_host, upstream, tmp_path):
    path = tmp_path / "input.wav"
    path.write_bytes(wav_bytes(tone(0.5)))
    config = speechsdk.translation.SpeechTranslationConfig(host=sdk_host)
    config.speech_recognition_language = "en-US"
    config.add_target_language("de")
    recognizer = speechsdk.translation.TranslationRecognizer(
        config, audio_config=speechsdk.audio.AudioConfig(filename=str(path))
    )
    result = within(lambda: recognizer.recognize_once_async().get())
    assert "translation" in canceled(result).error_details


def test_pronunciation_assessment_is_refused_naming_the_feature(sdk_host, upstream, tmp_path):
    recognizer = file_recognizer(sdk_host, tmp_path, tone(0.5))
    speechsdk.PronunciationAssessmentConfig(reference_text="hello").apply_to(recognizer)
    result = within(lambda: recognizer.recognize_once_async().get())
    assert "pronunciation" in canceled(result).error_details


# -- server VAD (the engine on fake models) -----------------------------------------------------


def test_recognize_once_from_a_live_push_stream_ends_at_the_utterance(fake_engine_host):
    stream = speechsdk.audio.PushAudioInputStream()
    config = speechsdk.SpeechConfig(host=fake_engine_host)
    recognizer = speechsdk.SpeechRecognizer(config, audio_config=speechsdk.audio.AudioConfig(stream=stream))
    future = recognizer.recognize_once_async()
    stop = threading.Event()
    audio = wav_bytes(np.concatenate([quiet(1.0), tone(0.8), quiet(4.0)]))[44:]
    threading.Thread(target=microphone, args=(stream, audio, stop), daemon=True).start()
    try:
        result = within(future.get)
    finally:
        stop.set()
    assert result.reason == Reason.RecognizedSpeech
    assert result.text == "canned words"
    # in ticks: the tone starts at 1.0 s; the VAD's start includes its 300 ms prefix padding
    assert 5_000_000 <= result.offset <= 10_000_000
    stream.close()


def test_continuous_recognition_one_phrase_per_utterance(fake_engine_host, tmp_path):
    samples = [quiet(0.5), tone(0.6), quiet(1.2), tone(0.6), quiet(1.2)]
    recognizer = file_recognizer(fake_engine_host, tmp_path, np.concatenate(samples))
    done = threading.Event()
    phrases: list[tuple[str, int]] = []
    recognizer.recognized.connect(lambda e: phrases.append((e.result.text, e.result.offset)))
    hypotheses: list[str] = []
    recognizer.recognizing.connect(lambda e: hypotheses.append(e.result.text))
    recognizer.session_stopped.connect(lambda e: done.set())
    within(lambda: recognizer.start_continuous_recognition_async().get())
    assert done.wait(30), "session_stopped never came"
    within(lambda: recognizer.stop_continuous_recognition_async().get())
    # the fake model transcribes anything, so the trailing silence the stream commits at its
    # end may come back as a third phrase (a real model hears nothing in it)
    # phrases pushed faster than real time may share one Whisper window: each is capitalized as
    # a transcript of its own then
    assert [text.lower() for text, _ in phrases[:2]] == ["canned words", "canned words"]
    assert len(phrases) in (2, 3)
    assert 0 < phrases[0][1] < phrases[1][1]
    assert "canned words" in [hypothesis.lower() for hypothesis in hypotheses]


def test_several_recognize_once_turns_on_one_socket(fake_engine_host, monkeypatch):
    sockets = []
    run = sdk_sockets.RecognitionSocket.run
    monkeypatch.setattr(sdk_sockets.RecognitionSocket, "run", lambda self: (sockets.append(self), run(self)))
    stream = speechsdk.audio.PushAudioInputStream()
    config = speechsdk.SpeechConfig(host=fake_engine_host)
    recognizer = speechsdk.SpeechRecognizer(config, audio_config=speechsdk.audio.AudioConfig(stream=stream))
    utterance = wav_bytes(np.concatenate([quiet(0.5), tone(0.6), quiet(1.5)]))[44:]
    stop = threading.Event()
    threading.Thread(target=microphone, args=(stream, utterance * 4, stop), daemon=True).start()
    try:
        for _ in range(2):
            result = within(recognizer.recognize_once_async().get)
            assert (result.reason, result.text) == (Reason.RecognizedSpeech, "canned words")
    finally:
        stop.set()
    assert len(sockets) == 1
    stream.close()


def test_bare_endpoint_works_for_recognition_and_synthesis(sdk_host, upstream, tmp_path):
    path = tmp_path / "input.wav"
    path.write_bytes(wav_bytes(tone(0.5)))
    config = speechsdk.SpeechConfig(endpoint=sdk_host)
    config.speech_recognition_language = "en-US"
    recognizer = speechsdk.SpeechRecognizer(
        config, audio_config=speechsdk.audio.AudioConfig(filename=str(path))
    )
    result = within(lambda: recognizer.recognize_once_async().get())
    assert result.text == "hello from the scripted server"
    synth = speechsdk.SpeechSynthesizer(speechsdk.SpeechConfig(endpoint=sdk_host), audio_config=None)
    result = within(lambda: synth.speak_text_async("hello").get())
    assert result.reason == Reason.SynthesizingAudioCompleted


def test_language_identification_leaves_the_language_to_the_model(sdk_host, upstream, tmp_path):
    path = tmp_path / "input.wav"
    path.write_bytes(wav_bytes(tone(0.5)))
    languages = speechsdk.languageconfig.AutoDetectSourceLanguageConfig(languages=["en-US", "de-DE"])
    recognizer = speechsdk.SpeechRecognizer(
        speechsdk.SpeechConfig(host=sdk_host),
        auto_detect_source_language_config=languages,
        audio_config=speechsdk.audio.AudioConfig(filename=str(path)),
    )
    result = within(lambda: recognizer.recognize_once_async().get())
    assert result.text == "hello from the scripted server"
    session = upstream.client_events("session.update")[0]["session"]
    assert '"language"' not in json.dumps(session)


def test_recognize_once_on_a_silent_microphone_returns_no_match(fake_engine_host):
    stream = speechsdk.audio.PushAudioInputStream()
    config = speechsdk.SpeechConfig(host=fake_engine_host)
    recognizer = speechsdk.SpeechRecognizer(config, audio_config=speechsdk.audio.AudioConfig(stream=stream))
    stop = threading.Event()
    threading.Thread(target=microphone, args=(stream, wav_bytes(quiet(15.0))[44:], stop), daemon=True).start()
    try:
        result = within(recognizer.recognize_once_async().get)
    finally:
        stop.set()
    assert result.reason == Reason.NoMatch
    assert result.no_match_details.reason == speechsdk.NoMatchReason.InitialSilenceTimeout
    stream.close()


def test_custom_voice_deployment_is_refused_naming_the_feature(sdk_host, upstream):
    config = speechsdk.SpeechConfig(host=sdk_host)
    config.endpoint_id = "0123456789abcdef"
    synth = speechsdk.SpeechSynthesizer(config, audio_config=None)
    result = within(lambda: synth.speak_text_async("hi").get())
    assert "custom voice" in canceled(result).error_details
    assert upstream.connections == 0


def test_a_stalled_synthesis_ends_without_hanging(sdk_host, upstream):
    upstream.reset(chunk_delay=30.0)
    synth = synthesizer(sdk_host)
    details = canceled(within(lambda: synth.speak_text_async("hello there").get()))
    assert details.error_code == speechsdk.CancellationErrorCode.ServiceError, details.error_details


def test_word_boundaries_locate_words_after_and_inside_emoji(sdk_host, upstream):
    """The Python SDK finds each word in its input itself and reports code-point positions;
    the UTF-16 ``Length`` the JavaScript SDK needs leaves them right."""
    text = "😀 Caf😀é and more 😀 words"
    synth = synthesizer(sdk_host)
    words: list[tuple[str, int, int]] = []
    synth.synthesis_word_boundary.connect(lambda e: words.append((e.text, e.text_offset, e.word_length)))
    result = within(lambda: synth.speak_text_async(text).get())
    assert result.reason == Reason.SynthesizingAudioCompleted
    # The SDK may hand the last boundary events to their callback just after the result.
    assert wait_until(lambda: ("words", 19, 5) in words, 5), words
    assert [text[offset : offset + length] for _, offset, length in words] == [word for word, _, _ in words]
    assert ("Caf😀é", 2, 5) in words
