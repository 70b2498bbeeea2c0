"""The relay's machine and messages, sans I/O: frames and server events in, effects out, on a
clock the test holds. Every upstream event the relay builds validates against the openai types."""

from __future__ import annotations

import base64
import json

import pytest
from openai_types import validate_client_event

from speech_realtime.config import Dialect, Settings
from speech_realtime.errors import ConfigError
from speech_realtime.realtime.events import parse_server_event
from speech_realtime.relay import messages, upstream
from speech_realtime.relay.conversation import Close, RelayLimits, RelayMachine, Renew, ToClient, ToUpstream
from speech_realtime.relay.messages import Audio, FrameError, UserMessage, parse_frame

MS = 48  # bytes of PCM16 24 kHz per millisecond


def machine(dialect: Dialect = Dialect.GA, *, confirmed: bool = True, **limits: float) -> RelayMachine:
    """A machine whose upstream session confirmed its configuration (unless ``confirmed`` is False)."""
    m = RelayMachine(
        dialect,
        RelayLimits(**limits),
        instructions="be brief",
        voice="alloy",
        transcribe_model="whisper-1",
        greeting=None,
        now=0.0,
    )
    if confirmed:
        m.upstream_event(event("session.updated", session={}), 0.0)
    return m


def event(kind: str, **fields: object):
    return parse_server_event(json.dumps({"type": kind, **fields}))


def audio_delta(ms: int, response_id: str = "resp_1", item_id: str = "item_a"):
    delta = base64.b64encode(bytes(ms * MS)).decode()
    return event("response.output_audio.delta", response_id=response_id, item_id=item_id, delta=delta)


def upstream_events(effects) -> list[dict]:
    return [e.event for e in effects if isinstance(e, ToUpstream)]


def client_json(effects) -> list[dict]:
    return [json.loads(e.frame) for e in effects if isinstance(e, ToClient) and isinstance(e.frame, str)]


def replying(m: RelayMachine, sent_ms: int, at: float) -> None:
    m.upstream_event(event("response.created", response={"id": "resp_1"}), at)
    m.upstream_event(audio_delta(sent_ms), at)


# -- what goes upstream -------------------------------------------------------------------------


@pytest.mark.parametrize("dialect", list(Dialect))
def test_every_upstream_event_is_a_valid_client_event(dialect: Dialect) -> None:
    built = [
        upstream.session_update(dialect, instructions="x", voice="alloy", transcribe_model="whisper-1"),
        *upstream.user_text("hello"),
        upstream.reply(),
        upstream.audio(b"\x00\x00" * 480),
        upstream.cancel("resp_1"),
        upstream.truncate("item_a", 250),
        upstream.assistant_text(dialect, "earlier answer"),
    ]
    for built_event in built:
        validate_client_event(dialect.value, built_event)


# -- frames ---------------------------------------------------------------------------------------


def test_frames_are_parsed_and_checked() -> None:
    parse = lambda frame: parse_frame(frame, max_bytes=1000, max_text_chars=20)  # noqa: E731
    assert parse('{"type": "user_message", "id": "a", "text": "hi"}') == UserMessage("a", "hi")
    assert parse(b"\x01\x00") == Audio(b"\x01\x00")
    with pytest.raises(FrameError) as refused:
        parse('{"type": "user_message", "id": "a", "text": "' + "x" * 21 + '"}')
    assert (refused.value.code, refused.value.message_id) == ("text_too_long", "a")
    with pytest.raises(FrameError) as refused:
        parse('{"type": "user_message", "id": "' + "i" * 200 + '", "text": "hi"}')
    assert refused.value.code == "invalid_id"


def test_server_messages_have_the_seed_shapes() -> None:
    assert json.loads(messages.connected(None)) == {"type": "control", "action": "connected"}
    assert json.loads(messages.connected("hi")) == {
        "type": "control",
        "action": "connected",
        "greeting": "hi",
    }
    assert json.loads(messages.control("text_done", "i1")) == {
        "type": "control",
        "action": "text_done",
        "id": "i1",
    }
    assert json.loads(messages.text_delta("i1", "d")) == {"type": "text_delta", "id": "i1", "delta": "d"}
    assert json.loads(messages.transcription("i2", "t")) == {"type": "transcription", "id": "i2", "text": "t"}


# -- barge-in ---------------------------------------------------------------------------------------


def test_barge_in_while_generating_cancels_then_truncates_at_the_played_position() -> None:
    m = machine()
    replying(m, sent_ms=2000, at=10.0)  # two seconds of audio sent at once
    effects = m.upstream_event(event("input_audio_buffer.speech_started", audio_start_ms=0), 10.3)
    assert upstream_events(effects) == [
        {"type": "response.cancel", "response_id": "resp_1"},
        {"type": "conversation.item.truncate", "item_id": "item_a", "content_index": 0, "audio_end_ms": 300},
    ]
    assert client_json(effects) == [{"type": "control", "action": "speech_started"}]
    assert m.upstream_event(audio_delta(100), 10.31) == []  # the rest of the reply is dropped
    assert (
        m.upstream_event(
            event(
                "response.output_audio_transcript.delta", response_id="resp_1", item_id="item_a", delta="x"
            ),
            10.32,
        )
        == []
    )
    done = m.upstream_event(event("response.done", response={"id": "resp_1", "status": "cancelled"}), 10.4)
    assert client_json(done) == [{"type": "control", "action": "text_done", "id": "item_a"}]
    assert m.reply is None


def test_the_played_position_is_never_more_than_was_sent() -> None:
    m = machine()
    replying(m, sent_ms=200, at=10.0)
    effects = m.upstream_event(event("input_audio_buffer.speech_started"), 11.0)  # still generating
    assert upstream_events(effects)[1]["audio_end_ms"] == 200


def test_the_played_position_counts_the_gaps_of_audio_that_came_late() -> None:
    m = machine()
    replying(m, sent_ms=1000, at=0.0)
    m.upstream_event(audio_delta(1000), 1.5)  # the client ran dry for half a second
    effects = m.upstream_event(event("input_audio_buffer.speech_started"), 2.0)
    assert upstream_events(effects)[1]["audio_end_ms"] == 1500


def test_barge_in_after_the_reply_was_generated_truncates_what_still_plays() -> None:
    m = machine()
    replying(m, sent_ms=3000, at=10.0)
    m.upstream_event(event("response.done", response={"id": "resp_1", "status": "completed"}), 10.1)
    effects = m.upstream_event(event("input_audio_buffer.speech_started"), 11.5)
    assert [e["type"] for e in upstream_events(effects)] == ["conversation.item.truncate"]
    assert upstream_events(effects)[0]["audio_end_ms"] == 1500


def test_speech_after_the_reply_played_whole_touches_nothing_upstream() -> None:
    m = machine()
    replying(m, sent_ms=500, at=10.0)
    m.upstream_event(event("response.done", response={"id": "resp_1", "status": "completed"}), 10.1)
    effects = m.upstream_event(event("input_audio_buffer.speech_started"), 11.0)
    assert upstream_events(effects) == []
    assert client_json(effects) == [{"type": "control", "action": "speech_started"}]


def test_barge_in_before_any_audio_only_cancels() -> None:
    m = machine()
    m.upstream_event(event("response.created", response={"id": "resp_1"}), 1.0)
    effects = m.upstream_event(event("input_audio_buffer.speech_started"), 1.1)
    assert upstream_events(effects) == [{"type": "response.cancel", "response_id": "resp_1"}]


def test_a_typed_message_during_a_reply_asks_for_its_reply_when_that_one_ends() -> None:
    m = machine()
    m.upstream_event(event("response.created", response={"id": "resp_1"}), 1.0)
    effects = m.client_frame('{"type": "user_message", "id": "m2", "text": "next"}', 1.1)
    assert [e["type"] for e in upstream_events(effects)] == ["conversation.item.create"]
    done = m.upstream_event(event("response.done", response={"id": "resp_1", "status": "completed"}), 1.2)
    assert upstream_events(done) == [{"type": "response.create"}]


def test_a_cancel_that_lost_the_race_is_not_reported() -> None:
    m = machine()
    error = {"type": "invalid_request_error", "code": "response_cancel_not_active", "message": "none"}
    assert m.upstream_event(event("error", error=error), 1.0) == []
    error["code"] = "other"
    assert client_json(m.upstream_event(event("error", error=error), 1.0))[0]["code"] == "other"


# -- time: limits and renewal ---------------------------------------------------------------------


def test_an_upstream_that_never_confirms_the_session_ends_the_connection() -> None:
    m = machine(confirmed=False, connect=2)
    assert m.deadline(0.0) == 2.0 and m.tick(1.9) == []
    closing = m.tick(2.0)
    assert client_json(closing)[0]["code"] == "upstream_timeout" and closing[-1] == Close(
        1011, "upstream timeout"
    )
    m = machine(confirmed=False, connect=2)
    assert (
        client_json(m.upstream_event(event("session.updated", session={}), 1.0))[0]["action"] == "connected"
    )
    assert m.tick(5.0) == []


def test_idle_and_length_limits() -> None:
    m = machine(idle=5, max_seconds=60)
    assert m.tick(4.9) == []
    closing = m.tick(5.0)
    assert isinstance(closing[-1], Close) and client_json(closing)[0]["code"] == "idle_timeout"
    m = machine(idle=1000, max_seconds=60)
    closing = m.tick(60.0)
    assert client_json(closing)[0]["code"] == "session_expired"


def test_a_reply_in_progress_is_not_idle_and_is_not_renewed_under() -> None:
    m = machine(idle=5, renew_after=5)
    replying(m, sent_ms=100, at=4.0)
    assert m.tick(6.0) == []
    m.upstream_event(event("response.done", response={"id": "resp_1", "status": "completed"}), 6.0)
    assert m.tick(6.0) == [
        ToClient(messages.error("idle_timeout", "no frame from the client for 5 s")),
        Close(1000, "idle"),
    ]


def test_renewal_carries_the_instructions_and_the_text_of_the_conversation() -> None:
    m = machine(renew_after=100)
    m.client_frame('{"type": "user_message", "id": "m1", "text": "hello"}', 1.0)
    m.upstream_event(event("response.created", response={"id": "resp_1"}), 1.0)
    m.upstream_event(
        event(
            "response.output_audio_transcript.delta", response_id="resp_1", item_id="item_a", delta="hi there"
        ),
        1.0,
    )
    m.upstream_event(event("response.done", response={"id": "resp_1", "status": "completed"}), 1.1)
    m.upstream_event(
        event(
            "conversation.item.input_audio_transcription.completed", item_id="i2", transcript="spoken words"
        ),
        1.2,
    )
    assert m.tick(100.0) == [Renew()]
    carried = upstream_events(m.renewed(100.5))
    assert m.tick(111.0)[-1] == Close(1011, "upstream timeout")  # the fresh session must confirm too
    assert m.upstream_event(event("session.updated", session={}), 111.0) == []  # no second "connected"
    assert carried[0]["type"] == "session.update" and carried[0]["session"]["instructions"] == "be brief"
    assert [(e["item"]["role"], e["item"]["content"][0]["text"]) for e in carried[1:]] == [
        ("user", "hello"),
        ("assistant", "hi there"),
        ("user", "spoken words"),
    ]


def test_the_limits_come_from_the_relay_settings() -> None:
    env = {
        "SPEECH_RELAY_MAX_SECONDS": "120",
        "SPEECH_RELAY_IDLE_TIMEOUT": "30",
        "SPEECH_RELAY_MAX_MESSAGE_BYTES": "4096",
        "SPEECH_RELAY_MAX_AUDIO_SECONDS": "60",
        "SPEECH_RELAY_RENEW_AFTER": "90",
        "SPEECH_MAX_TEXT_CHARS": "100",
    }
    env["SPEECH_CONNECT_TIMEOUT"] = "5"
    assert RelayLimits.from_settings(Settings.from_mapping(env)) == RelayLimits(120, 30, 4096, 60, 100, 90, 5)
    with pytest.raises(ConfigError, match="SPEECH_RELAY_MAX_MESSAGE_BYTES"):
        Settings.from_mapping({"SPEECH_RELAY_MAX_MESSAGE_BYTES": "10"})
