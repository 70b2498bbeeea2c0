"""The demo page's routes: the page and its files, ``POST /demo/session`` (same origin only),
its tokens on the reference routes, and ``SPEECH_DEMO`` (the browser itself: test_demo_page.py)."""

from __future__ import annotations

import configparser
import re
import time
from fnmatch import fnmatch
from pathlib import Path

import pytest

import speech_realtime.web
from speech_realtime.config import Settings
from speech_realtime.realtime import client_secrets
from speech_realtime.tokens import issue_token, token_claims
from speech_realtime.web import create_app
from speech_realtime.web.demo import DEMO_CALLER, SECRET_LIFETIME, SESSION_LIFETIME
from speech_realtime.web.security import TOKEN_SECRET

KEY = "inbound-key-DEMO-0123456789"
SAME_ORIGIN = {"Origin": "http://localhost"}
ASSETS = ("demo.js", "audio.js", "session.js", "conversation.js", "capture-worklet.js", "demo.css")


@pytest.fixture
def keyed_app(settings: Settings):
    """Keys set on a loopback bind: the demo is on by default."""
    app = create_app(settings.with_changes(api_keys=(KEY,)))
    app.config["TESTING"] = True
    return app


@pytest.fixture
def keyed(keyed_app):
    return keyed_app.test_client()


def session(client) -> dict:
    answer = client.post("/demo/session", headers=SAME_ORIGIN)
    assert answer.status_code == 200, answer.json
    return answer.json


def test_the_page_and_its_files_are_served_without_a_key(keyed) -> None:
    page = keyed.get("/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "/demo/demo.js" in html and "https://" not in html  # nothing from a CDN
    for name in ASSETS:
        asset = keyed.get(f"/demo/{name}")
        assert asset.status_code == 200, name
        assert asset.mimetype == ("text/css" if name.endswith(".css") else "text/javascript")
        assert not re.search(r"https?://", asset.get_data(as_text=True)), name


def test_the_session_is_a_short_lived_token_for_the_demo_caller(keyed, keyed_app) -> None:
    answer = keyed.post("/demo/session", headers=SAME_ORIGIN)
    assert answer.headers["Cache-Control"] == "no-store"
    body = answer.json
    assert set(body) == {"token", "expires_at", "relay"}
    signing = keyed_app.extensions[TOKEN_SECRET]
    claims = token_claims(body["token"], signing)
    assert claims is not None and claims["sub"] == DEMO_CALLER
    assert claims["exp"] == body["expires_at"] and abs(claims["exp"] - time.time() - SESSION_LIFETIME) < 5
    relay = body["relay"]
    assert relay["path"] == "/realtime"
    name, carrier = relay["protocols"]
    assert name == "realtime" and carrier.startswith("openai-insecure-api-key.ek_")
    secret = client_secrets.read(carrier.removeprefix("openai-insecure-api-key."), signing)
    assert secret is not None and secret.caller == DEMO_CALLER and secret.session == {}
    assert secret.expires_at == relay["expires_at"]
    assert abs(secret.expires_at - time.time() - SECRET_LIFETIME) < 5
    assert KEY not in answer.get_data(as_text=True)


def test_every_session_has_its_own_relay_secret(keyed) -> None:
    first, second = session(keyed), session(keyed)
    assert first["relay"]["protocols"][1] != second["relay"]["protocols"][1]


@pytest.mark.parametrize(
    "headers",
    [{}, {"Origin": "null"}, {"Origin": "http://localhost.evil.example"}, {"Origin": "http://localhost:8080"}],
    ids=["no-origin", "null", "other-host", "other-port"],
)
def test_the_session_is_only_for_the_page_itself(keyed, headers) -> None:
    answer = keyed.post("/demo/session", headers=headers)
    assert answer.status_code == 403
    assert answer.json["error"]["code"] == "origin_not_allowed"


def test_an_allowed_cross_origin_gets_no_session(settings: Settings) -> None:
    app = create_app(settings.with_changes(api_keys=(KEY,), cors_origins=("https://app.example.com",)))
    answer = app.test_client().post("/demo/session", headers={"Origin": "https://app.example.com"})
    assert answer.status_code == 403


def test_the_token_opens_the_reference_routes_but_not_operations(keyed, upstream) -> None:
    token = session(keyed)["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert keyed.get("/api/speech-realtime/info").status_code == 401
    assert keyed.get("/api/speech-realtime/info", headers=bearer).status_code == 200
    spoken = keyed.post("/api/speech-realtime/synthesize", json={"text": "Hello."}, headers=bearer)
    assert spoken.status_code == 200 and spoken.data
    assert keyed.get("/metrics", headers=bearer).status_code == 401
    assert keyed.get("/api/speech-realtime/info", headers={"X-API-Key": token}).status_code == 401


def test_an_expired_or_forged_token_is_refused(keyed, keyed_app) -> None:
    secret = keyed_app.extensions[TOKEN_SECRET]
    expired = issue_token(secret, subject=DEMO_CALLER, lifetime=SESSION_LIFETIME, now=time.time() - 301)
    forged = issue_token(b"another secret" * 3, subject=DEMO_CALLER)
    for token in (expired, forged):
        answer = keyed.get("/api/speech-realtime/info", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 401
        assert answer.json["error"]["code"] == "invalid_api_key"


@pytest.mark.parametrize(
    ("env", "enabled"),
    [
        ({}, True),
        ({"SPEECH_API_KEYS": KEY}, True),
        ({"HOST": "0.0.0.0", "SPEECH_ALLOW_ANONYMOUS": "true"}, True),
        ({"HOST": "0.0.0.0", "SPEECH_API_KEYS": KEY}, False),
        ({"HOST": "0.0.0.0", "SPEECH_API_KEYS": KEY, "SPEECH_DEMO": "true"}, True),
        ({"SPEECH_DEMO": "false"}, False),
    ],
    ids=["loopback", "loopback-keys", "network-open", "network-keys", "network-keys-on", "off"],
)
def test_speech_demo_defaults_to_on_for_loopback_or_keyless(env: dict[str, str], enabled: bool) -> None:
    assert Settings.from_mapping(env).demo_enabled is enabled


def test_a_bad_speech_demo_value_is_a_config_error() -> None:
    from speech_realtime.errors import ConfigError

    with pytest.raises(ConfigError, match="SPEECH_DEMO"):
        Settings.from_mapping({"SPEECH_DEMO": "maybe"})


def test_when_disabled_the_page_and_the_session_do_not_exist(settings: Settings) -> None:
    client = create_app(settings.with_changes(demo=False)).test_client()
    assert client.get("/").status_code == 404
    assert client.get("/demo/demo.js").status_code == 404
    assert client.post("/demo/session", headers=SAME_ORIGIN).status_code == 404
    keyed = create_app(settings.with_changes(demo=False, api_keys=(KEY,))).test_client()
    assert keyed.post("/demo/session", headers=SAME_ORIGIN).status_code == 401


def test_every_file_of_the_page_is_package_data() -> None:
    """An installed service serves the page: setup.cfg's package data covers each of its files."""
    config = configparser.ConfigParser()
    config.read(Path(__file__).parent.parent / "setup.cfg")
    patterns = config["options.package_data"]["speech_realtime.web"].split()
    web = Path(speech_realtime.web.__file__).parent
    files = [path.relative_to(web).as_posix() for path in (web / "static").rglob("*") if path.is_file()]
    assert files and all(any(fnmatch(name, pattern) for pattern in patterns) for name in files), files
