"""Round trip through the service on the local engine: synthesize, recognize, compare words."""

from __future__ import annotations

import base64

from speech_realtime.text import corpus_word_error_rate, word_error_rate

SENTENCES = [
    "The weather today is sunny with a light breeze.",
    "Please send the report to Maria before Friday.",
    "Our meeting starts at ten thirty in the morning.",
]


def test_synthesize_then_recognize_gives_the_words_back(engine_client) -> None:
    pairs = []
    for sentence in SENTENCES:
        spoken = engine_client.post(
            "/api/speech-realtime/synthesize", json={"text": sentence, "voiceName": "JennyNeural"}
        )
        assert spoken.status_code == 200
        assert spoken.headers["X-Speech-Verbatim"] == "true"
        heard = engine_client.post(
            "/api/speech-realtime/recognize", json={"audioData": base64.b64encode(spoken.data).decode()}
        )
        assert heard.status_code == 200
        pairs.append((sentence, heard.json["text"]))
    assert corpus_word_error_rate(pairs) <= 0.10, pairs


def test_stream_on_the_engine_matches_the_whole_reading(engine_client) -> None:
    text = "Streaming and whole synthesis agree. They voice the same words."
    whole = engine_client.post("/api/speech-realtime/synthesize", json={"text": text}).data
    streamed = engine_client.post("/api/speech-realtime/synthesize/stream", json={"text": text})
    assert streamed.status_code == 200
    assert abs(len(streamed.data) - len(whole)) < 0.05 * len(whole)


def test_info_names_the_local_backend(engine_client) -> None:
    info = engine_client.get("/api/speech-realtime/info").json
    assert info["backend"] == "local"
    assert info["service"] == "speech-realtime local engine"


def test_g711_through_the_service_on_the_engine(engine_client) -> None:
    spoken = engine_client.post(
        "/api/speech-realtime/synthesize", json={"text": "Call me at noon.", "format": "mulaw"}
    )
    assert spoken.status_code == 200
    assert spoken.mimetype == "audio/basic"
    heard = engine_client.post(
        "/api/speech-realtime/recognize",
        json={"audioData": base64.b64encode(spoken.data).decode(), "format": "g711_ulaw"},
    )
    assert word_error_rate("Call me at noon.", heard.json["text"]) <= 0.25


def test_streaming_recognition_on_the_engine_reports_each_utterance(engine, models) -> None:
    """The service's streaming recognition turn, with the engine's own server VAD end-pointing."""
    import numpy as np
    from engine_client import speech_pcm

    from speech_realtime.audio import float_to_pcm16, pcm16_to_float, resample
    from speech_realtime.config import Settings
    from speech_realtime.options import Ended, Hypothesis, Phrase, SpeechStarted, SpeechStopped
    from speech_realtime.speech import SpeechService

    first, second = "The meeting moved to Thursday morning.", "Please bring the signed contract."
    pause = np.zeros(16000, dtype=np.float32)
    spoken = [resample(pcm16_to_float(speech_pcm(models, text)), 24000, 16000) for text in (first, second)]
    audio = float_to_pcm16(np.concatenate([pause, spoken[0], pause, spoken[1], pause]))
    settings = Settings.from_mapping({"SPEECH_ENGINE_URL": engine.url, "SPEECH_REQUEST_TIMEOUT": "60"})
    stream = SpeechService(settings).recognition_stream(rate=16000)
    events = []
    try:
        for start in range(0, len(audio), 3200):  # 100 ms pieces, as a live client sends them
            stream.push(audio[start : start + 3200])
        stream.finish()
        while not events or not isinstance(events[-1], Ended):
            event = stream.poll(timeout=30)
            assert event is not None, events
            events.append(event)
    finally:
        stream.close()
    kinds = [type(e) for e in events]
    assert kinds.count(SpeechStarted) == 2 and kinds.count(SpeechStopped) == 2, kinds
    assert Hypothesis in kinds
    phrases = [e for e in events if isinstance(e, Phrase)]
    assert len(phrases) == 2, events
    assert word_error_rate(first, phrases[0].text) <= 0.25, phrases
    assert word_error_rate(second, phrases[1].text) <= 0.25, phrases
    assert 0.6 < phrases[0].offset < phrases[1].offset
