"""Transcription sessions on the engine (``intent=transcription``): the protocol, sans I/O on
the fake models with every server event validated against the ``openai`` types, and the service
on a transcription deployment of the engine (reference REST, the OpenAI SDK, Azure REST, the
Azure Speech SDK)."""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import threading

import openai
import pytest
from azure_sdk_fixtures import serve_ws, tone, wav_bytes, within
from engine_fixtures import FakeModels, b64, names, pcm, silence
from engine_fixtures import tone as engine_tone
from loopback import serve
from openai_fixtures import CLIENT_TIMEOUT, sdk_client
from openai_types import validate_server_event
from test_azure_rest import STT_PATH, WAV_16K, wav_16k
from test_engine_conformance import LIMIT, events_until, sdk

from speech_realtime.config import Settings
from speech_realtime.engine.server import EngineServer
from speech_realtime.engine.session import EngineSession
from speech_realtime.realtime.events import stt_session_update
from speech_realtime.realtime.transcription import ModelTraits, TranscriptionSession
from speech_realtime.text import word_error_rate
from speech_realtime.web import create_app

BOTH_DIALECTS = pytest.mark.parametrize("dialect", ["ga", "preview"])
LIVE = TranscriptionSession("gpt-4o-mini-transcribe", ModelTraits("gpt-live-transcribe"), "near_field")


class Session:
    """An engine transcription session driven without a socket; events validated (preview's
    ``transcription_session.created`` excepted: the openai package does not type it)."""

    def __init__(self, dialect: str, *, transcription: bool = True) -> None:
        self.dialect = dialect
        self.models = FakeModels()
        self.session = EngineSession(dialect, self.models, transcription=transcription)
        self.created = self.session.open()[0]

    def send(self, event: dict) -> list[dict]:
        events = self.session.handle(json.dumps(event))
        while self.session.busy:
            events += self.session.step()
        for item in events:
            validate_server_event(self.dialect, json.loads(json.dumps(item)))
        return events


def update(dialect: str, **kwargs) -> dict:
    return stt_session_update(dialect, audio_format="pcm16", transcribe_model="x", session=LIVE, **kwargs)


@BOTH_DIALECTS
def test_a_transcription_session_transcribes_what_is_committed(dialect) -> None:
    session = Session(dialect)
    expected = "session.created" if dialect == "ga" else "transcription_session.created"
    assert session.created["type"] == expected
    (updated,) = session.send(update(dialect, language="en", keywords=("Contoso",), logprobs=True))
    assert updated["type"] == ("session.updated" if dialect == "ga" else "transcription_session.updated")
    session.send({"type": "input_audio_buffer.append", "audio": b64(pcm(engine_tone(0.5, 24000)))})
    events = session.send({"type": "input_audio_buffer.commit"})
    (completed,) = [e for e in events if e["type"].endswith("transcription.completed")]
    assert completed["transcript"] == "canned words"
    assert "logprobs" not in completed


@BOTH_DIALECTS
def test_a_transcription_session_refuses_responses_and_realtime_updates(dialect) -> None:
    session = Session(dialect)
    (error,) = session.send({"type": "response.create"})
    assert error["type"] == "error" and "transcription session" in error["error"]["message"]
    realtime = stt_session_update(dialect, audio_format="pcm16", transcribe_model="whisper-1")
    (error,) = session.send(realtime)
    assert "realtime session update" in error["error"]["message"]


@BOTH_DIALECTS
def test_a_realtime_session_refuses_transcription_updates(dialect) -> None:
    session = Session(dialect, transcription=False)
    (error,) = session.send(update(dialect))
    assert error["error"]["message"].startswith("Passing a transcription session update event")


def test_turn_detection_in_a_transcription_session_never_responds() -> None:
    session = Session("ga")
    session.send(update("ga", vad=True))
    audio = pcm(engine_tone(0.6, 24000)) + pcm(silence(1.0, 24000))
    events = session.send({"type": "input_audio_buffer.append", "audio": b64(audio)})
    assert "input_audio_buffer.speech_stopped" in names(events)
    assert "conversation.item.input_audio_transcription.completed" in names(events)
    assert not [name for name in names(events) if name.startswith("response.")]


@pytest.mark.parametrize(
    "session",
    [
        {"type": "transcription", "include": ["item.input_audio_transcription.tokens"]},
        {"type": "transcription", "audio": {"input": {"noise_reduction": {"type": "loud"}}}},
        {"type": "transcription", "audio": {"input": {"voice": "alloy"}}},
    ],
)
def test_bad_transcription_updates_are_errors(session) -> None:
    (error,) = Session("ga").send({"type": "session.update", "session": session})
    assert error["type"] == "error"


# -- the service on a transcription deployment of the engine -------------------------------------


@pytest.fixture
def transcribing_engine():
    engine = EngineServer(models=FakeModels()).start()
    try:
        yield Settings.from_mapping(
            {
                "SPEECH_ENGINE_URL": engine.url,
                "OPENAI_TRANSCRIBE_MODEL": "gpt-live-transcribe",
                "SPEECH_REQUEST_TIMEOUT": "10",
                "SPEECH_CLIENT_TIMEOUT": "3",
            }
        )
    finally:
        engine.stop()


def test_the_service_recognizes_on_engine_transcription_sessions(transcribing_engine) -> None:
    client = create_app(transcribing_engine).test_client()
    audio = base64.b64encode(pcm(engine_tone(1.0, 24000))).decode()
    response = client.post("/api/speech-realtime/recognize", json={"audioData": audio})
    assert response.status_code == 200, response.json
    assert response.json["text"] == "canned words"
    response = client.post(f"{STT_PATH}?language=en-US", data=wav_16k(), headers={"Content-Type": WAV_16K})
    assert response.status_code == 200, response.data
    spoken = wav_bytes(tone(1.0))  # the fake recognizer hears nothing in silence
    response = client.post("/v1/audio/transcriptions", data={"file": (io.BytesIO(spoken), "a.wav")})
    assert response.status_code == 200 and response.json["text"] == "canned words"


def test_the_openai_sdk_on_engine_transcription_sessions(transcribing_engine) -> None:
    with serve(create_app(transcribing_engine)) as base, sdk_client(base, CLIENT_TIMEOUT) as client:
        wav = wav_bytes(tone(1.0))
        assert client.audio.transcriptions.create(model="x", file=("a.wav", wav)).text == "canned words"
        with pytest.raises(openai.BadRequestError) as caught:
            client.audio.transcriptions.create(model="x", file=("a.wav", wav), include=["logprobs"])
        assert caught.value.param == "include"


speechsdk = pytest.importorskip("azure.cognitiveservices.speech")


@pytest.mark.sdk
def test_azure_sdk_recognize_once_on_engine_transcription_sessions(transcribing_engine, tmp_path) -> None:
    path = tmp_path / "input.wav"
    path.write_bytes(wav_bytes(tone(1.0)))
    host = serve_ws(create_app(dataclasses.replace(transcribing_engine)))
    try:
        config = speechsdk.SpeechConfig(host=next(host))
        audio = speechsdk.audio.AudioConfig(filename=str(path))
        recognizer = speechsdk.SpeechRecognizer(config, audio_config=audio)
        speechsdk.PhraseListGrammar.from_recognizer(recognizer).addPhrase("Contoso")
        result = within(lambda: recognizer.recognize_once_async().get())
        assert result.reason == speechsdk.ResultReason.RecognizedSpeech, result.cancellation_details
        assert result.text.lower().startswith("canned words")
    finally:
        host.close()


def test_the_openai_sdks_realtime_client_on_an_engine_transcription_session(fake_engine) -> None:
    """A client nobody here wrote: the GA realtime client with ``intent=transcription``."""
    manager = sdk(fake_engine).realtime.connect(extra_query={"intent": "transcription"})
    with manager as conn:
        watchdog = threading.Timer(LIMIT, conn.close)
        watchdog.start()
        try:
            created = events_until(conn, "ga", "session.created")[-1]
            assert created["session"]["type"] == "transcription"
            conn.session.update(session=update("ga", language="en")["session"])
            events_until(conn, "ga", "session.updated")
            conn.input_audio_buffer.append(audio=b64(pcm(engine_tone(0.5, 24000))))
            conn.input_audio_buffer.commit()
            done = events_until(conn, "ga", "conversation.item.input_audio_transcription.completed")
            assert done[-1]["transcript"] == "canned words"
        finally:
            watchdog.cancel()


def test_real_speech_round_trip_on_an_engine_transcription_session(engine) -> None:
    """The real models: a sentence read aloud (realtime session) and transcribed (transcription
    session) through the OpenAI SDK."""
    settings = Settings.from_mapping(
        {
            "SPEECH_ENGINE_URL": engine.url,
            "OPENAI_TRANSCRIBE_MODEL": "gpt-live-transcribe",
            "SPEECH_REQUEST_TIMEOUT": "60",
        }
    )
    sentence = "The quick brown fox jumps over the lazy dog."
    with serve(create_app(settings)) as base, sdk_client(base, 120.0) as client:
        wav = client.audio.speech.create(
            model="tts-1", voice="alloy", input=sentence, response_format="wav"
        ).content
        heard = client.audio.transcriptions.create(model="x", file=("fox.wav", wav)).text
    assert word_error_rate(sentence, heard) <= 0.2
