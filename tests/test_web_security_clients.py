"""Inbound keys and origins with real clients: the official openai SDK, requests (also as a browser
sends a cross-origin upload), raw WebSocket upgrades, and the official Azure Speech SDK.

The service runs on a loopback port over the scripted upstream with one inbound key. Every SDK
call runs under a time limit: a refused key must end the call, never hang it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import socket
import time
from collections.abc import Iterator

import openai
import pytest
import requests
from azure_sdk_fixtures import CLIENT_TIMEOUT, serve_ws, tone, wav_bytes, within
from loopback import serve

from speech_realtime.callers import CALLER
from speech_realtime.config import Settings
from speech_realtime.tokens import issue_token
from speech_realtime.web import create_app
from speech_realtime.web.security import POLICY, TOKEN_SECRET

KEY = "inbound-key-CHARLIE-0123456789"


@pytest.fixture
def keyed_app(settings: Settings):
    return create_app(dataclasses.replace(settings, api_keys=(KEY,), client_timeout=CLIENT_TIMEOUT))


@pytest.fixture
def keyed_base(keyed_app) -> Iterator[str]:
    with serve(keyed_app) as base:
        yield base


# -- the official openai SDK -----------------------------------------------------------------------


def openai_client(base: str, api_key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{base}/v1", api_key=api_key, timeout=15, max_retries=0)


def test_openai_sdk_with_a_wrong_key_raises_authentication_error(keyed_base, upstream) -> None:
    with openai_client(keyed_base, "sk-wrong") as client, pytest.raises(openai.AuthenticationError) as raised:
        client.audio.speech.create(model="tts-1", voice="alloy", input="Hello.")
    assert raised.value.status_code == 401
    assert "sk-wrong" not in str(raised.value)
    assert upstream.connections == 0


def test_openai_sdk_with_the_right_key_works(keyed_base, upstream) -> None:
    with openai_client(keyed_base, KEY) as client:
        audio = client.audio.speech.create(
            model="tts-1", voice="alloy", input="Hello.", response_format="pcm"
        )
        assert len(audio.content) > 0
        assert [model.id for model in client.models.list()]


# -- requests, as curl or a script would call the reference API ------------------------------------------


def test_requests_with_and_without_the_key(keyed_base) -> None:
    info = f"{keyed_base}/api/speech-realtime/info"
    assert requests.get(info, timeout=10).status_code == 401
    assert requests.get(info, headers={"X-API-Key": KEY}, timeout=10).status_code == 200
    assert requests.get(info, headers={"Authorization": f"Bearer {KEY}"}, timeout=10).status_code == 200
    assert requests.get(f"{keyed_base}/healthz", timeout=10).json() == {"status": "ok"}


# -- on a real socket: a browser's cross-origin upload, and refused WebSocket upgrades ------------------


def raw_request(base: str, head: str, body: bytes = b"") -> bytes:
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(head.encode() + body)
        received = bytearray()
        while data := sock.recv(65536):
            received += data
    return bytes(received)


def test_a_browsers_cross_origin_multipart_post_is_403_and_opens_no_session(app, upstream) -> None:
    with serve(app) as base:
        response = requests.post(
            f"{base}/v1/audio/transcriptions",
            files={"file": ("speech.wav", wav_bytes(tone(0.5)), "audio/wav")},
            data={"model": "whisper-1"},
            headers={
                "Origin": "https://evil.example",
                "Referer": "https://evil.example/page",
                "Sec-Fetch-Mode": "no-cors",
            },
            timeout=10,
        )
        assert response.status_code == 403
        assert response.json()["error"]["type"] == "permission_error"
        allowed = requests.get(f"{base}/v1/models", timeout=10)
        assert allowed.status_code == 200
    assert upstream.connections == 0


UPGRADE = (
    "GET /cognitiveservices/websocket/v1 HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
    "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Protocol: USP\r\n{extra}\r\n"
)


def test_refused_websocket_upgrades_are_plain_http_answers(keyed_app, upstream) -> None:
    with serve(keyed_app) as base:
        host = base.removeprefix("http://")
        no_key = raw_request(base, UPGRADE.format(host=host, extra=""))
        assert no_key.startswith(b"HTTP/1.1 401")
        wrong = raw_request(base, UPGRADE.format(host=host, extra="Ocp-Apim-Subscription-Key: nope\r\n"))
        assert wrong.startswith(b"HTTP/1.1 401")
        foreign = raw_request(
            base,
            UPGRADE.format(
                host=host, extra=f"Origin: https://evil.example\r\nOcp-Apim-Subscription-Key: {KEY}\r\n"
            ),
        )
        assert foreign.startswith(b"HTTP/1.1 403")
        rebound = raw_request(
            base, UPGRADE.format(host="evil.example", extra=f"Ocp-Apim-Subscription-Key: {KEY}\r\n")
        )
        assert rebound.startswith(b"HTTP/1.1 400")
    assert upstream.connections == 0


# -- the official Azure Speech SDK -------------------------------------------------------------------


@pytest.fixture
def keyed_host(keyed_app) -> Iterator[str]:
    yield from serve_ws(keyed_app)


def speech_config(host: str, *, key: str | None = None, token: str | None = None):
    import azure.cognitiveservices.speech as speechsdk

    config = speechsdk.SpeechConfig(host=host, subscription=key) if key else speechsdk.SpeechConfig(host=host)
    if token is not None:
        config.authorization_token = token
    return config


def speak(config):
    import azure.cognitiveservices.speech as speechsdk

    synthesizer = speechsdk.SpeechSynthesizer(config, audio_config=None)
    return within(lambda: synthesizer.speak_text_async("hello from the scripted server").get())


def recognize(config, tmp_path):
    import azure.cognitiveservices.speech as speechsdk

    path = tmp_path / "input.wav"
    path.write_bytes(wav_bytes(tone(1.0)))
    recognizer = speechsdk.SpeechRecognizer(
        config, audio_config=speechsdk.audio.AudioConfig(filename=str(path))
    )
    return within(lambda: recognizer.recognize_once_async().get())


def assert_authentication_failed(result) -> None:
    import azure.cognitiveservices.speech as speechsdk

    assert result.reason == speechsdk.ResultReason.Canceled, result.reason
    details = result.cancellation_details
    assert details.reason == speechsdk.CancellationReason.Error
    assert "401" in details.error_details, details.error_details


@pytest.mark.sdk
def test_azure_sdk_with_a_wrong_key_is_canceled_with_an_authentication_error(keyed_host, upstream, tmp_path):
    import azure.cognitiveservices.speech as speechsdk

    synthesis = speak(speech_config(keyed_host, key="wrong-key"))
    assert_authentication_failed(synthesis)
    assert synthesis.cancellation_details.error_code == speechsdk.CancellationErrorCode.AuthenticationFailure
    assert_authentication_failed(recognize(speech_config(keyed_host, key="wrong-key"), tmp_path))
    assert upstream.connections == 0


@pytest.mark.sdk
def test_azure_sdk_with_the_right_key_works(keyed_host, upstream, tmp_path):
    import azure.cognitiveservices.speech as speechsdk

    assert (
        speak(speech_config(keyed_host, key=KEY)).reason == speechsdk.ResultReason.SynthesizingAudioCompleted
    )
    upstream.reset(transcript="Keys are checked.")
    result = recognize(speech_config(keyed_host, key=KEY), tmp_path)
    assert (result.reason, result.text) == (speechsdk.ResultReason.RecognizedSpeech, "Keys are checked.")


@pytest.mark.sdk
def test_azure_sdk_with_a_fresh_issued_token_works(keyed_host, upstream, tmp_path):
    import azure.cognitiveservices.speech as speechsdk

    base = keyed_host.replace("ws://", "http://")
    issued = requests.post(
        f"{base}/sts/v1.0/issueToken", headers={"Ocp-Apim-Subscription-Key": KEY}, timeout=10
    )
    assert issued.status_code == 200
    config = speech_config(keyed_host, token=issued.text)
    assert speak(config).reason == speechsdk.ResultReason.SynthesizingAudioCompleted
    upstream.reset(transcript="Tokens work.")
    assert recognize(config, tmp_path).text == "Tokens work."


@pytest.mark.sdk
def test_azure_sdk_with_an_expired_token_fails(keyed_app, keyed_host, upstream, tmp_path):
    secret = keyed_app.extensions[TOKEN_SECRET]
    issued = requests.post(
        keyed_host.replace("ws://", "http://") + "/sts/v1.0/issueToken",
        headers={"Ocp-Apim-Subscription-Key": KEY},
        timeout=10,
    ).text
    subject = keyed_app.extensions["speech_security"].match_token(issued)
    expired = issue_token(secret, subject=subject, lifetime=600, now=time.time() - 601)
    assert_authentication_failed(speak(speech_config(keyed_host, token=expired)))
    assert_authentication_failed(recognize(speech_config(keyed_host, token=expired), tmp_path))
    assert upstream.connections == 0


# -- the per-key session cap seen by an SDK socket ----------------------------------------------------


@pytest.fixture
def capped(settings: Settings):
    """An app whose key may hold one session at a time."""
    return create_app(
        dataclasses.replace(settings, api_keys=(KEY,), max_sessions_per_key=1, client_timeout=CLIENT_TIMEOUT)
    )


@contextlib.contextmanager
def holding_a_session(app) -> Iterator[None]:
    """``KEY``'s one session held, as a request of that key holds it, while the block runs."""
    token = CALLER.set(app.extensions[POLICY].match_key(KEY))
    try:
        with app.extensions["speech"].hold():
            yield
    finally:
        CALLER.reset(token)


@pytest.mark.sdk
def test_an_sdk_recognition_beyond_the_key_cap_is_canceled_too_many_requests(capped, upstream, tmp_path):
    import azure.cognitiveservices.speech as speechsdk

    for host in serve_ws(capped):
        with holding_a_session(capped):
            result = recognize(speech_config(host, key=KEY), tmp_path)
        assert result.reason == speechsdk.ResultReason.Canceled
        assert result.cancellation_details.code == speechsdk.CancellationErrorCode.TooManyRequests
        upstream.reset(transcript="A place again.")
        assert recognize(speech_config(host, key=KEY), tmp_path).text == "A place again."


@pytest.mark.sdk
def test_an_sdk_synthesis_beyond_the_key_cap_is_refused(capped, upstream):
    import azure.cognitiveservices.speech as speechsdk

    for host in serve_ws(capped):
        with holding_a_session(capped):
            result = speak(speech_config(host, key=KEY))
        assert result.reason == speechsdk.ResultReason.Canceled
