"""The engine's Realtime protocol over a real socket, with the real models.

Every server event received here is validated against the openai typed union of its dialect
(see ``engine_client.EngineConnection``).
"""

from __future__ import annotations

import numpy as np
import pytest
from engine_client import EngineConnection, audio_of, b64, speech_pcm

from speech_realtime.audio import alaw_encode, float_to_pcm16, pcm16_to_float, ulaw_decode, ulaw_encode
from speech_realtime.text import word_error_rate

PATHS = [
    ("/v1/realtime?model=local-echo", "ga"),
    ("/openai/v1/realtime?model=gpt-realtime", "ga"),
    ("/openai/realtime?api-version=2025-04-01-preview&deployment=gpt-4o-realtime-preview", "preview"),
]
GA_PATH, PREVIEW_PATH = PATHS[0][0], PATHS[2][0]
NO_VAD_GA = {"type": "realtime", "audio": {"input": {"turn_detection": None}}}
NO_VAD_PREVIEW = {"turn_detection": None}


def connect(engine, dialect: str = "ga", *, vad: bool = False) -> EngineConnection:
    conn = EngineConnection(engine.url, GA_PATH if dialect == "ga" else PREVIEW_PATH, dialect=dialect)
    if not vad:
        conn.send("session.update", session=NO_VAD_GA if dialect == "ga" else NO_VAD_PREVIEW)
        conn.expect("session.updated")
    return conn


def user_text(text: str) -> dict:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


@pytest.mark.parametrize(("path", "dialect"), PATHS)
def test_session_created_on_every_path_shape(engine, path: str, dialect: str) -> None:
    with EngineConnection(engine.url, path, dialect=dialect) as conn:
        session = conn.created["session"]
        assert session["id"].startswith("sess_")
        assert session["expires_at"] > 0
        assert session["turn_detection" if dialect == "preview" else "audio"]


def test_openai_beta_header_selects_the_preview_dialect(engine) -> None:
    import websocket

    ws = websocket.create_connection(
        engine.url.replace("http", "ws") + GA_PATH, header={"OpenAI-Beta": "realtime=v1"}
    )
    ws.send('{"type": "session.update", "session": {"modalities": ["text"]}}')
    assert '"session.created"' in ws.recv()
    assert '"session.updated"' in ws.recv()
    ws.close()


def test_session_update_answers_with_the_effective_configuration(engine) -> None:
    with connect(engine) as conn:
        conn.send(
            "session.update",
            session={
                "type": "realtime",
                "instructions": "Read.",
                "audio": {
                    "input": {"format": {"type": "audio/pcmu"}, "transcription": {"model": "whisper-1"}},
                    "output": {"voice": "verse", "format": {"type": "audio/pcma"}},
                },
            },
        )
        session = conn.expect("session.updated")["session"]
        assert session["audio"]["input"]["format"] == {"type": "audio/pcmu"}
        assert session["audio"]["input"]["transcription"] == {"model": "whisper-1"}
        assert session["audio"]["input"]["turn_detection"] is None
        assert session["audio"]["output"] == {
            "format": {"type": "audio/pcma"},
            "voice": "verse",
            "speed": 1.0,
        }
        assert session["instructions"] == "Read."


INVALID = [
    ('{"type": "nonsense.event"}', "invalid_value", "type"),
    ("not json at all", "invalid_json", None),
    ('{"no_type": 1}', "missing_required_parameter", "type"),
    ('{"type": "input_audio_buffer.append", "audio": "%%%"}', "invalid_value", "audio"),
    ('{"type": "input_audio_buffer.append"}', "missing_required_parameter", "audio"),
    ('{"type": "input_audio_buffer.append", "audio": "AAAA"}', "invalid_value", "audio"),
    (
        '{"type": "session.update", "session": {"type": "realtime", "bogus": 1}}',
        "unknown_parameter",
        "session.bogus",
    ),
    (
        '{"type": "session.update", "session": {"type": "realtime", "audio": {"output": {"voice": "nova"}}}}',
        "invalid_value",
        "session.audio.output.voice",
    ),
    (
        '{"type": "conversation.item.create", "item": {"type": "message", "role": "robot"}}',
        "invalid_value",
        "item.role",
    ),
    (
        '{"type": "conversation.item.delete", "item_id": "item_missing"}',
        "item_delete_invalid_item_id",
        "item_id",
    ),
    ('{"type": "input_audio_buffer.commit"}', "input_audio_buffer_commit_empty", None),
    ('{"type": "response.cancel"}', "response_cancel_not_active", None),
]


@pytest.mark.parametrize(("message", "code", "param"), INVALID)
def test_invalid_client_events_get_error_events_and_the_socket_stays_open(
    engine, message, code, param
) -> None:
    with connect(engine) as conn:
        conn.send_raw(message)
        error = conn.expect("error")["error"]
        assert error["code"] == code
        assert error["param"] == param
        assert error["message"]
        conn.send("input_audio_buffer.clear")
        conn.expect("input_audio_buffer.cleared")


def test_commit_of_under_100ms_is_refused_and_100ms_is_accepted(engine) -> None:
    with connect(engine) as conn:
        conn.send("input_audio_buffer.append", audio=b64(bytes(4700)))
        conn.send("input_audio_buffer.commit", event_id="evt_client_1")
        error = conn.expect("error")["error"]
        assert error["code"] == "input_audio_buffer_commit_empty"
        assert error["event_id"] == "evt_client_1"
        conn.send("input_audio_buffer.append", audio=b64(bytes(100)))
        conn.send("input_audio_buffer.commit")
        committed = conn.expect("input_audio_buffer.committed")
        added = conn.expect("conversation.item.added")
        assert added["item"]["id"] == committed["item_id"]


def test_item_create_and_delete(engine, dialect="preview") -> None:
    with connect(engine, "preview") as conn:
        conn.send("conversation.item.create", item=user_text("First."))
        first = conn.expect("conversation.item.created")["item"]
        assert first["content"] == [{"type": "input_text", "text": "First."}]
        conn.send("conversation.item.delete", item_id=first["id"])
        assert conn.expect("conversation.item.deleted")["item_id"] == first["id"]


@pytest.mark.parametrize("dialect", ["ga", "preview"])
def test_response_has_the_full_event_sequence_and_reads_the_last_user_message(engine, dialect: str) -> None:
    text = "Good morning. The train leaves at nine."
    with connect(engine, dialect) as conn:
        conn.send("conversation.item.create", item=user_text(text))
        conn.send("response.create")
        events = conn.until("response.done")
    names = [e["type"] for e in events]
    prefix = "response.output_audio" if dialect == "ga" else "response.audio"
    order = [
        "response.created",
        "response.output_item.added",
        "response.content_part.added",
        f"{prefix}.delta",
        f"{prefix}.done",
        f"{prefix}_transcript.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.done",
    ]
    positions = [names.index(name) for name in order]
    assert positions == sorted(positions)
    assert names.count(f"{prefix}_transcript.delta") == 2
    done = events[-1]["response"]
    assert done["status"] == "completed"
    assert done["usage"]["output_tokens"] > 0
    assert done["output"][0]["content"][0]["transcript"] == text
    audio = audio_of(events, f"{prefix}.delta")
    assert len(audio) > 48000
    assert np.abs(pcm16_to_float(audio)).max() > 0.1


def test_paragraph_audio_streams_before_the_last_sentence_is_voiced(engine) -> None:
    paragraph = " ".join(f"This is sentence number {n} of a long paragraph." for n in range(1, 7))
    with connect(engine) as conn:
        conn.send("conversation.item.create", item=user_text(paragraph))
        conn.send("response.create")
        events = conn.until("response.done")
    names = [e["type"] for e in events]
    first_audio = names.index("response.output_audio.delta")
    transcript_deltas = [i for i, n in enumerate(names) if n == "response.output_audio_transcript.delta"]
    assert len(transcript_deltas) == 6
    assert first_audio < transcript_deltas[1]


def test_response_cancel_ends_the_response_as_cancelled(engine) -> None:
    paragraph = " ".join(f"Sentence {n} is here to keep the engine busy for a while." for n in range(12))
    with connect(engine) as conn:
        conn.send("conversation.item.create", item=user_text(paragraph))
        conn.send("response.create")
        conn.until("response.output_audio.delta")
        conn.send("response.create")
        assert conn.until("error")[-1]["error"]["code"] == "conversation_already_has_active_response"
        conn.send("response.cancel")
        done = conn.until("response.done")[-1]["response"]
        assert done["status"] == "cancelled"
        assert done["status_details"] == {"type": "cancelled", "reason": "client_cancelled"}
        assert done["output"][0]["status"] == "incomplete"


@pytest.mark.parametrize("dialect", ["ga", "preview"])
def test_input_audio_transcription(engine, models, dialect: str) -> None:
    text = "Please call me back tomorrow afternoon."
    update = (
        {"type": "realtime", "audio": {"input": {"transcription": {"model": "whisper-1"}}}}
        if dialect == "ga"
        else {"input_audio_transcription": {"model": "whisper-1"}}
    )
    with connect(engine, dialect) as conn:
        conn.send("session.update", session=update)
        conn.expect("session.updated")
        conn.send("input_audio_buffer.append", audio=b64(speech_pcm(models, text)))
        conn.send("input_audio_buffer.commit")
        events = conn.until("conversation.item.input_audio_transcription.completed")
    assert any(e["type"] == "conversation.item.input_audio_transcription.delta" for e in events)
    completed = events[-1]
    assert completed["item_id"] == events[0]["item_id"]
    assert completed["usage"]["type"] == "duration"
    assert completed["usage"]["seconds"] > 1
    assert word_error_rate(text, completed["transcript"]) <= 0.1


def test_g711_in_and_out(engine, models) -> None:
    text = "Telephone audio from the front desk is clear enough to understand."
    pcm = speech_pcm(models, text)
    from speech_realtime.audio import resample

    narrow = float_to_pcm16(resample(pcm16_to_float(pcm), 24000, 8000))
    with connect(engine) as conn:
        conn.send(
            "session.update",
            session={
                "type": "realtime",
                "audio": {
                    "input": {"format": {"type": "audio/pcmu"}, "transcription": {"model": "whisper-1"}},
                    "output": {"format": {"type": "audio/pcmu"}},
                },
            },
        )
        conn.expect("session.updated")
        conn.send("input_audio_buffer.append", audio=b64(ulaw_encode(narrow)))
        conn.send("input_audio_buffer.commit")
        transcript = conn.until("conversation.item.input_audio_transcription.completed")[-1]["transcript"]
        assert word_error_rate(text, transcript) <= 0.25
        conn.send("response.create")
        events = conn.until("response.done")
    audio = audio_of(events, "output_audio.delta")
    seconds = len(audio) / 8000
    assert 1.0 < seconds < 4.0
    assert np.abs(pcm16_to_float(ulaw_decode(audio))).max() > 0.1
    assert alaw_encode(b"\x00\x00") != ulaw_encode(b"\x00\x00")


def test_echo_of_an_audio_item_uses_its_transcript(engine, models) -> None:
    text = "Echo what I said."
    item = {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_audio", "audio": b64(speech_pcm(models, text))}],
    }
    with connect(engine) as conn:
        conn.send("conversation.item.create", item=item)
        conn.send("response.create")
        done = conn.until("response.done")[-1]["response"]
    assert word_error_rate(text, done["output"][0]["content"][0]["transcript"]) <= 0.25


def test_out_of_band_response_reads_its_own_input(engine) -> None:
    with connect(engine) as conn:
        conn.send("conversation.item.create", item=user_text("Not this one."))
        conn.send("response.create", response={"conversation": "none", "input": [user_text("This one.")]})
        events = conn.until("response.done")
    assert events[-1]["response"]["output"][0]["content"][0]["transcript"] == "This one."
    assert not any(
        e["type"] == "conversation.item.added" and e["item"]["role"] == "assistant" for e in events
    )


def test_text_only_response(engine) -> None:
    with connect(engine, "preview") as conn:
        conn.send("session.update", session={"modalities": ["text"]})
        conn.expect("session.updated")
        conn.send("conversation.item.create", item=user_text("Just text."))
        conn.send("response.create")
        events = conn.until("response.done")
    assert [e["delta"] for e in events if e["type"] == "response.text.delta"] == ["Just text."]
    assert not any("audio" in e["type"] for e in events)


def test_server_vad_detects_the_turn_commits_transcribes_and_responds(engine, models) -> None:
    text = "Please let me know when the package arrives at the front office."
    silence = bytes(int(0.6 * 48000))
    audio = silence + speech_pcm(models, text) + silence + silence
    with connect(engine, vad=True) as conn:
        conn.send(
            "session.update",
            session={"type": "realtime", "audio": {"input": {"transcription": {"model": "whisper-1"}}}},
        )
        conn.expect("session.updated")
        for start in range(0, len(audio), 4800):
            conn.send("input_audio_buffer.append", audio=b64(audio[start : start + 4800]))
        events = conn.until("response.done")
    names = [e["type"] for e in events]
    for name in (
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
    ):
        assert name in names
    started = events[names.index("input_audio_buffer.speech_started")]
    stopped = events[names.index("input_audio_buffer.speech_stopped")]
    assert 300 <= started["audio_start_ms"] < stopped["audio_end_ms"]
    transcript = events[names.index("conversation.item.input_audio_transcription.completed")]["transcript"]
    assert word_error_rate(text, transcript) <= 0.25
    assert events[-1]["response"]["output"][0]["content"][0]["transcript"] == transcript
