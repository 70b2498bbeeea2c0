"""Inbound keys, issued tokens, Origin, Host and CORS: each rule in each family's shape.

The app runs over the scripted upstream with two inbound keys; every refusal is checked to
open no upstream connection.
"""

from __future__ import annotations

import base64
import io
import time

import pytest
from azure_sdk_fixtures import silent_wav

from speech_realtime.config import Settings
from speech_realtime.tokens import issue_token
from speech_realtime.web import create_app
from speech_realtime.web.security import TOKEN_SECRET

KEY = "inbound-key-ALPHA-0123456789"
OTHER_KEY = "inbound-key-BRAVO-9876543210"
ALLOWED_ORIGIN = "https://app.example.com"
SSML = "<speak version='1.0' xml:lang='en-US'><voice name='en-US-AvaNeural'>Hello there.</voice></speak>"
TTS_HEADERS = {"Content-Type": "application/ssml+xml"}


def wav(seconds: float = 0.5) -> bytes:
    return silent_wav(seconds)


@pytest.fixture
def secured_settings(settings: Settings) -> Settings:
    return settings.with_changes(api_keys=(KEY, OTHER_KEY), cors_origins=(ALLOWED_ORIGIN,))


@pytest.fixture
def secured_app(secured_settings: Settings):
    app = create_app(secured_settings)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def secured(secured_app):
    return secured_app.test_client()


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


# -- reference family ----------------------------------------------------------------------------


def test_reference_routes_need_a_key_in_x_api_key_or_bearer(secured, upstream) -> None:
    body = {"text": "Hello."}
    missing = secured.post("/api/speech-realtime/synthesize", json=body)
    assert missing.status_code == 401
    assert missing.json == {"error": {"code": "missing_api_key", "message": missing.json["error"]["message"]}}
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    wrong = secured.post("/api/speech-realtime/synthesize", json=body, headers={"X-API-Key": "guess"})
    assert (wrong.status_code, wrong.json["error"]["code"]) == (401, "invalid_api_key")
    assert upstream.connections == 0
    assert (
        secured.post("/api/speech-realtime/synthesize", json=body, headers={"X-API-Key": KEY}).status_code
        == 200
    )
    assert secured.get("/api/speech/info", headers=bearer(OTHER_KEY)).status_code == 200
    assert (
        secured.get("/api/speech-realtime/info", headers={"Ocp-Apim-Subscription-Key": KEY}).status_code
        == 401
    )


def test_a_wrong_key_is_never_echoed(secured) -> None:
    guess = "sk-" + "Z" * 40
    for path, headers in (
        ("/api/speech-realtime/info", {"X-API-Key": guess}),
        ("/v1/models", bearer(guess)),
        ("/cognitiveservices/voices/list", {"Ocp-Apim-Subscription-Key": guess}),
    ):
        response = secured.get(path, headers=headers)
        assert response.status_code == 401
        assert guess not in response.get_data(as_text=True)
        assert KEY not in response.get_data(as_text=True)


def test_unknown_paths_need_a_key_too(secured) -> None:
    assert secured.get("/nothing-here").status_code == 401
    assert secured.get("/nothing-here", headers={"X-API-Key": KEY}).status_code == 404


# -- OpenAI family -------------------------------------------------------------------------------


def test_openai_routes_take_a_bearer_key_and_answer_in_openai_shape(secured) -> None:
    missing = secured.get("/v1/models")
    assert missing.status_code == 401
    assert missing.json["error"]["type"] == "authentication_error"
    assert set(missing.json["error"]) == {"message", "type", "param", "code"}
    assert secured.get("/v1/models", headers={"X-API-Key": KEY}).status_code == 401
    assert secured.get("/v1/models", headers=bearer(KEY)).status_code == 200


def test_an_unauthenticated_upload_opens_no_upstream_session(secured, upstream) -> None:
    response = secured.post(
        "/v1/audio/transcriptions",
        data={"model": "whisper-1", "file": (io.BytesIO(wav()), "a.wav")},
        headers=bearer("wrong"),
    )
    assert response.status_code == 401
    assert upstream.connections == 0


# -- Azure REST family and issued tokens ---------------------------------------------------------


def test_azure_routes_take_the_subscription_key_header(secured, upstream) -> None:
    missing = secured.post("/cognitiveservices/v1", data=SSML, headers=TTS_HEADERS)
    assert missing.status_code == 401
    assert missing.mimetype == "text/plain"
    assert upstream.connections == 0
    ok = secured.post(
        "/cognitiveservices/v1", data=SSML, headers={**TTS_HEADERS, "Ocp-Apim-Subscription-Key": KEY}
    )
    assert ok.status_code == 200
    assert secured.get("/cognitiveservices/voices/list", headers=bearer(KEY)).status_code == 401


def test_issue_token_needs_a_key_and_its_token_works_as_bearer(secured, upstream) -> None:
    assert secured.post("/sts/v1.0/issueToken").status_code == 401
    assert secured.post("/sts/v1.0/issueToken", headers={"Ocp-Apim-Subscription-Key": "x"}).status_code == 401
    issued = secured.post("/sts/v1.0/issueToken", headers={"Ocp-Apim-Subscription-Key": KEY})
    assert issued.status_code == 200
    token = issued.get_data(as_text=True)
    assert KEY not in base64.urlsafe_b64decode(token.split(".")[1] + "==").decode()
    ok = secured.post("/cognitiveservices/v1", data=SSML, headers={**TTS_HEADERS, **bearer(token)})
    assert ok.status_code == 200
    # a token cannot mint the next one: the token service takes a key only
    assert secured.post("/sts/v1.0/issueToken", headers=bearer(token)).status_code == 401


def test_expired_forged_and_foreign_tokens_are_refused(secured, secured_app) -> None:
    secret = secured_app.extensions[TOKEN_SECRET]
    issued = secured.post("/sts/v1.0/issueToken", headers={"Ocp-Apim-Subscription-Key": KEY}).get_data(
        as_text=True
    )
    subject = base64.urlsafe_b64decode(issued.split(".")[1] + "==")
    expired = issue_token(secret, subject="caller", now=time.time() - 601)
    foreign = issue_token(b"another service's secret, 32 bytes", subject="caller")
    anonymous = issue_token(secret)  # no caller: issued while keys were off
    for token in (expired, foreign, anonymous, issued[:-3] + "abc", "not-a-token"):
        response = secured.get("/cognitiveservices/voices/list", headers=bearer(token))
        assert response.status_code == 401, token
    assert b"sub" in subject


def test_the_token_secret_is_the_configured_one_not_derived_from_the_keys(secured_settings) -> None:
    one = create_app(secured_settings)
    two = create_app(secured_settings)
    assert one.extensions[TOKEN_SECRET] != two.extensions[TOKEN_SECRET]  # random, not from the keys
    shared = secured_settings.with_changes(token_secret=b"s" * 32)
    first, second = create_app(shared).test_client(), create_app(shared).test_client()
    token = first.post("/sts/v1.0/issueToken", headers={"Ocp-Apim-Subscription-Key": KEY}).get_data(
        as_text=True
    )
    assert second.get("/cognitiveservices/voices/list", headers=bearer(token)).status_code == 200


def test_without_keys_every_route_stays_open(client) -> None:
    assert client.get("/api/speech-realtime/info").status_code == 200
    assert client.get("/v1/models").status_code == 200
    assert client.post("/sts/v1.0/issueToken").status_code == 200


# -- operations ------------------------------------------------------------------------------------


def test_healthz_is_always_open(secured) -> None:
    response = secured.get("/healthz", headers={"Host": "rebound.example", "Origin": "https://evil.example"})
    assert (response.status_code, response.json) == (200, {"status": "ok"})


@pytest.mark.parametrize("path", ["/readyz", "/metrics", "/openapi.json", "/docs"])
def test_ops_routes_need_a_key_unless_ops_open(secured, secured_settings, path) -> None:
    assert secured.get(path).status_code == 401
    assert secured.get(path, headers={"X-API-Key": KEY}).status_code != 401
    opened = create_app(secured_settings.with_changes(ops_open=True)).test_client()
    assert opened.get(path).status_code != 401
    assert opened.get("/api/speech-realtime/info").status_code == 401


# -- per-key session cap ---------------------------------------------------------------------------


def test_one_key_cannot_hold_more_sessions_than_its_cap(secured_settings, upstream) -> None:
    app = create_app(secured_settings.with_changes(max_sessions_per_key=1))
    client = app.test_client()
    body = {"text": "A sentence long enough to arrive in several chunks."}
    held = client.post(
        "/api/speech-realtime/synthesize/stream", json=body, headers={"X-API-Key": KEY}, buffered=False
    )
    assert held.status_code == 200  # its first chunk is out: the session is held until it is closed
    try:
        refused = client.post("/api/speech-realtime/synthesize", json=body, headers={"X-API-Key": KEY})
        assert refused.status_code == 429
        assert refused.headers["Retry-After"] == "1"
        assert refused.json["error"]["code"] == "too_many_sessions"
        openai = client.post(
            "/v1/audio/speech", json={"model": "tts-1", "input": "Hi.", "voice": "alloy"}, headers=bearer(KEY)
        )
        assert (openai.status_code, openai.json["error"]["type"]) == (429, "rate_limit_error")
        assert (
            client.post(
                "/api/speech-realtime/synthesize", json=body, headers={"X-API-Key": OTHER_KEY}
            ).status_code
            == 200
        )
    finally:
        held.close()
    assert (
        client.post("/api/speech-realtime/synthesize", json=body, headers={"X-API-Key": KEY}).status_code
        == 200
    )


def test_a_token_counts_against_the_cap_of_the_key_it_was_issued_for(secured_settings, upstream) -> None:
    app = create_app(secured_settings.with_changes(max_sessions_per_key=1))
    client = app.test_client()
    token = client.post("/sts/v1.0/issueToken", headers={"Ocp-Apim-Subscription-Key": KEY}).get_data(
        as_text=True
    )
    body = {"text": "A sentence long enough to arrive in several chunks."}
    held = client.post(
        "/api/speech-realtime/synthesize/stream", json=body, headers={"X-API-Key": KEY}, buffered=False
    )
    try:
        refused = client.post("/cognitiveservices/v1", data=SSML, headers={**TTS_HEADERS, **bearer(token)})
        assert refused.status_code == 429
        assert refused.mimetype == "text/plain"
    finally:
        held.close()


# -- Host ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "host", ["localhost", "localhost:5000", "127.0.0.1:8080", "[::1]:5000", "LOCALHOST."]
)
def test_local_names_are_answered_on_a_loopback_bind(client, host) -> None:
    assert client.get("/api/speech-realtime/info", headers={"Host": host}).status_code == 200


@pytest.mark.parametrize(
    "path", ["/api/speech-realtime/info", "/v1/models", "/cognitiveservices/voices/list"]
)
def test_a_rebound_host_name_is_refused_400(client, path) -> None:
    response = client.get(path, headers={"Host": "attacker.example:5000"})
    assert response.status_code == 400
    assert "attacker.example" in response.get_data(as_text=True)


def test_allowed_hosts_are_configurable_and_any_host_is_fine_off_loopback(settings) -> None:
    listed = create_app(settings.with_changes(allowed_hosts=("speech.example.com",))).test_client()
    assert listed.get("/v1/models", headers={"Host": "speech.example.com:443"}).status_code == 200
    assert listed.get("/v1/models", headers={"Host": "localhost"}).status_code == 400
    exposed = create_app(settings.with_changes(host="0.0.0.0", api_keys=(KEY,))).test_client()
    assert exposed.get("/v1/models", headers={"Host": "10.1.2.3:5000", **bearer(KEY)}).status_code == 200


# -- Origin and CORS -------------------------------------------------------------------------------


def test_a_foreign_origin_is_refused_403_in_each_family_before_any_work(client, upstream) -> None:
    evil = {"Origin": "https://evil.example"}
    reference = client.post("/api/speech-realtime/synthesize", json={"text": "Hi."}, headers=evil)
    assert (reference.status_code, reference.json["error"]["code"]) == (403, "origin_not_allowed")
    openai = client.post(
        "/v1/audio/speech", json={"model": "tts-1", "input": "Hi.", "voice": "alloy"}, headers=evil
    )
    assert (openai.status_code, openai.json["error"]["type"]) == (403, "permission_error")
    azure = client.post("/cognitiveservices/v1", data=SSML, headers={**TTS_HEADERS, **evil})
    assert (azure.status_code, azure.mimetype) == (403, "text/plain")
    assert client.get("/api/speech-realtime/info", headers={"Origin": "null"}).status_code == 403
    assert upstream.connections == 0


def test_a_page_of_the_service_itself_is_same_origin(client) -> None:
    headers = {"Host": "localhost:5000", "Origin": "http://localhost:5000"}
    assert client.get("/api/speech-realtime/info", headers=headers).status_code == 200


def test_an_allowed_origin_gets_cors_headers_on_answers_and_errors(secured) -> None:
    ok = secured.get("/v1/models", headers={"Origin": ALLOWED_ORIGIN, **bearer(KEY)})
    assert ok.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
    assert "Retry-After" in ok.headers["Access-Control-Expose-Headers"]
    assert "Origin" in ok.headers["Vary"]
    refused = secured.get("/v1/models", headers={"Origin": ALLOWED_ORIGIN})
    assert refused.status_code == 401
    assert refused.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN  # the page can read why


def test_preflight_from_an_allowed_origin_lists_the_headers_clients_send(secured) -> None:
    asked = "authorization, content-type, x-stainless-os, x-stainless-retry-count, x-evil"
    response = secured.options(
        "/v1/audio/transcriptions",
        headers={
            "Origin": ALLOWED_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": asked,
        },
    )
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    allowed = {name.strip() for name in response.headers["Access-Control-Allow-Headers"].split(",")}
    assert allowed == {"authorization", "content-type", "x-stainless-os", "x-stainless-retry-count"}
    azure = secured.options(
        "/cognitiveservices/v1",
        headers={
            "Origin": ALLOWED_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "ocp-apim-subscription-key,x-microsoft-outputformat",
        },
    )
    assert azure.status_code == 204
    assert "ocp-apim-subscription-key" in azure.headers["Access-Control-Allow-Headers"]


def test_preflight_from_another_origin_is_refused(secured) -> None:
    response = secured.options(
        "/v1/audio/speech",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert response.status_code == 403
    assert "Access-Control-Allow-Origin" not in response.headers
