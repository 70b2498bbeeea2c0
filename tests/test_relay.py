"""The seed-004 relay against the scripted Realtime server: protocol, errors, barge-in, limits,
either side going away, session slots, auth and renewal (fast set: no models)."""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

import flask
import pytest
import websocket
from conftest import API_KEY, PREVIEW_VERSION
from loopback import serve
from realtime_server import audio_for
from relay_client import RelayClient, audio_of, json_of
from relay_upstream import ConversationServer

from speech_realtime.config import Settings
from speech_realtime.web import create_app
from speech_realtime.web.sdk_setup import SHUTDOWN

INBOUND_KEY = "relay-inbound-key-0123456789"
PATHS = ["/realtime", "/api/speech-realtime/ws"]


def loud(ms: int) -> bytes:
    """PCM16 24 kHz that the scripted server's VAD takes for speech."""
    return b"\xb8\x0b\x48\xf4" * (ms * 12)  # +3000, -3000, ...


def quiet(ms: int) -> bytes:
    return bytes(ms * 48)


def wait_for(condition, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


@pytest.fixture
def convo(conversation_server: ConversationServer) -> ConversationServer:
    conversation_server.reset()
    return conversation_server


@contextmanager
def relay(server: ConversationServer, dialect: str = "ga", **env: str) -> Iterator[str]:
    """The app over ``server``, served on loopback, with ``env`` on top of the test settings."""
    with relay_app(server, dialect, **env) as (_, url):
        yield url


@contextmanager
def relay_app(server: ConversationServer, dialect: str = "ga", **env: str) -> Iterator[tuple[Any, str]]:
    """:func:`relay`, also giving the app."""
    base = {
        "AZURE_OPENAI_ENDPOINT": server.url + "/",
        "AZURE_OPENAI_KEY": API_KEY,
        "AZURE_OPENAI_REALTIME_DEPLOYMENT": "gpt-realtime-test",
        "SPEECH_REQUEST_TIMEOUT": "2",
        "SPEECH_CONNECT_TIMEOUT": "2",
    }
    if dialect == "preview":
        base["AZURE_OPENAI_API_VERSION"] = PREVIEW_VERSION
    app = create_app(Settings.from_mapping({**base, **env}))
    with serve(app) as url:
        yield app, url


# -- the protocol -------------------------------------------------------------------------------


@pytest.mark.parametrize("dialect", ["ga", "preview"])
@pytest.mark.parametrize("path", PATHS)
def test_a_text_turn(convo: ConversationServer, dialect: str, path: str) -> None:
    with (
        relay(convo, dialect, SPEECH_RELAY_GREETING="Hello from the relay") as url,
        RelayClient(url, path) as client,
    ):
        assert client.next() == {"type": "control", "action": "connected", "greeting": "Hello from the relay"}
        client.say("read this back to me", "m1")
        messages = client.until("control", "text_done")
    deltas = json_of(messages, "text_delta")
    item_id = messages[-1]["id"]
    assert {d["id"] for d in deltas} == {item_id}
    assert "".join(d["delta"] for d in deltas).split() == "read this back to me".split()
    assert audio_of(messages) == b"".join(audio_for("read this back to me", 4, 2))
    update = convo.client_events("session.update")[0]["session"]
    vad = update["audio"]["input"]["turn_detection"] if dialect == "ga" else update["turn_detection"]
    assert (vad["type"], vad["create_response"], vad["interrupt_response"]) == ("server_vad", True, False)
    assert [e["type"] for e in convo.client_events()][1:] == ["conversation.item.create", "response.create"]
    assert convo.invalid_events == []


def test_an_audio_turn_is_transcribed_and_answered(convo: ConversationServer) -> None:
    convo.script.transcript = "what a fine day"
    with relay(convo) as url, RelayClient(url) as client:
        assert client.next()["action"] == "connected"
        client.send_audio(quiet(100) + loud(300))
        assert client.until("control", "speech_started")
        client.send_audio(quiet(400))
        heard = client.until("transcription")[-1]
        messages = client.until("control", "text_done")
    assert heard["text"] == "what a fine day" and heard["id"].startswith("item_")
    assert audio_of(messages) == b"".join(audio_for("what a fine day", 4, 2))
    sent = b"".join(base64.b64decode(e["audio"]) for e in convo.client_events("input_audio_buffer.append"))
    assert sent == quiet(100) + loud(300) + quiet(400)


def test_a_typed_message_during_a_reply_waits_for_it(convo: ConversationServer) -> None:
    convo.script.chunks, convo.script.chunk_delay = 6, 0.05
    with relay(convo) as url, RelayClient(url) as client:
        client.next()
        client.say("first question", "m1")
        assert isinstance(client.next(), bytes | dict)
        client.say("second question", "m2")
        first = client.until("control", "text_done")
        second = client.until("control", "text_done")
    assert first[-1]["id"] != second[-1]["id"]
    assert "".join(d["delta"] for d in json_of(second, "text_delta")).split() == ["second", "question"]
    assert not [e for _, e in convo.events if e["type"] == "error"]


def test_an_upstream_error_event_is_passed_on_and_the_socket_stays_usable(convo: ConversationServer) -> None:
    convo.script.mode = "error_event"
    convo.script.error_message = "the model is unwell"
    with relay(convo) as url, RelayClient(url) as client:
        client.next()
        client.send_audio(loud(200) + quiet(300))
        error = client.until("error")[-1]
        assert (error["code"], error["message"]) == ("oops", "the model is unwell")
        client.say("still there?")
        assert client.until("control", "text_done")


# -- bad frames ---------------------------------------------------------------------------------

BAD_FRAMES = [
    ("not json", "invalid_json", None),
    ('["a list"]', "invalid_message", None),
    ('{"type": "session.update", "id": "x1"}', "unknown_type", "x1"),
    ('{"type": "user_message", "text": "no id"}', "invalid_id", None),
    ('{"type": "user_message", "id": "m9", "text": "   "}', "invalid_text", "m9"),
    ('{"type": "user_message", "id": "m9", "text": 42}', "invalid_text", "m9"),
    (b"\x01\x02\x03", "invalid_audio", None),
    (b"\x00" * 4096, "message_too_large", None),
    ('{"type": "user_message", "id": "m9", "text": "' + "x" * 3000 + '"}', "message_too_large", None),
]


def test_bad_frames_get_an_error_and_the_socket_stays_usable(convo: ConversationServer) -> None:
    with relay(convo, SPEECH_RELAY_MAX_MESSAGE_BYTES="2048") as url, RelayClient(url) as client:
        client.next()
        for frame, code, message_id in BAD_FRAMES:
            if isinstance(frame, bytes):
                client.send_audio(frame)
            else:
                client.ws.send(frame)
            error = client.next()
            assert (error["type"], error["code"], error.get("id")) == ("error", code, message_id), frame
        client.say("after all that")
        assert client.until("control", "text_done")
    assert convo.client_events("input_audio_buffer.append") == []
    assert convo.invalid_events == []


def test_a_plain_get_is_a_clear_400(convo: ConversationServer) -> None:
    with relay_app(convo) as (app, _):
        answer = app.test_client().get("/realtime")
    assert answer.status_code == 400
    assert "WebSocket" in answer.get_json()["error"]["message"]
    assert convo.connections == 0


# -- barge-in -----------------------------------------------------------------------------------


def test_barge_in_cancels_truncates_and_stops_the_audio_at_once(convo: ConversationServer) -> None:
    convo.script.chunks, convo.script.chunk_delay = 40, 0.05
    convo.script.transcript = "stop please"
    text = "a long answer that goes on and on and on for quite a while"
    with relay(convo) as url, RelayClient(url) as client:
        client.next()
        client.say(text)
        before = [client.next() for _ in range(6)]  # audio and text of the first chunks
        started = time.monotonic()
        client.send_audio(loud(200))
        before += client.until("control", "speech_started")
        client.send_audio(quiet(300))
        after = client.until("transcription")
        first_id = json_of(before, "text_delta")[0]["id"]
        answer = []
        while not any(
            m.get("action") == "text_done" and m["id"] != first_id for m in json_of(answer, "control")
        ):
            answer.append(client.next())
    sent = audio_of(before)
    assert b"".join(audio_for(text, 40, 2)).startswith(sent)
    assert audio_of(after) == b""
    assert {"type": "control", "action": "text_done", "id": first_id} in json_of(after + answer)
    kinds = [e["type"] for e in convo.client_events()]
    cancel, truncate = (
        convo.client_events("response.cancel")[0],
        convo.client_events("conversation.item.truncate")[0],
    )
    assert kinds.index("response.cancel") < kinds.index("conversation.item.truncate")
    assert truncate["item_id"] == first_id and truncate["content_index"] == 0
    assert 0 <= truncate["audio_end_ms"] <= len(sent) // 48
    assert truncate["audio_end_ms"] <= (time.monotonic() - started) * 1000 + 1000
    assert cancel["response_id"].startswith("resp_")
    assert audio_of(answer) == b"".join(audio_for("stop please", 40, 2))
    assert convo.invalid_events == []


def test_speech_after_a_reply_was_played_whole_changes_nothing_upstream(convo: ConversationServer) -> None:
    with relay(convo) as url, RelayClient(url) as client:
        client.next()
        client.say("hi")  # 4 chunks, 40 ms of audio: played long before the user speaks
        client.until("control", "text_done")
        time.sleep(0.1)  # longer than the reply's audio: the client has played it all
        client.send_audio(loud(100))
        client.until("control", "speech_started")
    assert convo.client_events("response.cancel") == []
    assert convo.client_events("conversation.item.truncate") == []


# -- either side going away, limits, slots --------------------------------------------------------


def test_a_client_gone_mid_reply_closes_the_upstream_within_a_second(convo: ConversationServer) -> None:
    convo.script.chunks, convo.script.chunk_delay = 40, 0.05
    with relay(convo) as url:
        client = RelayClient(url)
        client.next()
        client.say("a reply long enough to leave in the middle of")
        client.next()
        gone = time.monotonic()
        client.ws.close(timeout=0)
        assert wait_for(lambda: convo.ended, 3)
    assert convo.ended[0] - gone < 1.0


def test_an_upstream_gone_mid_reply_closes_the_client_within_a_second(convo: ConversationServer) -> None:
    convo.script.chunks, convo.script.chunk_delay = 40, 0.05
    with relay(convo) as url, RelayClient(url) as client:
        client.next()
        client.say("a reply long enough to be cut")
        client.next()
        gone = time.monotonic()
        convo.drop_all()
        code, messages = client.closed(3)
        assert time.monotonic() - gone < 1.0
    assert code == 1011
    assert json_of(messages, "error")[-1]["code"] == "upstream_closed"


def test_an_upstream_that_fails_counts_for_the_circuit_breaker(convo: ConversationServer) -> None:
    env = {"SPEECH_BREAKER_FAILURES": "1", "SPEECH_BREAKER_COOLDOWN": "60"}
    with relay(convo, **env) as url:
        with RelayClient(url) as client:
            client.next()
            convo.drop_all()
            assert client.closed(3)[0] == 1011
        with RelayClient(url) as refused:
            code, messages = refused.closed(3)
    assert code == 1013 and json_of(messages, "error")[0]["code"] == "upstream_unavailable"
    assert convo.connections == 1


def test_the_relay_holds_a_session_slot(convo: ConversationServer) -> None:
    with relay(convo, SPEECH_MAX_SESSIONS="1") as url, RelayClient(url) as first:
        first.next()
        with RelayClient(url) as second:
            code, messages = second.closed(3)
        assert code == 1013 and json_of(messages, "error")[0]["code"] == "saturated"

        request = urllib.request.Request(
            url + "/api/speech-realtime/synthesize",
            data=json.dumps({"text": "hi"}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=5)
        assert refused.value.code == 503
    assert convo.connections == 1


def test_the_per_key_cap_applies(convo: ConversationServer) -> None:
    env = {"SPEECH_API_KEYS": INBOUND_KEY, "SPEECH_MAX_SESSIONS_PER_KEY": "1"}
    header = [f"X-API-Key: {INBOUND_KEY}"]
    with relay(convo, **env) as url, RelayClient(url, header=header) as first:
        first.next()
        with RelayClient(url, header=header) as second:
            code, messages = second.closed(3)
    assert code == 1013 and json_of(messages, "error")[0]["type"] == "error"


@pytest.mark.parametrize(
    ("env", "frames", "code", "error"),
    [
        ({"SPEECH_RELAY_IDLE_TIMEOUT": "0.3"}, [], 1000, "idle_timeout"),
        ({"SPEECH_RELAY_MAX_SECONDS": "1"}, [], 1000, "session_expired"),
        ({"SPEECH_RELAY_MAX_AUDIO_SECONDS": "1"}, [quiet(400)] * 3, 1008, "audio_limit"),
    ],
)
def test_limits_close_the_connection_with_an_error(convo, env, frames, code, error) -> None:
    with relay(convo, **env) as url, RelayClient(url) as client:
        client.next()
        for frame in frames:
            client.send_audio(frame)
        closed, messages = client.closed(5)
    assert closed == code
    assert json_of(messages, "error")[-1]["code"] == error
    assert wait_for(lambda: convo.ended, 2)


def test_a_relay_voice_that_does_not_exist_is_reported(convo: ConversationServer) -> None:
    with relay(convo, SPEECH_RELAY_VOICE="nobody") as url, RelayClient(url) as client:
        code, messages = client.closed(3)
    assert code == 1011
    assert json_of(messages, "error")[0]["code"] == "invalid_configuration"
    assert convo.connections == 0


def test_a_client_that_answers_no_ping_is_cut_off_and_its_session_freed(convo: ConversationServer) -> None:
    with relay(convo, SPEECH_RELAY_PING_INTERVAL="0.2") as url:
        silent = websocket.create_connection(url.replace("http://", "ws://") + "/realtime", timeout=5)
        try:  # never reads, so never answers a ping
            assert wait_for(lambda: convo.connections == 1, 3)
            assert wait_for(lambda: convo.ended, 5)
        finally:
            silent.shutdown()


def test_shutdown_closes_the_relay_1001(convo: ConversationServer) -> None:
    with relay_app(convo) as (app, url), RelayClient(url) as client:
        client.next()
        app.extensions[SHUTDOWN].set()
        code, messages = client.closed(3)
    assert code == 1001 and json_of(messages, "error")[-1]["code"] == "shutting_down"
    assert wait_for(lambda: convo.ended, 2)


# -- auth -----------------------------------------------------------------------------------------


def test_an_upgrade_without_a_key_is_refused_before_anything_opens(convo: ConversationServer) -> None:
    with relay(convo, SPEECH_API_KEYS=INBOUND_KEY) as url:
        for header in ([], ["X-API-Key: wrong"]):
            with pytest.raises(websocket.WebSocketBadStatusException) as refused:
                RelayClient(url, header=header)
            assert refused.value.status_code == 401
    assert convo.connections == 0


@pytest.mark.parametrize(
    ("header", "subprotocols"),
    [
        ([f"X-API-Key: {INBOUND_KEY}"], None),
        ([f"Authorization: Bearer {INBOUND_KEY}"], None),
        ([], ["realtime", f"openai-insecure-api-key.{INBOUND_KEY}"]),
    ],
)
def test_a_key_in_a_header_or_the_subprotocol(convo: ConversationServer, header, subprotocols) -> None:
    with (
        relay(convo, SPEECH_API_KEYS=INBOUND_KEY) as url,
        RelayClient(url, header=header, subprotocols=subprotocols) as client,
    ):
        assert client.next()["action"] == "connected"
        if subprotocols:
            assert client.ws.getsubprotocol() == "realtime"
        assert INBOUND_KEY not in str(client.ws.getheaders())


@pytest.mark.parametrize(
    "session",
    [
        {"instructions": "Talk like a pirate.", "audio": {"output": {"voice": "ash"}}},  # GA
        {"instructions": "Talk like a pirate.", "voice": "ash"},  # preview
    ],
)
def test_a_client_secret_fixes_the_voice_and_instructions(convo: ConversationServer, session) -> None:
    """Security leaves a client secret's claims in ``g.client_secret``; the relay's session
    takes their voice and instructions over the configured ones."""
    with relay_app(convo, SPEECH_RELAY_VOICE="alloy") as (app, url):
        app.before_request_funcs.setdefault(None, []).append(
            lambda: setattr(flask.g, "client_secret", SimpleNamespace(session=session))
        )
        with RelayClient(url) as client:
            client.next()
    update = convo.client_events("session.update")[0]["session"]
    assert update["instructions"] == "Talk like a pirate."
    assert update["audio"]["output"]["voice"] == "ash"


def test_a_wrong_key_in_the_subprotocol_is_refused(convo: ConversationServer) -> None:
    with (
        relay(convo, SPEECH_API_KEYS=INBOUND_KEY) as url,
        pytest.raises(websocket.WebSocketBadStatusException) as refused,
    ):
        RelayClient(url, subprotocols=["realtime", "openai-insecure-api-key.wrong"])
    assert refused.value.status_code == 401


# -- renewal --------------------------------------------------------------------------------------


def test_the_upstream_session_is_renewed_carrying_the_conversation(convo: ConversationServer) -> None:
    with relay(convo, SPEECH_RELAY_RENEW_AFTER="1") as url, RelayClient(url) as client:
        client.next()
        client.say("remember this")
        client.until("control", "text_done")
        assert wait_for(lambda: convo.connections == 2, 5)
        client.say("and this")
        answer = client.until("control", "text_done")
        assert wait_for(lambda: len(convo.ended) == 1, 2)
    assert "".join(d["delta"] for d in json_of(answer, "text_delta")).split() == ["and", "this"]
    events = [e for _, e in convo.events]
    updates = [i for i, e in enumerate(events) if e["type"] == "session.update"]
    carried = events[updates[1] + 1 : updates[1] + 3]
    assert [(e["item"]["role"], " ".join(e["item"]["content"][0]["text"].split())) for e in carried] == [
        ("user", "remember this"),
        ("assistant", "remember this"),
    ]
    assert convo.invalid_events == []
