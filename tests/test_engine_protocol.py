"""The engine's Realtime protocol, sans I/O: a session on fake models, no sockets, no neural models.

Every server event is validated against the openai typed union of its dialect (see
``engine_fixtures.Driver``). Tests run in both dialects only where the protocol differs.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from engine_fixtures import (
    WORD_SECONDS,
    Driver,
    FakeModels,
    b64,
    names,
    pcm,
    silence,
    tone,
    user_text,
)

from speech_realtime.audio import G711_ULAW, encode_wire
from speech_realtime.engine.turns import InputBuffer

# -- bad client events: one error event each, and the session carries on -------------------------

UPDATE = '{"type": "session.update", "session": %s}'
VAD = UPDATE % '{"audio": {"input": {"turn_detection": %s}}}'
ITEM = '{"type": "conversation.item.create", "item": {"role": "user", %s}}'

BAD = [
    ('{"type": "nonsense.event"}', "invalid_value", "type"),
    ("not json at all", "invalid_json", None),
    ("[1, 2, 3]", "invalid_type", None),
    ('"a string"', "invalid_type", None),
    ("[" * 100_000 + "]" * 100_000, "invalid_json", None),
    (b"\xff\xfe\xfa", "invalid_json", None),
    ('{"no_type": 1}', "missing_required_parameter", "type"),
    ('{"type": 7}', "missing_required_parameter", "type"),
    ('{"type": "input_audio_buffer.append", "audio": "%%%"}', "invalid_value", "audio"),
    ('{"type": "input_audio_buffer.append"}', "missing_required_parameter", "audio"),
    ('{"type": "input_audio_buffer.append", "audio": 12}', "invalid_value", "audio"),
    ('{"type": "input_audio_buffer.append", "audio": "AAAA"}', "invalid_value", "audio"),  # odd length
    ('{"type": "session.update", "session": "x"}', "invalid_value", "session"),
    ('{"type": "session.update", "session": {"bogus": 1}}', "unknown_parameter", "session.bogus"),
    (
        '{"type": "session.update", "session": {"output_modalities": 3}}',
        "invalid_value",
        "session.output_modalities",
    ),
    (
        '{"type": "session.update", "session": {"output_modalities": [1]}}',
        "invalid_value",
        "session.output_modalities",
    ),
    ('{"type": "session.update", "session": {"audio": 5}}', "invalid_value", "session.audio"),
    (
        '{"type": "session.update", "session": {"audio": {"input": 5}}}',
        "invalid_value",
        "session.audio.input",
    ),
    (
        '{"type": "session.update", "session": {"audio": {"output": []}}}',
        "invalid_value",
        "session.audio.output",
    ),
    (
        '{"type": "session.update", "session": {"instructions": {"a": 1}}}',
        "invalid_value",
        "session.instructions",
    ),
    (
        VAD % '{"silence_duration_ms": "x"}',
        "invalid_value",
        "session.audio.input.turn_detection.silence_duration_ms",
    ),
    (
        VAD % '{"threshold": NaN}',
        "invalid_value",
        "session.audio.input.turn_detection.threshold",
    ),
    (
        VAD % '{"create_response": 1}',
        "invalid_value",
        "session.audio.input.turn_detection.create_response",
    ),
    (
        '{"type": "session.update", "session": {"audio": {"input": {"transcription": {"language": {}}}}}}',
        "invalid_value",
        "session.audio.input.transcription.language",
    ),
    (
        UPDATE % '{"audio": {"input": {"format": {"type": "audio/pcm", "rate": 1e400}}}}',
        "invalid_value",
        "session.audio.input.format.rate",
    ),
    (
        '{"type": "session.update", "session": {"audio": {"output": {"voice": "nova"}}}}',
        "invalid_value",
        "session.audio.output.voice",
    ),
    (
        '{"type": "session.update", "session": {"audio": {"output": {"voice": ["alloy"]}}}}',
        "invalid_value",
        "session.audio.output.voice",
    ),
    (
        '{"type": "session.update", "session": {"audio": {"output": {"speed": 2}}}}',
        "invalid_value",
        "session.audio.output.speed",
    ),
    (
        '{"type": "session.update", "session": {"audio": {"output": {"speed": "fast"}}}}',
        "invalid_value",
        "session.audio.output.speed",
    ),
    (
        '{"type": "session.update", "session": {"audio": {"input": {"format": {"type": ["audio/pcm"]}}}}}',
        "invalid_value",
        "session.audio.input.format",
    ),
    (
        '{"type": "response.create", "response": {"audio": {"output": {"format": {"type": {}}}}}}',
        "invalid_value",
        "response.audio.output.format",
    ),
    ('{"type": "response.create", "response": "go"}', "invalid_value", "response"),
    ('{"type": "response.create", "response": {"audio": "loud"}}', "invalid_value", "response.audio"),
    (
        '{"type": "response.create", "response": {"audio": {"output": 1}}}',
        "invalid_value",
        "response.audio.output",
    ),
    (
        '{"type": "response.create", "response": {"output_modalities": 1}}',
        "invalid_value",
        "response.output_modalities",
    ),
    ('{"type": "response.create", "response": {"input": {}}}', "invalid_value", "response.input"),
    ('{"type": "response.create", "response": {"input": [5]}}', "invalid_value", "response.input[0]"),
    (
        '{"type": "response.create", "response": {"conversation": 0}}',
        "invalid_value",
        "response.conversation",
    ),
    (
        '{"type": "response.create", "response": {"instructions": []}}',
        "invalid_value",
        "response.instructions",
    ),
    ('{"type": "conversation.item.create", "item": []}', "invalid_value", "item"),
    ('{"type": "conversation.item.create", "item": {"role": "robot"}}', "invalid_value", "item.role"),
    (
        '{"type": "conversation.item.create", "item": {"role": "user", "content": "hi"}}',
        "invalid_value",
        "item.content",
    ),
    (
        ITEM % '"content": [{"type": "input_text", "text": 5}]',
        "invalid_value",
        "item.content[0].text",
    ),
    (
        ITEM % '"content": [{"type": "input_audio", "audio": "AAAA"}]',
        "invalid_value",
        "item.content[0].audio",
    ),
    (
        ITEM % '"content": [{"type": "input_audio"}]',
        "invalid_value",
        "item.content[0].audio",
    ),
    (
        ITEM % '"content": [null]',
        "invalid_value",
        "item.content[0].type",
    ),
    (
        ITEM % '"id": 4, "content": [{"type": "input_text", "text": ""}]',
        "invalid_value",
        "item.id",
    ),
    (
        '{"type": "conversation.item.delete", "item_id": "item_missing"}',
        "item_delete_invalid_item_id",
        "item_id",
    ),
    ('{"type": "conversation.item.delete", "item_id": {"x": 1}}', "invalid_value", "item_id"),
    ('{"type": "input_audio_buffer.commit"}', "input_audio_buffer_commit_empty", None),
    ('{"type": "response.cancel"}', "response_cancel_not_active", None),
]


@pytest.mark.parametrize(("message", "code", "param"), BAD)
def test_a_bad_client_event_gets_one_error_event_and_the_session_carries_on(message, code, param) -> None:
    driver = Driver()
    error = driver.error(message)
    assert (error["code"], error["param"]) == (code, param)
    assert error["message"] and len(error["message"]) < 400
    assert names(driver.send("input_audio_buffer.clear")) == ["input_audio_buffer.cleared"]
    driver.send("conversation.item.create", item=user_text("Still here."))
    assert driver.send("response.create") == []
    assert driver.run()[-1]["response"]["status"] == "completed"


def test_the_error_names_the_client_event_id() -> None:
    error = Driver().error('{"type": "input_audio_buffer.commit", "event_id": "evt_1"}')
    assert error["event_id"] == "evt_1"


@pytest.mark.parametrize("dialect", ["ga", "preview"])
def test_a_rejected_session_update_changes_nothing(dialect: str) -> None:
    driver = Driver(dialect)
    bad = (
        {"audio": {"output": {"voice": "verse", "speed": 9}}}
        if dialect == "ga"
        else {"voice": "verse", "speed": 9}
    )
    assert names(driver.send("session.update", session=bad)) == ["error"]
    assert driver.session.config.voice == "alloy"


def test_the_input_buffer_is_bounded(monkeypatch) -> None:
    from speech_realtime.engine import session

    monkeypatch.setattr(session, "MAX_BUFFER_SECONDS", 1)
    driver = Driver()
    piece = b64(pcm(tone(0.6)))
    assert driver.send("input_audio_buffer.append", audio=piece) == []
    error = driver.send("input_audio_buffer.append", audio=piece)[0]["error"]
    assert (error["code"], error["param"]) == ("input_audio_buffer_full", "audio")
    assert names(driver.send("input_audio_buffer.commit"))[0] == "input_audio_buffer.committed"
    # the committed audio is still held until a response (or transcription) uses it
    full = driver.error(json.dumps({"type": "input_audio_buffer.append", "audio": piece}))
    assert full["code"] == "input_audio_buffer_full"
    driver.send("response.create")
    driver.run()
    assert driver.send("input_audio_buffer.append", audio=piece) == []


def held_seconds(driver: Driver) -> float:
    """Audio the session holds, counted from outside: buffer, items, queued transcriptions."""
    items = {id(item): item for item in driver.session.conversation.items}
    for job in driver.session._jobs:  # a transcription job's frame holds its item
        frame = getattr(job, "gi_frame", None)
        item = frame.f_locals.get("item") if frame is not None else None
        if item is not None:
            items[id(item)] = item
    samples = sum(len(item.samples) for item in items.values() if item.samples is not None)
    return (samples + len(driver.session.buffer.samples())) / 16000


def test_committed_audio_awaiting_transcription_counts_against_the_bound(monkeypatch) -> None:
    from speech_realtime.engine import session

    monkeypatch.setattr(session, "MAX_BUFFER_SECONDS", 1)
    driver = Driver()
    driver.send("session.update", session={"type": "realtime", "audio": {"input": {"transcription": {}}}})
    piece = b64(pcm(tone(0.6)))
    codes = []
    for _ in range(5):  # a client that commits faster than transcription goes
        events = driver.send("input_audio_buffer.append", audio=piece)
        codes += [e["error"]["code"] for e in events if e["type"] == "error"]
        driver.send("input_audio_buffer.commit")
        assert held_seconds(driver) <= 1.01
    assert "input_audio_buffer_full" in codes
    driver.run()  # transcribed: the audio is let go, and appends fit again
    assert held_seconds(driver) == 0
    assert driver.send("input_audio_buffer.append", audio=piece) == []


def test_audio_items_keep_only_what_the_echo_model_can_use(monkeypatch) -> None:
    from speech_realtime.engine import session

    monkeypatch.setattr(session, "MAX_BUFFER_SECONDS", 1)
    driver = Driver()
    content = [{"type": "input_audio", "audio": b64(pcm(tone(0.6)))}]
    for _ in range(5):  # each new user item makes the older one's audio useless
        added = driver.send("conversation.item.create", item={"role": "user", "content": content})
        assert names(added)[0] == "conversation.item.added"
        assert held_seconds(driver) <= 0.61
    assert [item.samples is not None for item in driver.session.conversation.items] == [False] * 4 + [True]
    # an item over what the input buffer leaves is refused, and the session carries on
    assert driver.send("input_audio_buffer.append", audio=b64(pcm(tone(0.3)))) == []
    big = {"role": "user", "content": [{"type": "input_audio", "audio": b64(pcm(tone(0.8)))}]}
    error = driver.error(json.dumps({"type": "conversation.item.create", "item": big}))
    assert (error["code"], error["param"]) == ("conversation_audio_full", "item")
    assert len(driver.session.conversation.items) == 5
    assert driver.session.conversation.items[-1].samples is not None
    driver.send("input_audio_buffer.clear")
    driver.send("response.create")
    assert "canned words" in json.dumps(driver.run())  # the last item's audio was kept for the echo


def test_commit_needs_100ms_and_takes_100ms() -> None:
    driver = Driver()
    driver.send("input_audio_buffer.append", audio=b64(bytes(4700)))
    assert driver.send("input_audio_buffer.commit")[0]["error"]["code"] == "input_audio_buffer_commit_empty"
    driver.send("input_audio_buffer.append", audio=b64(bytes(100)))
    events = driver.send("input_audio_buffer.commit")
    assert names(events) == [
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
    ]
    assert events[1]["item"]["id"] == events[0]["item_id"]


# -- responses ------------------------------------------------------------------------------------


@pytest.mark.parametrize("dialect", ["ga", "preview"])
def test_response_has_the_full_event_sequence_and_reads_the_last_user_message(dialect: str) -> None:
    text = "Good morning. The train leaves at nine."
    driver = Driver(dialect)
    driver.send("conversation.item.create", item=user_text("Not this."))
    driver.send("conversation.item.create", item=user_text(text))
    driver.send("response.create")
    events = driver.run()
    prefix = "response.output_audio" if dialect == "ga" else "response.audio"
    order = [
        "response.created",
        "response.output_item.added",
        "conversation.item.added" if dialect == "ga" else "conversation.item.created",
        "response.content_part.added",
        f"{prefix}.delta",
        f"{prefix}_transcript.delta",
        f"{prefix}.done",
        f"{prefix}_transcript.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.done",
    ]
    seen = names(events)
    assert [seen.index(name) for name in order] == sorted(seen.index(name) for name in order)
    assert seen.count(f"{prefix}_transcript.delta") == 2
    done = events[-1]["response"]
    assert done["status"] == "completed"
    assert done["output"][0]["content"][0]["transcript"] == text
    assert done["usage"]["output_tokens"] == 7
    audio = b"".join(
        __import__("base64").b64decode(e["delta"]) for e in events if e["type"] == f"{prefix}.delta"
    )
    assert len(audio) == 2 * int(WORD_SECONDS * 2 * 24000) + 2 * int(WORD_SECONDS * 5 * 24000)


def test_a_response_is_voiced_one_sentence_per_step() -> None:
    driver = Driver()
    driver.send("conversation.item.create", item=user_text("One. Two. Three."))
    driver.send("response.create")
    driver.step()
    steps = [names(driver.step()) for _ in range(3)]
    assert all(step.count("response.output_audio_transcript.delta") == 1 for step in steps)


def test_cancel_between_sentences_ends_the_response_as_cancelled(fake_models: FakeModels) -> None:
    driver = Driver(models=fake_models)
    driver.send("conversation.item.create", item=user_text("One. Two. Three. Four."))
    driver.send("response.create")
    driver.step()
    driver.step()
    assert driver.send("response.create")[0]["error"]["code"] == "conversation_already_has_active_response"
    assert driver.send("response.cancel") == []
    events = driver.run()
    done = events[-1]["response"]
    assert done["status"] == "cancelled"
    assert done["status_details"] == {"type": "cancelled", "reason": "client_cancelled"}
    assert done["output"][0]["status"] == "incomplete"
    assert done["output"][0]["content"][0]["transcript"] == "One."
    assert fake_models.synthesis_closed == 1
    driver.send("response.create")
    assert driver.run()[-1]["response"]["status"] == "completed"


def test_a_new_response_may_follow_response_done_at_once() -> None:
    driver = Driver()
    driver.send("conversation.item.create", item=user_text("Hello."))
    driver.send("response.create")
    while driver.session.busy and "response.done" not in names(driver.step()):
        pass
    assert driver.send("response.create") == []


@pytest.mark.parametrize("fail", ["synthesize", "transcribe"])
def test_a_model_failure_fails_the_response_and_the_session_stays_usable(fake_models, fail: str) -> None:
    driver = Driver(models=fake_models)
    driver.send("input_audio_buffer.append", audio=b64(pcm(tone(0.5))))
    driver.send("input_audio_buffer.commit")
    fake_models.fail = fail
    driver.send("response.create")
    done = driver.run()[-1]["response"]
    assert done["status"] == "failed"
    assert done["status_details"]["error"]["type"] == "server_error"
    fake_models.fail = None
    driver.send("response.create")
    done = driver.run()[-1]["response"]
    assert done["status"] == "completed"
    assert done["output"][0]["content"][0]["transcript"] == "canned words"


def test_a_transcription_failure_is_a_failed_event(fake_models) -> None:
    driver = Driver(models=fake_models)
    driver.send("session.update", session={"type": "realtime", "audio": {"input": {"transcription": {}}}})
    fake_models.fail = "transcribe"
    driver.send("input_audio_buffer.append", audio=b64(pcm(tone(0.5))))
    driver.send("input_audio_buffer.commit")
    assert names(driver.run()) == ["conversation.item.input_audio_transcription.failed"]


def test_closing_the_session_mid_response_stops_the_model_quietly(fake_models) -> None:
    driver = Driver(models=fake_models)
    driver.send("conversation.item.create", item=user_text("One. Two. Three."))
    driver.send("response.create")
    driver.step()
    driver.step()
    driver.session.close()
    assert not driver.session.busy
    assert fake_models.synthesis_closed == 1


@pytest.mark.parametrize("dialect", ["ga", "preview"])
def test_text_only_response(dialect: str) -> None:
    driver = Driver(dialect)
    update = (
        {"type": "realtime", "output_modalities": ["text"]} if dialect == "ga" else {"modalities": ["text"]}
    )
    driver.send("session.update", session=update)
    driver.send("conversation.item.create", item=user_text("Just text."))
    driver.send("response.create")
    events = driver.run()
    delta = "response.output_text.delta" if dialect == "ga" else "response.text.delta"
    assert [e["delta"] for e in events if e["type"] == delta] == ["Just text."]
    assert not any("audio" in name for name in names(events))


def test_out_of_band_response_reads_its_own_input() -> None:
    driver = Driver()
    driver.send("conversation.item.create", item=user_text("Not this one."))
    driver.send("response.create", response={"conversation": "none", "input": [user_text("This one.")]})
    events = driver.run()
    assert events[-1]["response"]["output"][0]["content"][0]["transcript"] == "This one."
    assert "conversation.item.added" not in names(events)
    assert len(driver.session.conversation.items) == 1


def test_per_response_format_and_voice() -> None:
    driver = Driver()
    driver.send("conversation.item.create", item=user_text("Two words."))
    output = {"format": {"type": "audio/pcmu"}, "voice": "marin"}
    driver.send("response.create", response={"audio": {"output": output}})
    audio = b"".join(
        __import__("base64").b64decode(e["delta"]) for e in driver.run() if e["type"].endswith("audio.delta")
    )
    assert len(audio) == int(2 * WORD_SECONDS * 8000)


def test_item_create_and_delete() -> None:
    driver = Driver("preview")
    first = driver.send("conversation.item.create", item=user_text("First."))[0]["item"]
    assert first["content"] == [{"type": "input_text", "text": "First."}]
    assert driver.send("conversation.item.delete", item_id=first["id"])[0]["item_id"] == first["id"]
    assert not driver.session.conversation.items


# -- session configuration: speed, instructions ----------------------------------------------------


@pytest.mark.parametrize("dialect", ["ga", "preview"])
def test_speed_is_validated_echoed_and_given_to_the_voice(fake_models, dialect: str) -> None:
    driver = Driver(dialect, fake_models)
    update = {"audio": {"output": {"speed": 1.5}}} if dialect == "ga" else {"speed": 1.5}
    session = driver.send("session.update", session=update)[0]["session"]
    assert (session["audio"]["output"]["speed"] if dialect == "ga" else session["speed"]) == 1.5
    driver.send("conversation.item.create", item=user_text("Three words here."))
    driver.send("response.create")
    events = driver.run()
    assert fake_models.speeds == [1.5]
    audio = b"".join(
        __import__("base64").b64decode(e["delta"]) for e in events if e["type"].endswith("audio.delta")
    )
    assert len(audio) == 2 * int(3 * WORD_SECONDS / 1.5 * 24000)
    low = {"audio": {"output": {"speed": 0.25}}} if dialect == "ga" else {"speed": 0.25}
    assert names(driver.send("session.update", session=low)) == ["session.updated"]


def test_instructions_are_accepted_and_ignored_by_the_echo_model() -> None:
    driver = Driver()
    session = driver.send("session.update", session={"instructions": "Answer in French."})[0]["session"]
    assert session["instructions"] == "Answer in French."
    driver.send("conversation.item.create", item=user_text("Read me."))
    driver.send("response.create", response={"instructions": "Shout."})
    assert driver.run()[-1]["response"]["output"][0]["content"][0]["transcript"] == "Read me."


# -- audio input -------------------------------------------------------------------------------------


def test_input_audio_content_is_decoded_in_the_session_input_format(fake_models) -> None:
    driver = Driver(models=fake_models)
    driver.send("session.update", session={"audio": {"input": {"format": {"type": "audio/pcmu"}}}})
    one_second = encode_wire(tone(1.0, 8000), G711_ULAW)
    item = {"type": "message", "role": "user", "content": [{"type": "input_audio", "audio": b64(one_second)}]}
    driver.send("conversation.item.create", item=item)
    driver.send("response.create")
    assert driver.run()[-1]["response"]["status"] == "completed"
    assert abs(fake_models.heard[0] - 16000) < 100


@pytest.mark.parametrize("dialect", ["ga", "preview"])
def test_input_transcription_deltas_then_completed(fake_models, dialect: str) -> None:
    fake_models.transcript = "three short words"
    driver = Driver(dialect, fake_models)
    update = (
        {"audio": {"input": {"transcription": {"model": "whisper-1", "language": "en"}}}}
        if dialect == "ga"
        else {"input_audio_transcription": {"model": "whisper-1"}}
    )
    driver.send("session.update", session=update)
    driver.send("input_audio_buffer.append", audio=b64(pcm(tone(1.5))))
    committed = driver.send("input_audio_buffer.commit")[0]
    events = driver.run()
    deltas = [e["delta"] for e in events if e["type"].endswith("transcription.delta")]
    assert "".join(deltas) == "three short words" and len(deltas) == 3
    completed = events[-1]
    assert completed["type"] == "conversation.item.input_audio_transcription.completed"
    assert completed["item_id"] == committed["item_id"]
    assert completed["usage"] == {"type": "duration", "seconds": pytest.approx(1.5, abs=0.05)}


# -- server VAD ----------------------------------------------------------------------------------------


def stream(driver: Driver, audio: np.ndarray, chunk_seconds: float = 0.1) -> list[dict]:
    """Append ``audio`` in chunks, letting queued work run between appends as the server does."""
    data, step = pcm(audio), int(chunk_seconds * 24000) * 2
    events: list[dict] = []
    for start in range(0, len(data), step):
        events += driver.send("input_audio_buffer.append", audio=b64(data[start : start + step]))
        while driver.session.busy:
            events += driver.step()
    return events


VAD_STREAMING = {
    "type": "realtime",
    "audio": {
        "input": {
            "transcription": {"model": "whisper-1"},
            "turn_detection": {
                "type": "server_vad",
                "prefix_padding_ms": 300,
                "silence_duration_ms": 500,
                "create_response": False,
            },
        }
    },
}


def test_server_vad_streaming_recognition_reports_each_utterance(fake_models) -> None:
    driver = Driver(models=fake_models, vad=True)
    driver.send("session.update", session=VAD_STREAMING)
    audio = np.concatenate([silence(1.0), tone(1.0), silence(1.0), tone(0.5), silence(2.0)])
    events = stream(driver, audio)
    turn = [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
        "conversation.item.input_audio_transcription.delta",
        "conversation.item.input_audio_transcription.delta",
        "conversation.item.input_audio_transcription.completed",
    ]
    assert names(events) == turn + turn
    started = [e["audio_start_ms"] for e in events if e["type"].endswith("speech_started")]
    stopped = [e["audio_end_ms"] for e in events if e["type"].endswith("speech_stopped")]
    assert started == [pytest.approx(700, abs=40), pytest.approx(2700, abs=40)]
    assert stopped == [pytest.approx(2500, abs=40), pytest.approx(4000, abs=40)]
    # each committed turn holds the padding, the speech and the silence that ended it
    assert fake_models.heard == [pytest.approx(1800 * 16, abs=1600), pytest.approx(1300 * 16, abs=1600)]
    items = {e["item_id"] for e in events if e["type"].endswith("speech_started")}
    assert items == {e["item_id"] for e in events if e["type"].endswith("committed")}
    assert all(item.samples is None for item in driver.session.conversation.items)  # audio let go


def test_a_final_commit_of_silence_under_vad_is_an_empty_transcript(fake_models) -> None:
    driver = Driver(models=fake_models, vad=True)
    driver.send("session.update", session=VAD_STREAMING)
    stream(driver, np.concatenate([tone(0.5), silence(1.0)]))
    assert len(fake_models.heard) == 1
    assert names(driver.send("input_audio_buffer.commit"))[0] == "input_audio_buffer.committed"
    assert driver.run()[-1]["transcript"] == ""
    assert len(fake_models.heard) == 1


def test_server_vad_with_create_response_answers_each_turn(fake_models) -> None:
    driver = Driver(models=fake_models, vad=True)
    driver.send("session.update", session={"audio": {"input": {"transcription": {}}}})
    events = stream(driver, np.concatenate([silence(0.5), tone(1.0), silence(1.0)]))
    assert names(events).count("response.done") == 1
    assert events[-1]["response"]["output"][0]["content"][0]["transcript"] == "canned words"
    assert fake_models.heard and len(fake_models.heard) == 1


def test_speech_interrupts_the_active_response(fake_models) -> None:
    driver = Driver(models=fake_models, vad=True)
    driver.send("conversation.item.create", item=user_text("One. Two. Three."))
    driver.send("response.create")
    driver.step()
    events = driver.send("input_audio_buffer.append", audio=b64(pcm(tone(0.2))))
    assert names(events) == ["input_audio_buffer.speech_started"]
    assert driver.run()[-1]["response"]["status"] == "cancelled"


def test_turn_detection_is_linear_and_drops_leading_silence(fake_models) -> None:
    driver = Driver(models=fake_models, vad=True)
    chunk = b64(pcm(silence(0.1)))
    for _ in range(600):  # a minute of silence
        assert driver.send("input_audio_buffer.append", audio=chunk) == []
    vad = fake_models.vads[-1]
    assert vad.frames == pytest.approx(60 * 16000 // 512, abs=2)  # each frame examined once
    assert len(driver.session.buffer.samples()) <= (300 + 64) * 16  # the padding, and a frame
    events = stream(driver, np.concatenate([tone(0.5), silence(0.6)]))
    assert names(events)[:2] == ["input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped"]
    assert events[0]["audio_start_ms"] == pytest.approx(60_000 - 300, abs=40)


def test_a_long_utterance_is_not_joined_again_on_every_append(fake_models, monkeypatch) -> None:
    """Each append reads only its new frames, so a long turn costs time linear in its length."""
    driver = Driver(models=fake_models, vad=True)
    driver.send("session.update", session=VAD_STREAMING)
    joins: list[int] = []
    join = InputBuffer.samples
    monkeypatch.setattr(InputBuffer, "samples", lambda buffer: joins.append(1) or join(buffer))
    events = stream(driver, np.concatenate([tone(30.0), silence(1.0)]))  # 310 appends
    assert names(events)[:2] == ["input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped"]
    # the 30.5 s turn (speech and 500 ms of silence) is over one window: heard as phrases
    assert sum(fake_models.heard) == pytest.approx(30.5 * 16000, abs=1600)
    assert len(joins) <= 3  # when speech starts (padding kept) and when the turn is taken


def test_manual_commit_still_works_with_vad_and_resets_it(fake_models) -> None:
    driver = Driver(models=fake_models, vad=True)
    driver.send(
        "session.update", session={"audio": {"input": {"turn_detection": {"create_response": False}}}}
    )
    events = driver.send("input_audio_buffer.append", audio=b64(pcm(tone(0.3))))
    assert names(events) == ["input_audio_buffer.speech_started"]
    assert names(driver.send("input_audio_buffer.commit"))[0] == "input_audio_buffer.committed"
    assert driver.send("input_audio_buffer.append", audio=b64(pcm(silence(1.0)))) == []


# -- the fuzz: random JSON never raises, always gets answered ---------------------------------------

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

TYPES = [
    "session.update",
    "input_audio_buffer.append",
    "input_audio_buffer.commit",
    "input_audio_buffer.clear",
    "conversation.item.create",
    "conversation.item.delete",
    "response.create",
    "response.cancel",
]
KEYS = [
    "session",
    "audio",
    "input",
    "output",
    "format",
    "type",
    "rate",
    "voice",
    "speed",
    "instructions",
    "output_modalities",
    "modalities",
    "turn_detection",
    "transcription",
    "silence_duration_ms",
    "threshold",
    "prefix_padding_ms",
    "create_response",
    "item",
    "role",
    "content",
    "text",
    "item_id",
    "response",
    "conversation",
    "input_audio_format",
    "id",
    "language",
    "event_id",
]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True),
    st.text(max_size=12),
    st.sampled_from(["audio/pcm", "audio/pcmu", "g711_alaw", "user", "alloy", "AAAA", "AAAAAAAA", "none"]),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=5),
    max_leaves=20,
)
EVENTS = st.builds(
    lambda t, body: {**body, "type": t},
    st.sampled_from(TYPES),
    st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=4),
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(EVENTS, VALUES), min_size=1, max_size=6))
def test_random_client_events_never_break_the_session(messages) -> None:
    driver = Driver(vad=True)
    for message in messages:
        events = driver.raw(json.dumps(message))
        assert not [e for e in events if e["type"] == "error" and e["error"]["type"] == "server_error"]
        if not isinstance(message, dict) or message.get("type") not in TYPES:
            assert names(events) == ["error"]
        driver.run()
    assert names(driver.send("input_audio_buffer.clear")) == ["input_audio_buffer.cleared"]
