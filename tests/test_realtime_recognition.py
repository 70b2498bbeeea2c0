"""The streaming recognition machine, fed scripted server-VAD event sequences: no sockets."""

from __future__ import annotations

import json
from typing import Any

import pytest
from openai_types import validate_client_event

from speech_realtime.errors import UpstreamError
from speech_realtime.options import (
    Ended,
    Hypothesis,
    Phrase,
    Segmentation,
    SpeechStarted,
    SpeechStopped,
    Word,
)
from speech_realtime.realtime.events import parse_server_event
from speech_realtime.realtime.recognition import VadTranscription

SECOND = bytes(48000)  # one second of PCM16 24 kHz


def event(type_: str, **fields: Any):
    return parse_server_event(json.dumps({"type": type_, **fields}))


def machine(dialect: str = "ga") -> VadTranscription:
    return VadTranscription(dialect, transcribe_model="whisper-1", language="en", prompt="Names.")


def completed(item_id: str, transcript: str):
    return event(
        "conversation.item.input_audio_transcription.completed",
        item_id=item_id,
        content_index=0,
        transcript=transcript,
        usage={"type": "duration", "seconds": 1},
    )


@pytest.mark.parametrize("dialect", ["ga", "preview"])
def test_client_events_validate_against_the_openai_unions(dialect: str) -> None:
    stream = machine(dialect)
    sent = [*stream.start(), *stream.push(SECOND), *stream.finish()]
    assert [e["type"] for e in sent] == [
        "session.update",
        "input_audio_buffer.append",
        "input_audio_buffer.commit",
    ]
    for client_event in sent:
        validate_client_event(dialect, client_event)


def test_one_utterance_gives_started_hypotheses_stopped_phrase_and_after_finish_ended() -> None:
    stream = machine()
    stream.start()
    stream.push(SECOND * 3)
    stream.feed(event("input_audio_buffer.speech_started", audio_start_ms=500, item_id="i1"))
    stream.feed(event("conversation.item.input_audio_transcription.delta", item_id="i1", delta="Hello "))
    stream.feed(event("input_audio_buffer.speech_stopped", audio_end_ms=2500, item_id="i1"))
    stream.feed(event("input_audio_buffer.committed", item_id="i1"))
    stream.feed(event("conversation.item.input_audio_transcription.delta", item_id="i1", delta="there"))
    stream.feed(completed("i1", "Hello there"))
    assert stream.take_events() == [
        SpeechStarted(0.5),
        Hypothesis("Hello", 0.5, 2.5),
        SpeechStopped(2.5),
        Hypothesis("Hello there", 0.5, 2.0),
        Phrase("Hello there", 0.5, 2.0, (Word("Hello", 0.5, 1.5), Word("there", 1.5, 2.5))),
    ]
    assert not stream.done
    assert [e["type"] for e in stream.finish()] == ["input_audio_buffer.commit"]
    stream.feed(event("input_audio_buffer.committed", item_id="rest"))
    stream.feed(completed("rest", ""))  # the trailing silence transcribes to nothing
    assert stream.take_events() == [Ended()]
    assert stream.done


def test_finish_waits_for_transcriptions_still_pending() -> None:
    stream = machine()
    stream.push(SECOND * 2)
    stream.feed(event("input_audio_buffer.speech_started", audio_start_ms=100, item_id="i1"))
    stream.feed(event("input_audio_buffer.speech_stopped", audio_end_ms=1950, item_id="i1"))
    stream.feed(event("input_audio_buffer.committed", item_id="i1"))
    assert stream.finish() == []  # 50 ms left: under the minimum
    assert Ended() not in stream.take_events()
    stream.feed(completed("i1", "Late words"))
    assert stream.take_events() == [
        Phrase("Late words", 0.1, 1.85, (Word("Late", 0.1, 0.922), Word("words", 0.922, 1.95))),
        Ended(),
    ]
    assert stream.done


def test_finish_commits_an_utterance_in_progress_which_becomes_the_last_phrase() -> None:
    stream = machine()
    stream.push(SECOND * 2)
    stream.feed(event("input_audio_buffer.speech_started", audio_start_ms=1000, item_id="i1"))
    assert [e["type"] for e in stream.finish()] == ["input_audio_buffer.commit"]
    stream.feed(event("input_audio_buffer.committed", item_id="i1"))
    stream.feed(completed("i1", "Cut short"))
    events = stream.take_events()
    assert events[-2] == Phrase("Cut short", 1.0, 1.0, (Word("Cut", 1.0, 1.375), Word("short", 1.375, 2.0)))
    assert events[-1] == Ended()


def test_a_clip_the_vad_never_noticed_is_committed_whole() -> None:
    stream = machine()
    stream.push(bytes(24000))
    assert [e["type"] for e in stream.finish()] == ["input_audio_buffer.commit"]
    stream.feed(event("input_audio_buffer.committed", item_id="x"))
    stream.feed(completed("x", "Yes"))
    assert stream.take_events() == [Phrase("Yes", 0.0, 0.5, (Word("Yes", 0.0, 0.5),)), Ended()]


def test_too_little_audio_is_no_phrase_and_no_commit() -> None:
    stream = machine()
    stream.push(bytes(2400))  # 50 ms
    assert stream.finish() == []
    assert stream.take_events() == [Ended()]


def test_a_commit_the_server_finds_empty_is_no_phrase() -> None:
    stream = machine()
    stream.push(SECOND)
    stream.finish()
    stream.feed(event("error", error={"code": "input_audio_buffer_commit_empty", "message": "empty"}))
    assert stream.take_events() == [Ended()]


def test_an_empty_transcript_is_no_phrase() -> None:
    stream = machine()
    stream.push(SECOND)
    stream.feed(event("input_audio_buffer.speech_started", audio_start_ms=0, item_id="i1"))
    stream.feed(event("input_audio_buffer.speech_stopped", audio_end_ms=900, item_id="i1"))
    stream.feed(completed("i1", "  "))
    assert [type(e) for e in stream.take_events()] == [SpeechStarted, SpeechStopped]


def test_failures_raise() -> None:
    stream = machine()
    stream.feed(event("input_audio_buffer.speech_started", audio_start_ms=0, item_id="i1"))
    with pytest.raises(UpstreamError, match="could not transcribe"):
        stream.feed(
            event(
                "conversation.item.input_audio_transcription.failed", item_id="i1", error={"message": "noise"}
            )
        )
    with pytest.raises(UpstreamError, match="upstream code: server_error"):
        machine().feed(event("error", error={"code": "server_error", "message": "boom"}))


def test_no_audio_after_finish() -> None:
    stream = machine()
    stream.finish()
    with pytest.raises(ValueError):
        stream.push(SECOND)


def forced(max_phrase_ms: int = 20_000) -> VadTranscription:
    return VadTranscription(
        "ga", transcribe_model="whisper-1", segmentation=Segmentation(max_phrase_ms=max_phrase_ms)
    )


@pytest.mark.parametrize("dialect", ["ga", "preview"])
def test_the_segmentation_goes_into_the_session_update(dialect: str) -> None:
    stream = VadTranscription(
        dialect, transcribe_model="whisper-1", segmentation=Segmentation(silence_ms=2000)
    )
    update = stream.start()[0]
    validate_client_event(dialect, update)
    session = update["session"]
    detection = session["audio"]["input"]["turn_detection"] if dialect == "ga" else session["turn_detection"]
    assert detection["silence_duration_ms"] == 2000


def test_a_phrase_without_a_pause_is_committed_at_the_maximum_phrase_time() -> None:
    stream = forced()
    stream.push(SECOND)
    stream.feed(event("input_audio_buffer.speech_started", audio_start_ms=1000, item_id="i1"))
    sent = [e["type"] for _ in range(19) for e in stream.push(SECOND)]
    assert "input_audio_buffer.commit" not in sent  # 19 s of speech: not yet
    assert [e["type"] for e in stream.push(SECOND)][-1] == "input_audio_buffer.commit"  # 20 s
    stream.feed(event("input_audio_buffer.committed", item_id="i1"))
    stream.push(SECOND * 5)  # the speaker goes on; more audio arrives before the transcript
    stream.feed(completed("i1", "A very long sentence"))
    phrase = stream.take_events()[-1]
    assert isinstance(phrase, Phrase) and (phrase.offset, phrase.duration) == (1.0, 20.0)
    # the VAD ends the rest at the next pause: the second phrase starts where the first was cut
    stream.feed(event("input_audio_buffer.speech_stopped", audio_end_ms=25_500, item_id="i2"))
    stream.feed(event("input_audio_buffer.committed", item_id="i2"))
    stream.feed(completed("i2", "that goes on"))
    rest = stream.take_events()[-1]
    assert isinstance(rest, Phrase) and (rest.offset, rest.duration) == (21.0, 4.5)


def test_a_speaker_who_never_pauses_is_cut_every_maximum_phrase_time() -> None:
    stream = forced()
    stream.feed(event("input_audio_buffer.speech_started", audio_start_ms=0, item_id="i1"))
    commits = [
        second
        for second in range(1, 61)
        for e in stream.push(SECOND)
        if e["type"] == "input_audio_buffer.commit"
    ]
    assert commits == [20, 40, 60]


def test_a_forced_commit_the_server_finds_empty_is_no_phrase_and_finish_still_ends() -> None:
    stream = forced()
    stream.feed(event("input_audio_buffer.speech_started", audio_start_ms=0, item_id="i1"))
    for _ in range(20):
        stream.push(SECOND)
    # the VAD had already stopped the speech: the forced commit found nothing left
    stream.feed(event("input_audio_buffer.speech_stopped", audio_end_ms=19_900, item_id="i1"))
    stream.feed(event("input_audio_buffer.committed", item_id="i1"))
    stream.feed(event("error", error={"code": "input_audio_buffer_commit_empty", "message": "empty"}))
    stream.feed(completed("i1", "Everything"))
    assert stream.finish() == []  # 100 ms left after the cut at 20 s: nothing to commit
    events = stream.take_events()
    assert events[-2] == Phrase("Everything", 0.0, 19.9, (Word("Everything", 0.0, 19.9),))
    assert events[-1] == Ended()


def test_without_a_maximum_phrase_time_the_client_never_commits_before_finish() -> None:
    stream = machine()
    stream.feed(event("input_audio_buffer.speech_started", audio_start_ms=0, item_id="i1"))
    assert all(e["type"] == "input_audio_buffer.append" for _ in range(90) for e in stream.push(SECOND))
