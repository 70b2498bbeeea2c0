"""The Realtime pass-through with the openai SDK's realtime clients (GA and beta) and raw sockets,
against the scripted upstream: credentials held here, the configured deployment whatever the
client names, the policy between the client and the upstream."""

from __future__ import annotations

import base64
import contextlib
import json
import time

import pytest
import websocket
from azure_sdk_fixtures import quiet, tone
from conftest import API_KEY
from loopback import serve
from realtime_clients import (
    CONNECT_OPTIONS,
    close_code,
    events_until,
    next_event,
    raw_socket,
    receive_json,
    receive_until,
    sdk,
    ws_url,
)

from speech_realtime.audio import float_to_pcm16
from speech_realtime.config import Settings
from speech_realtime.realtime.passthrough import PREVIEW_API_VERSION
from speech_realtime.web import create_app
from speech_realtime.web.sdk_setup import SHUTDOWN

INBOUND = "inbound-key-0123456789"
USER_TEXT = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "say this back"}]}


@pytest.fixture
def served(app):
    with serve(app) as base:
        yield base


def served_with(settings: Settings, **changes):
    return serve(create_app(settings.with_changes(**changes)))


def test_ga_sdk_turn_reaches_the_configured_deployment_with_the_server_key(served, upstream):
    with sdk(served).realtime.connect(
        model="any-model", websocket_connection_options=CONNECT_OPTIONS
    ) as conn:
        assert next_event(conn).type == "session.created"
        conn.session.update(
            session={"type": "realtime", "instructions": "Echo.", "audio": {"output": {"voice": "alloy"}}}
        )
        conn.conversation.item.create(item=USER_TEXT)
        conn.response.create()
        events = events_until(conn, "response.done")
    kinds = [event.type for event in events]
    assert "response.output_audio.delta" in kinds and kinds[-1] == "response.done"
    handshake = upstream.handshakes[0]
    assert handshake["path"] == "/openai/v1/realtime?model=gpt-realtime-test"
    assert handshake["Api-Key"] == API_KEY
    assert [event["type"] for event in upstream.client_events()] == [
        "session.update",
        "conversation.item.create",
        "response.create",
    ]
    assert not upstream.invalid_events


def test_azure_v1_path_takes_the_sdk_with_base_url(served, upstream):
    client = sdk(served)
    client.base_url = f"{served}/openai/v1"
    client.websocket_base_url = f"ws{served.removeprefix('http')}/openai/v1"
    with client.realtime.connect(
        model="other-deployment", websocket_connection_options=CONNECT_OPTIONS
    ) as conn:
        assert next_event(conn).type == "session.created"
        conn.conversation.item.create(item=USER_TEXT)
        conn.response.create()
        assert events_until(conn, "response.done")[-1].type == "response.done"
    assert upstream.handshakes[0]["path"] == "/openai/v1/realtime?model=gpt-realtime-test"


def test_beta_sdk_speaks_the_preview_dialect_upstream(served, upstream):
    client = sdk(served)
    client.websocket_base_url = f"ws{served.removeprefix('http')}/v1"
    with client.beta.realtime.connect(
        model="gpt-4o-realtime-preview", websocket_connection_options=CONNECT_OPTIONS
    ) as conn:
        assert next_event(conn).type == "session.created"
        conn.session.update(session={"voice": "alloy", "modalities": ["audio", "text"]})
        conn.conversation.item.create(item=USER_TEXT)
        conn.response.create()
        kinds = [event.type for event in events_until(conn, "response.done")]
    assert "response.audio.delta" in kinds
    assert upstream.handshakes[0]["path"] == (
        f"/openai/realtime?api-version={PREVIEW_API_VERSION}&deployment=gpt-realtime-test"
    )
    assert not upstream.invalid_events


def test_an_audio_turn_with_server_vad(served, upstream):
    """Appended audio reaches the upstream, whose VAD and transcription events come back."""
    speech = float_to_pcm16(tone(0.6, 24000)) + float_to_pcm16(quiet(0.5, 24000))
    session = {
        "type": "realtime",
        "audio": {
            "input": {"turn_detection": {"type": "server_vad"}, "transcription": {"model": "whisper-1"}}
        },
    }
    with sdk(served).realtime.connect(model="m", websocket_connection_options=CONNECT_OPTIONS) as conn:
        next_event(conn)
        conn.session.update(session=session)
        for start in range(0, len(speech), 9600):
            conn.input_audio_buffer.append(audio=base64.b64encode(speech[start : start + 9600]).decode())
        events = events_until(conn, "conversation.item.input_audio_transcription.completed")
    kinds = [event.type for event in events]
    assert "input_audio_buffer.speech_started" in kinds and "input_audio_buffer.speech_stopped" in kinds
    assert events[-1].transcript == "hello from the scripted server"
    appended = b"".join(
        base64.b64decode(e["audio"]) for e in upstream.client_events("input_audio_buffer.append")
    )
    assert appended == speech


def test_a_refused_event_is_answered_and_never_reaches_the_upstream(served, upstream):
    with sdk(served).realtime.connect(model="m", websocket_connection_options=CONNECT_OPTIONS) as conn:
        next_event(conn)
        conn.session.update(session={"type": "realtime", "tools": [{"type": "function", "name": "rm_rf"}]})
        error = next_event(conn)
        conn.send({"type": "transcription_session.update", "session": {}})
        second = next_event(conn)
        conn.conversation.item.create(item=USER_TEXT)  # the socket stays usable
        assert next_event(conn).type == "conversation.item.added"
    assert error.type == "error" and error.error.param == "session.tools"
    assert error.error.code == "field_not_allowed"
    assert second.error.param == "type"
    assert [event["type"] for event in upstream.client_events()] == ["conversation.item.create"]


def test_upstream_error_words_are_replaced(served, upstream):
    upstream.reset(mode="error_event", error_message="quota of tenant 1234 at /internal/path")
    with raw_socket(ws_url(served, "/v1/realtime?model=x")) as ws:
        receive_json(ws)
        ws.send(json.dumps({"type": "response.create"}))
        error = receive_until(ws, "error")[-1]
    assert "tenant" not in json.dumps(error)
    assert "upstream code: server_error" in error["error"]["message"]


def test_the_idle_limit_ends_the_session_with_an_error_event(settings, upstream):
    with (
        served_with(settings, realtime_idle_timeout=0.3) as base,
        raw_socket(ws_url(base, "/v1/realtime")) as ws,
    ):
        assert receive_json(ws)["type"] == "session.created"
        error = receive_json(ws)
        assert error["error"]["code"] == "idle_timeout"
        assert close_code(ws) == 1000


def test_an_oversized_message_is_refused(settings, upstream):
    with (
        served_with(settings, realtime_max_message_bytes=2048) as base,
        raw_socket(ws_url(base, "/v1/realtime")) as ws,
    ):
        receive_json(ws)
        ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": "A" * 4000}))
        error = receive_json(ws)
    assert error["error"]["code"] == "message_too_large"
    assert upstream.client_events() == []


def test_the_upstream_closing_closes_the_client(served, upstream):
    upstream.reset(mode="close_after_update", close_code=1000, close_reason="bye")
    with raw_socket(ws_url(served, "/v1/realtime")) as ws:
        receive_json(ws)
        ws.send(json.dumps({"type": "session.update", "session": {"type": "realtime", "instructions": "x"}}))
        assert receive_json(ws)["type"] == "session.updated"
        assert close_code(ws) == 1000


def test_the_server_stopping_closes_the_socket_going_away(app, served, upstream):
    with raw_socket(ws_url(served, "/v1/realtime")) as ws:
        receive_json(ws)
        app.extensions[SHUTDOWN].set()
        assert close_code(ws) == 1001


def test_a_client_leaving_frees_its_session_within_a_second(settings, upstream):
    with served_with(settings, max_sessions=1) as base:
        with raw_socket(ws_url(base, "/v1/realtime")) as ws:
            receive_json(ws)
        deadline = time.monotonic() + 1.0
        while True:  # the slot is free once the bridge has closed the upstream session
            try:
                with raw_socket(ws_url(base, "/v1/realtime")) as ws:
                    assert receive_json(ws)["type"] == "session.created"
                break
            except websocket.WebSocketBadStatusException:
                assert time.monotonic() < deadline, "the session was not released within 1 s"
                time.sleep(0.05)


def test_a_client_that_answers_no_ping_is_cut_off_and_its_session_freed(settings, upstream):
    """The silent client never reads (so never answers a ping); an attentive one meanwhile
    keeps its socket through several pings."""
    with (
        served_with(settings, max_sessions=2, realtime_ping_interval=0.1) as base,
        raw_socket(ws_url(base, "/v1/realtime")) as silent,
        raw_socket(ws_url(base, "/v1/realtime")) as attentive,
    ):
        assert receive_json(silent)["type"] == "session.created"
        assert receive_json(attentive)["type"] == "session.created"
        deadline = time.monotonic() + 3.0
        while True:  # a third session fits once the silent client's is freed
            attentive.settimeout(0.05)
            with contextlib.suppress(websocket.WebSocketTimeoutException):
                attentive.recv()  # answers the pings that came
            try:
                with raw_socket(ws_url(base, "/v1/realtime")) as third:
                    assert receive_json(third)["type"] == "session.created"
                break
            except websocket.WebSocketBadStatusException:
                assert time.monotonic() < deadline, "the silent client's session was not freed"
        attentive.settimeout(5)
        attentive.send(json.dumps({"type": "conversation.item.create", "item": USER_TEXT}))
        assert receive_json(attentive)["type"] == "conversation.item.added"


def test_inbound_keys_are_required_and_never_sent_upstream(settings, upstream):
    with served_with(settings, api_keys=(INBOUND,)) as base:
        with pytest.raises(websocket.WebSocketBadStatusException) as refused:
            raw_socket(ws_url(base, "/v1/realtime")).__enter__()
        assert refused.value.status_code == 401
        assert upstream.connections == 0
        for header in ({"Authorization": f"Bearer {INBOUND}"}, {"api-key": INBOUND}, {"X-API-Key": INBOUND}):
            with raw_socket(ws_url(base, "/openai/v1/realtime"), header=header) as ws:
                assert receive_json(ws)["type"] == "session.created"
    assert all(INBOUND not in json.dumps(handshake) for handshake in upstream.handshakes)


def test_an_upstream_refusing_the_handshake_is_an_http_answer(served, upstream):
    upstream.reset(handshake_status=401)
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        raw_socket(ws_url(served, "/v1/realtime")).__enter__()
    assert refused.value.status_code == 502
    assert b"upstream_auth" in refused.value.resp_body


def test_a_plain_get_is_told_to_upgrade(client):
    answer = client.get("/openai/realtime")
    assert answer.status_code == 400
    assert "WebSocket" in answer.get_json()["error"]["message"]


def test_no_free_slot_is_an_http_answer_before_the_upgrade(settings, upstream):
    app = create_app(settings.with_changes(max_sessions=1))
    with (
        serve(app) as base,
        app.extensions["speech"].hold(),
        pytest.raises(websocket.WebSocketBadStatusException) as refused,
    ):
        raw_socket(ws_url(base, "/v1/realtime")).__enter__()
    assert refused.value.status_code in (429, 503)
    assert upstream.connections == 0


# -- the offline engine (real models: marked ``models``) --------------------------------------------


@pytest.fixture
def engine_base(engine_app):
    with serve(engine_app) as base:
        yield base


def test_ga_sdk_on_the_offline_engine(engine_base):
    with sdk(engine_base).realtime.connect(
        model="anything", websocket_connection_options=CONNECT_OPTIONS
    ) as conn:
        assert next_event(conn).type == "session.created"
        conn.session.update(session={"type": "realtime", "audio": {"output": {"voice": "alloy"}}})
        conn.conversation.item.create(item=USER_TEXT)
        conn.response.create()
        events = events_until(conn, "response.done", limit=60)
    kinds = [event.type for event in events]
    assert "response.output_audio.delta" in kinds, kinds
    assert events[-1].type == "response.done" and events[-1].response.status == "completed"


def test_beta_sdk_on_the_offline_engine(engine_base):
    client = sdk(engine_base)
    client.websocket_base_url = f"ws{engine_base.removeprefix('http')}/v1"
    with client.beta.realtime.connect(model="anything", websocket_connection_options=CONNECT_OPTIONS) as conn:
        assert next_event(conn).type == "session.created"
        conn.conversation.item.create(item=USER_TEXT)
        conn.response.create()
        kinds = [event.type for event in events_until(conn, "response.done", limit=60)]
    assert "response.audio.delta" in kinds, kinds
