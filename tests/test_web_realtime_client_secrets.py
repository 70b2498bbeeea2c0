"""``POST /v1/realtime/client_secrets`` and using a secret on the Realtime upgrades: an inbound key
to mint, expiry, single use, fixed options, the subprotocol form echoed, the relay's paths."""

from __future__ import annotations

import json
import socket
import time

import pytest
import websocket
from loopback import serve
from realtime_clients import CONNECT_OPTIONS, next_event, raw_socket, receive_json, sdk, ws_url

from speech_realtime.realtime.client_secrets import mint
from speech_realtime.web import create_app
from speech_realtime.web.security import TOKEN_SECRET

INBOUND = "inbound-key-0123456789"
FIXED = {"type": "realtime", "instructions": "Answer in French.", "audio": {"output": {"voice": "marin"}}}


@pytest.fixture
def keyed_app(settings):
    app = create_app(settings.with_changes(api_keys=(INBOUND,)))
    app.config["TESTING"] = True
    return app


@pytest.fixture
def served(keyed_app):
    with serve(keyed_app) as base:
        yield base


def new_secret(client, session=FIXED, **body) -> dict:
    answer = client.post(
        "/v1/realtime/client_secrets",
        json={"session": session, **body},
        headers={"Authorization": f"Bearer {INBOUND}"},
    )
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def echoed(base: str, protocols: list[str]) -> str | None:
    """The ``Sec-WebSocket-Protocol`` of the 101 answer to an upgrade offering ``protocols``, as
    sent (websocket-client lowercases it)."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(
            (
                f"GET /v1/realtime HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                f"Sec-WebSocket-Protocol: {', '.join(protocols)}\r\n\r\n"
            ).encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            head += conn.recv(4096) or b"\r\n\r\n"
    lines = head.split(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")  # not the frames after it
    assert lines[0].startswith("HTTP/1.1 101"), lines[0]
    found = [
        line.split(":", 1)[1].strip() for line in lines if line.lower().startswith("sec-websocket-protocol:")
    ]
    return found[0] if found else None


def refused_status(url: str, **options) -> int:
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        raw_socket(url, **options).__enter__()
    return refused.value.status_code


def test_the_openai_sdk_mints_a_secret(served, upstream):
    secret = sdk(served, INBOUND).realtime.client_secrets.create(
        expires_after={"anchor": "created_at", "seconds": 120}, session={**FIXED, "model": "gpt-realtime"}
    )
    assert secret.value.startswith("ek_")
    assert secret.session.model == "gpt-realtime-test"  # the service's, not the caller's
    assert secret.session.instructions == "Answer in French."
    assert 100 < secret.expires_at - time.time() <= 120


def test_minting_needs_an_inbound_key(keyed_app):
    answer = keyed_app.test_client().post("/v1/realtime/client_secrets", json={})
    assert answer.status_code == 401
    assert answer.get_json()["error"]["type"] == "authentication_error"


def test_a_secret_cannot_mint_another(keyed_app):
    client = keyed_app.test_client()
    value = new_secret(client)["value"]
    answer = client.post("/v1/realtime/client_secrets", json={}, headers={"Authorization": f"Bearer {value}"})
    assert answer.status_code == 401


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"expires_after": {"anchor": "created_at", "seconds": 7200}}, "expires_after.seconds"),
        ({"session": {"type": "realtime", "tools": []}}, "session.tools"),
        ({"session": {"type": "transcription"}}, "session.type"),
    ],
)
def test_bad_requests_name_the_field(keyed_app, body, param):
    answer = keyed_app.test_client().post(
        "/v1/realtime/client_secrets", json=body, headers={"Authorization": f"Bearer {INBOUND}"}
    )
    assert answer.status_code == 400
    assert answer.get_json()["error"]["param"] == param


def test_a_secret_is_good_for_one_connection(keyed_app, served, upstream):
    value = new_secret(keyed_app.test_client())["value"]
    url = ws_url(served, "/v1/realtime")
    with raw_socket(url, header={"Authorization": f"Bearer {value}"}) as ws:
        assert receive_json(ws)["type"] == "session.created"
    assert refused_status(url, header={"Authorization": f"Bearer {value}"}) == 401
    assert upstream.connections == 1


def test_an_expired_secret_is_refused(keyed_app, served, upstream):
    key = keyed_app.extensions[TOKEN_SECRET]
    value, _ = mint(key, {}, caller=None, seconds=10, now=1_000_000)
    assert refused_status(ws_url(served, "/v1/realtime"), header={"Authorization": f"Bearer {value}"}) == 401
    assert upstream.connections == 0


def test_the_subprotocol_form_is_echoed_and_fixes_the_options(keyed_app, served, upstream):
    value = new_secret(keyed_app.test_client())["value"]
    protocols = ["realtime", f"openai-insecure-api-key.{value}"]
    assert echoed(
        served, ["realtime", f"openai-insecure-api-key.{new_secret(keyed_app.test_client())['value']}"]
    ) == ("realtime")
    with raw_socket(ws_url(served, "/v1/realtime"), subprotocols=protocols) as ws:
        assert receive_json(ws)["type"] == "session.created"
        assert receive_json(ws)["type"] == "session.updated"  # the fixed options, applied first
        ws.send(json.dumps({"type": "session.update", "session": {"audio": {"output": {"voice": "alloy"}}}}))
        error = receive_json(ws)
        same = {"type": "realtime", "audio": {"output": {"voice": "marin"}}}
        ws.send(json.dumps({"type": "session.update", "session": same}))
        assert receive_json(ws)["type"] == "session.updated"
    assert error["error"]["code"] == "field_fixed"
    assert error["error"]["param"] == "session.audio.output.voice"
    sent = upstream.client_events("session.update")
    assert sent[0]["session"]["instructions"] == "Answer in French."
    assert all(event["session"].get("audio", {}).get("output", {}).get("voice") != "alloy" for event in sent)


def test_the_key_subprotocol_alone_is_echoed(keyed_app, served, upstream):
    value = new_secret(keyed_app.test_client(), session=None)["value"]
    protocol = f"openai-insecure-api-key.{value}"
    assert echoed(served, [protocol]) == protocol  # exactly, as browsers compare it


def test_an_inbound_key_in_the_subprotocol_is_never_echoed(served, upstream):
    assert echoed(served, ["realtime", f"openai-insecure-api-key.{INBOUND}"]) == "realtime"
    assert echoed(served, [f"openai-insecure-api-key.{INBOUND}"]) is None


def test_the_sdk_connects_with_a_secret_as_its_key(keyed_app, served, upstream):
    value = new_secret(keyed_app.test_client())["value"]
    with sdk(served, value).realtime.connect(model="m", websocket_connection_options=CONNECT_OPTIONS) as conn:
        assert next_event(conn).type == "session.created"
        assert next_event(conn).session.instructions == "Answer in French."


def test_the_preview_dialect_gets_the_fixed_options_in_its_fields(keyed_app, served, upstream):
    value = new_secret(keyed_app.test_client())["value"]
    with raw_socket(
        ws_url(served, "/openai/realtime?api-version=x&deployment=y"), header={"api-key": value}
    ) as ws:
        receive_json(ws)
        assert receive_json(ws)["type"] == "session.updated"
    sent = upstream.client_events("session.update")[0]["session"]
    assert sent == {"instructions": "Answer in French.", "voice": "marin"}
    assert not upstream.invalid_events


@pytest.mark.parametrize("path", ["/realtime", "/api/speech-realtime/ws"])
def test_the_relay_paths_take_a_secret_once(keyed_app, path):
    """The relay's upgrades (another module) are checked by the same rule, before any route."""
    client = keyed_app.test_client()
    value = new_secret(client)["value"]
    first = client.get(path, headers={"Authorization": f"Bearer {value}"})
    second = client.get(path, headers={"Authorization": f"Bearer {value}"})
    assert first.status_code != 401
    assert second.status_code == 401


def test_a_secret_in_the_query_is_taken_only_for_realtime_upgrades(keyed_app, served, upstream):
    value = new_secret(keyed_app.test_client())["value"]
    with raw_socket(ws_url(served, f"/openai/realtime?deployment=d&api-key={value}")) as ws:
        assert receive_json(ws)["type"] == "session.created"
    assert refused_status(ws_url(served, f"/openai/realtime?api-key={INBOUND}")) == 401  # keys never in URLs


def test_sessions_of_a_secret_count_against_the_minting_key(settings, upstream):
    app = create_app(settings.with_changes(api_keys=(INBOUND,), max_sessions_per_key=1))
    value = new_secret(app.test_client())["value"]
    with serve(app) as base, raw_socket(ws_url(base, "/v1/realtime"), header={"api-key": value}) as ws:
        assert receive_json(ws)["type"] == "session.created"
        assert refused_status(ws_url(base, "/v1/realtime"), header={"api-key": INBOUND}) == 429
