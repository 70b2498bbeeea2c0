"""A transcription-only deployment end to end over the scripted upstream: every recognition path
(reference REST, OpenAI transcriptions, Azure short-audio REST, streaming, the Azure Speech SDK)
runs on a transcription session of that deployment; synthesis keeps the realtime deployment.

Every client event is validated against the ``openai`` package's types by the scripted server
(``upstream.invalid_events``); it refuses realtime session updates and ``response.create`` in a
transcription session, as the real services do.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import json

import openai
import pytest
from azure_sdk_fixtures import CLIENT_TIMEOUT, serve_ws, tone, wav_bytes, within
from loopback import serve
from openai_fixtures import CLIENT_TIMEOUT as SDK_TIMEOUT
from openai_fixtures import sdk_client
from test_azure_rest import STT_PATH, WAV_16K, wav_16k
from test_openai_audio import TRANSCRIPT, transcribe, two_utterances
from transcription_server import WORD_LOGPROB

from speech_realtime.config import Settings
from speech_realtime.realtime.events import parse_server_event
from speech_realtime.realtime.transport import Connection, endpoint_for, transcription_endpoint_for
from speech_realtime.speech import SpeechService
from speech_realtime.web import create_app

BOTH_DIALECTS = pytest.mark.parametrize("dialect", ["ga", "preview"])
#: The deployment per dialect: the preview types allow only OpenAI's transcription model names.
DEPLOYMENTS = {"ga": "gpt-live-transcribe", "preview": "gpt-4o-mini-transcribe"}


@pytest.fixture
def settings(settings: Settings, dialect: str) -> Settings:
    return dataclasses.replace(settings, transcription_deployment=DEPLOYMENTS[dialect])


def transcription_updates(upstream, dialect: str) -> list[dict]:
    kind = "session.update" if dialect == "ga" else "transcription_session.update"
    return [event["session"] for event in upstream.client_events(kind)]


def assert_transcription_session(upstream, dialect: str) -> dict:
    """The one session was a transcription session of the deployment; its update is returned."""
    (handshake,) = upstream.handshakes
    assert "intent=transcription" in handshake["path"]
    named = "model=" if dialect == "ga" else "deployment="
    assert f"{named}{DEPLOYMENTS[dialect]}" in handshake["path"]
    (session,) = transcription_updates(upstream, dialect)
    if dialect == "ga":
        assert session["type"] == "transcription"
        transcription = session["audio"]["input"]["transcription"]
    else:
        transcription = session["input_audio_transcription"]
    assert transcription["model"] == DEPLOYMENTS[dialect]
    assert not upstream.invalid_events
    assert not upstream.client_events("response.create")
    return session


@BOTH_DIALECTS
def test_reference_recognize(client, upstream, dialect) -> None:
    body = {"audioData": base64.b64encode(bytes(48000)).decode(), "language": "en-US"}
    response = client.post("/api/speech-realtime/recognize", json=body)
    assert response.status_code == 200, response.json
    assert response.json["text"] == TRANSCRIPT
    assert_transcription_session(upstream, dialect)


def test_info_and_models_name_the_transcription_deployment(client, openai_client, upstream) -> None:
    assert client.get("/api/speech-realtime/info").json["transcriptionDeployment"] == "gpt-live-transcribe"
    assert [m.id for m in openai_client.models.list()] == ["gpt-realtime-test", "gpt-live-transcribe"]


@BOTH_DIALECTS
def test_synthesis_keeps_the_realtime_deployment(client, upstream, dialect) -> None:
    response = client.post("/api/speech-realtime/synthesize", json={"text": "Hello there."})
    assert response.status_code == 200, response.json
    (handshake,) = upstream.handshakes
    assert "intent" not in handshake["path"] and "gpt-realtime-test" in handshake["path"]


@BOTH_DIALECTS
def test_openai_transcription_with_logprobs(openai_client, upstream, dialect) -> None:
    result = transcribe(openai_client, include=["logprobs"], language="en")
    assert result.text == TRANSCRIPT
    assert [(p.token, p.logprob) for p in result.logprobs] == [(w, WORD_LOGPROB) for w in TRANSCRIPT.split()]
    assert bytes(int(b) for b in result.logprobs[0].bytes) == TRANSCRIPT.split()[0].encode()
    session = assert_transcription_session(upstream, dialect)
    assert session["include"] == ["item.input_audio_transcription.logprobs"]


@BOTH_DIALECTS
def test_openai_streaming_transcription_uses_the_sessions_vad(openai_client, upstream, dialect) -> None:
    upstream.reset(transcripts=("first part.", "second part."))
    events = list(
        openai_client.audio.transcriptions.create(
            model="whisper-1", file=("two.wav", two_utterances(), "audio/wav"), stream=True
        )
    )
    assert events[-1].text == "first part. second part."
    session = assert_transcription_session(upstream, dialect)
    detection = session["audio"]["input"]["turn_detection"] if dialect == "ga" else session["turn_detection"]
    assert detection == {"type": "server_vad"}


@BOTH_DIALECTS
def test_azure_short_audio_rest(client, upstream, dialect) -> None:
    response = client.post(f"{STT_PATH}?language=en-US", data=wav_16k(), headers={"Content-Type": WAV_16K})
    assert response.status_code == 200, response.data
    assert response.json["DisplayText"] == TRANSCRIPT
    assert_transcription_session(upstream, dialect)


def test_logprobs_the_deployment_does_not_give_are_a_400_naming_include(openai_client, upstream) -> None:
    upstream.reset(mode="no_logprobs")
    with pytest.raises(openai.BadRequestError) as caught:
        transcribe(openai_client, include=["logprobs"])
    assert caught.value.param == "include"


def test_noise_reduction_and_keywords_reach_the_transcription_session(settings, upstream) -> None:
    settings = dataclasses.replace(settings, noise_reduction="far_field")
    client = create_app(settings).test_client()
    response = client.post(
        "/v1/audio/transcriptions",
        data={"file": (io.BytesIO(wav_16k()), "a.wav"), "keywords[]": ["Contoso", "Jessie Ezra"]},
    )
    assert response.status_code == 200, response.json
    audio_in = assert_transcription_session(upstream, "ga")["audio"]["input"]
    assert audio_in["noise_reduction"] == {"type": "far_field"}
    assert audio_in["transcription"]["keywords"] == ["Contoso", "Jessie Ezra"]


def test_the_scripted_server_refuses_mixed_sessions(settings, upstream) -> None:
    """What the real services answer, so that the service's choice of session is tested."""
    transcription_update = {"type": "session.update", "session": {"type": "transcription"}}
    cases = (
        (endpoint_for(settings), transcription_update, "transcription session update"),
        (transcription_endpoint_for(settings), {"type": "response.create"}, "response.create"),
    )
    for endpoint, event, refused in cases:
        with Connection.open(endpoint, {}, timeout=2) as conn:
            conn.send(event)
            answer = parse_server_event(conn.receive_idle(2))
            while answer.type != "error":
                answer = parse_server_event(conn.receive_idle(2))
        assert refused in answer.data["error"]["message"]


# -- the official Azure Speech SDK ---------------------------------------------------------------

speechsdk = pytest.importorskip("azure.cognitiveservices.speech")


@pytest.fixture
def transcription_sdk_host(settings: Settings):
    yield from serve_ws(create_app(dataclasses.replace(settings, client_timeout=CLIENT_TIMEOUT)))


@pytest.mark.sdk
def test_azure_sdk_recognize_once_with_a_phrase_list(transcription_sdk_host, upstream, tmp_path) -> None:
    path = tmp_path / "input.wav"
    path.write_bytes(wav_bytes(tone(1.0)))
    config = speechsdk.SpeechConfig(host=transcription_sdk_host)
    config.speech_recognition_language = "en-US"
    recognizer = speechsdk.SpeechRecognizer(
        config, audio_config=speechsdk.audio.AudioConfig(filename=str(path))
    )
    phrases = speechsdk.PhraseListGrammar.from_recognizer(recognizer)
    phrases.addPhrase("Contoso")
    phrases.addPhrase("Jessie Ezra")
    result = within(lambda: recognizer.recognize_once_async().get())
    assert result.reason == speechsdk.ResultReason.RecognizedSpeech, result.cancellation_details
    assert result.text == TRANSCRIPT
    session = assert_transcription_session(upstream, "ga")
    transcription = session["audio"]["input"]["transcription"]
    assert transcription["keywords"] == ["Contoso", "Jessie Ezra"]
    assert transcription["language"] == "en"
    assert json.loads(result.json)["DisplayText"] == TRANSCRIPT


def test_a_model_without_vad_streams_its_text_as_one_phrase_at_the_end(settings, upstream) -> None:
    """gpt-realtime-whisper takes no turn detection and no prompt: a stream is committed when it
    ends, and ``delay`` goes to it."""
    settings = dataclasses.replace(
        settings,
        transcription_deployment="rt-whisper",
        transcription_model="gpt-realtime-whisper",
        transcribe_delay="low",
    )
    with serve(create_app(settings)) as base, sdk_client(base, SDK_TIMEOUT) as client:
        events = list(
            client.audio.transcriptions.create(
                model="whisper-1", file=("two.wav", two_utterances(), "audio/wav"), stream=True, prompt="Hi."
            )
        )
    assert [e.type for e in events] == ["transcript.text.delta", "transcript.text.done"]
    assert events[-1].text == TRANSCRIPT
    (session,) = upstream.client_events("session.update")
    audio_in = session["session"]["audio"]["input"]
    assert audio_in["turn_detection"] is None
    assert audio_in["transcription"] == {"model": "rt-whisper", "delay": "low"}
    assert not upstream.invalid_events


@BOTH_DIALECTS
def test_check_opens_a_transcription_session_too(settings, upstream, dialect) -> None:
    result = SpeechService(settings).check()
    assert result["model"] == "gpt-realtime-test"
    assert result["transcription"]["deployment"] == DEPLOYMENTS[dialect]
    assert result["transcription"]["sessionMs"] >= 0
    assert ["intent=transcription" in h["path"] for h in upstream.handshakes] == [False, True]
    assert not upstream.invalid_events
