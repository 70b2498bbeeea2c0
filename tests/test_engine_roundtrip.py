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
