"""The pass-through policy, sans-I/O: allow-lists, fixed options, limits, server error words."""

from __future__ import annotations

import base64
import json

import pytest

from speech_realtime.errors import BadRequest
from speech_realtime.realtime.events import GA, PREVIEW
from speech_realtime.realtime.policy import Limits, PassthroughPolicy, Refusal, minted_session, server_message
from speech_realtime.realtime.session_fields import preview_session

LIMITS = Limits(session_seconds=60, idle_seconds=10, message_bytes=4096, audio_seconds=1.0)


def policy(dialect=GA, limits=LIMITS, fixed=None) -> PassthroughPolicy:
    return PassthroughPolicy(dialect, limits, 0.0, fixed)


def refused(p: PassthroughPolicy, event: dict | str | bytes) -> Refusal:
    message = event if isinstance(event, (str, bytes)) else json.dumps(event)
    with pytest.raises(Refusal) as caught:
        p.check(message, 1.0)
    return caught.value


def test_speech_session_fields_pass_in_both_dialects():
    ga = {
        "type": "session.update",
        "session": {
            "type": "realtime",
            "instructions": "Be brief.",
            "audio": {
                "input": {
                    "format": {"type": "audio/pcm", "rate": 24000},
                    "turn_detection": {"type": "server_vad"},
                },
                "output": {"voice": "alloy"},
            },
        },
    }
    assert policy().check(json.dumps(ga), 1.0) == ga
    preview = {"type": "session.update", "session": {"voice": "alloy", "input_audio_format": "pcm16"}}
    assert policy(PREVIEW).check(json.dumps(preview), 1.0) == preview


@pytest.mark.parametrize(
    ("event", "param"),
    [
        ({"type": "session.update", "session": {"tools": []}}, "session.tools"),
        ({"type": "session.update", "session": {"model": "gpt-4o"}}, "session.model"),
        (
            {"type": "session.update", "session": {"audio": {"input": {"secret": 1}}}},
            "session.audio.input.secret",
        ),
        ({"type": "session.update", "session": {"type": "transcription"}}, "session.type"),
        ({"type": "response.create", "response": {"tools": []}}, "response.tools"),
        ({"type": "transcription_session.update", "session": {}}, "type"),
        ({"type": "conversation.item.create", "item": {"type": "function_call_output"}}, "item.type"),
        ({"type": "input_audio_buffer.append", "audio": 5}, "audio"),
    ],
)
def test_refused_events_name_the_field(event, param):
    refusal = refused(policy(), {**event, "event_id": "evt_1"})
    assert refusal.param == param
    error = refusal.event()
    assert error["type"] == "error"
    assert error["error"]["param"] == param and error["error"]["event_id"] == "evt_1"


def test_tools_pass_when_configured():
    limits = Limits(60, 10, 4096, 1.0, tools=True)
    event = {"type": "session.update", "session": {"type": "realtime", "tools": [], "tool_choice": "auto"}}
    assert policy(limits=limits).check(json.dumps(event), 1.0) == event
    item = {
        "type": "conversation.item.create",
        "item": {"type": "function_call_output", "call_id": "c", "output": "x"},
    }
    assert policy(limits=limits).check(json.dumps(item), 1.0) == item


def test_messages_that_are_not_events_are_refused():
    assert refused(policy(), b"\x00\x01").code == "invalid_event"
    assert refused(policy(), "{not json").code == "invalid_json"
    assert refused(policy(), "[1]").code == "invalid_event"
    assert refused(policy(), "x" * 5000).code == "message_too_large"


def test_audio_per_session_is_limited():
    p = policy(limits=Limits(60, 10, 1 << 20, 1.0))
    half = base64.b64encode(bytes(24000)).decode()  # 0.5 s of PCM16 24 kHz
    for _ in range(2):
        p.check(json.dumps({"type": "input_audio_buffer.append", "audio": half}), 1.0)
    assert refused(p, {"type": "input_audio_buffer.append", "audio": half}).code == "audio_limit_reached"


def test_audio_in_conversation_items_counts_too():
    p = policy(limits=Limits(60, 10, 1 << 20, 1.0))
    second = base64.b64encode(bytes(48000)).decode()
    part = {"type": "input_audio", "audio": second}
    item = {
        "type": "conversation.item.create",
        "item": {"type": "message", "role": "user", "content": [part]},
    }
    p.check(json.dumps(item), 1.0)
    assert refused(p, item).code == "audio_limit_reached"


def test_audio_limit_follows_the_input_format():
    p = policy(limits=Limits(60, 10, 1 << 20, 1.0))
    p.check(
        json.dumps(
            {"type": "session.update", "session": {"audio": {"input": {"format": {"type": "audio/pcmu"}}}}}
        ),
        1,
    )
    second = base64.b64encode(bytes(8000)).decode()  # 1 s of G.711
    p.check(json.dumps({"type": "input_audio_buffer.append", "audio": second}), 1.0)
    assert (
        refused(p, {"type": "input_audio_buffer.append", "audio": second[:8]}).code == "audio_limit_reached"
    )


def test_fixed_options_are_applied_and_cannot_change():
    fixed = {"instructions": "Only French.", "audio": {"output": {"voice": "marin"}}}
    p = policy(fixed=fixed)
    assert p.opening() == [{"type": "session.update", "session": {**fixed, "type": "realtime"}}]
    same = {"type": "session.update", "session": {"audio": {"output": {"voice": "marin", "speed": 1.1}}}}
    assert p.check(json.dumps(same), 1.0) == same
    other = {"type": "session.update", "session": {"audio": {"output": {"voice": "alloy"}}}}
    assert refused(p, other).param == "session.audio.output.voice"
    assert refused(p, {"type": "session.update", "session": {"audio": None}}).param == "session.audio"
    assert (
        refused(p, {"type": "response.create", "response": {"instructions": "x"}}).param
        == "response.instructions"
    )
    system = {
        "type": "conversation.item.create",
        "item": {"type": "message", "role": "system", "content": []},
    }
    assert refused(p, system).param == "item.role"


def test_fixed_options_move_onto_the_preview_fields():
    fixed = {
        "instructions": "Hi",
        "audio": {"output": {"voice": "alloy"}, "input": {"format": {"type": "audio/pcmu"}}},
    }
    assert preview_session(fixed) == {
        "instructions": "Hi",
        "voice": "alloy",
        "input_audio_format": "g711_ulaw",
    }
    p = policy(PREVIEW, fixed=fixed)
    assert refused(p, {"type": "session.update", "session": {"voice": "echo"}}).param == "session.voice"


def test_session_length_and_idle_time_end_the_session():
    p = policy()
    assert p.expiry(5.0) is None
    assert p.deadline() == 10.0
    assert p.expiry(10.0).code == "idle_timeout"
    p.check(json.dumps({"type": "response.cancel"}), 9.0)
    assert p.expiry(15.0) is None
    assert PassthroughPolicy(GA, Limits(5, 10, 4096, 1.0), 0.0).expiry(5.0).code == "session_expired"


def test_upstream_error_words_are_replaced():
    upstream = {
        "type": "error",
        "event_id": "e1",
        "error": {
            "type": "invalid_request_error",
            "code": "bad",
            "message": "internal path /x/y",
            "param": "session.voice",
        },
    }
    replaced = json.loads(server_message(json.dumps(upstream)))
    assert "internal path" not in json.dumps(replaced)
    assert replaced["error"]["code"] == "bad" and replaced["error"]["param"] == "session.voice"
    assert "upstream code: bad" in replaced["error"]["message"]
    other = json.dumps({"type": "response.done", "response": {"error": None}})
    assert server_message(other) == other


def test_minted_session_drops_the_model_and_names_bad_fields():
    assert minted_session({"type": "realtime", "model": "x", "instructions": "Hi"}, False) == {
        "instructions": "Hi"
    }
    assert minted_session(None, False) == {}
    with pytest.raises(BadRequest) as caught:
        minted_session({"tools": []}, False)
    assert caught.value.param == "session.tools"
    with pytest.raises(BadRequest):
        minted_session("voice", False)
