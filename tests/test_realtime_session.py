"""The STT and TTS state machines, fed scripted event sequences: no sockets."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from speech_realtime.errors import ContentFiltered, RateLimited, UpstreamError
from speech_realtime.options import Segment, Word, WordTiming
from speech_realtime.realtime.events import APPEND_CHUNK_B64, parse_server_event
from speech_realtime.realtime.session import Check, Synthesis, Transcription

AUDIO = bytes(4800)


def event(type_: str, **fields: Any):
    return parse_server_event(json.dumps({"type": type_, **fields}))


def delta(audio: bytes, name: str = "response.output_audio.delta"):
    return event(name, delta=base64.b64encode(audio).decode())


def done(status: str = "completed", **details: Any):
    response: dict[str, Any] = {"status": status}
    if details:
        response["status_details"] = details
    return event("response.done", response=response)


def transcription() -> Transcription:
    return Transcription("ga", AUDIO, transcribe_model="whisper-1")


def test_stt_pipelines_update_appends_and_commit_without_response_create() -> None:
    sent = [e["type"] for e in transcription().start()]
    assert sent == ["session.update", "input_audio_buffer.append", "input_audio_buffer.commit"]


class _SlicedAudio(bytes):
    """Wire audio that counts the chunks taken from it (each append is one slice)."""

    slices = 0

    def __getitem__(self, key: Any) -> Any:
        self.slices += 1
        return super().__getitem__(key)


def test_stt_builds_each_append_only_when_it_is_sent() -> None:
    # 600 s of wire audio must never exist as base64 all at once: one chunk at a time.
    audio = _SlicedAudio(bytes(5 * APPEND_CHUNK_B64))
    events = Transcription("ga", audio, transcribe_model="whisper-1").start()
    assert next(events)["type"] == "session.update"
    assert audio.slices == 0
    first = next(events)
    assert audio.slices == 1 and len(first["audio"]) <= APPEND_CHUNK_B64
    rest = list(events)
    assert rest[-1]["type"] == "input_audio_buffer.commit"
    sent = [first, *rest[:-1]]
    assert audio.slices == len(sent) > 5
    assert b"".join(base64.b64decode(e["audio"]) for e in sent) == audio


def test_stt_completes_on_the_transcription_of_the_committed_item() -> None:
    stt = transcription()
    stt.start()
    assert stt.feed(event("session.created")) == []
    stt.feed(event("session.updated"))
    stt.feed(event("input_audio_buffer.committed", item_id="item_1"))
    stt.feed(event("conversation.item.input_audio_transcription.completed", item_id="other", transcript="no"))
    assert not stt.done
    stt.feed(
        event(
            "conversation.item.input_audio_transcription.completed",
            item_id="item_1",
            transcript=" Hello there. ",
            usage={"type": "duration", "seconds": 0.1},
        )
    )
    assert stt.done
    assert stt.text == "Hello there."
    assert stt.usage == {"type": "duration", "seconds": 0.1}


def test_stt_transcription_failed_is_an_upstream_error() -> None:
    stt = transcription()
    stt.feed(event("input_audio_buffer.committed", item_id="i"))
    with pytest.raises(UpstreamError, match="could not transcribe"):
        stt.feed(
            event(
                "conversation.item.input_audio_transcription.failed",
                item_id="i",
                error={"message": "unintelligible"},
            )
        )


def test_stt_error_event_raises() -> None:
    with pytest.raises(RateLimited):
        transcription().feed(event("error", error={"code": "rate_limit_exceeded", "message": "slow"}))


def test_tts_pipelines_update_item_and_response() -> None:
    tts = Synthesis("preview", "Read this.", "alloy")
    sent = [e["type"] for e in tts.start()]
    assert sent == ["session.update", "conversation.item.create", "response.create"]


@pytest.mark.parametrize(
    "dialect_names",
    [
        ("response.output_audio.delta", "response.output_audio_transcript.done"),
        ("response.audio.delta", "response.audio_transcript.done"),
    ],
)
def test_tts_collects_every_delta_and_succeeds_only_on_completed(dialect_names: tuple[str, str]) -> None:
    audio_name, transcript_name = dialect_names
    tts = Synthesis("ga", "Read this aloud.", "alloy")
    tts.start()
    for chunk in (b"\x01\x02", b"\x03\x04", b"\x05\x06"):
        tts.feed(delta(chunk, audio_name))
    tts.feed(event(transcript_name, transcript="Read this aloud."))
    assert not tts.done
    assert tts.feed(done()) == []
    assert tts.done
    assert tts.take_audio() == b"\x01\x02\x03\x04\x05\x06"
    assert tts.verbatim is True
    assert tts.attempts == 1


def test_tts_transcript_from_deltas_when_no_done_event() -> None:
    tts = Synthesis("ga", "one two three", "alloy")
    for word in ("one ", "two ", "three"):
        tts.feed(event("response.output_audio_transcript.delta", delta=word))
    tts.feed(done())
    assert tts.transcript == "one two three"
    assert tts.verbatim is True


def test_tts_retries_once_out_of_band_when_the_model_answers_instead() -> None:
    tts = Synthesis("ga", "The meeting starts at noon.", "alloy")
    tts.feed(delta(b"answer"))
    tts.feed(event("response.output_audio_transcript.done", transcript="Great, see you there!"))
    retry = tts.feed(done())
    assert [e["type"] for e in retry] == ["response.create"]
    assert retry[0]["response"]["conversation"] == "none"
    assert retry[0]["response"]["input"][0]["content"][0]["text"] == "The meeting starts at noon."
    assert not tts.done
    tts.feed(delta(b"reading"))
    tts.feed(event("response.output_audio_transcript.done", transcript="The meeting starts at noon."))
    tts.feed(done())
    assert tts.done
    assert tts.attempts == 2
    assert tts.take_audio() == b"reading"
    assert tts.verbatim is True
    assert tts.first_transcript == "Great, see you there!"


def test_tts_reports_a_second_mismatch_instead_of_looping() -> None:
    tts = Synthesis("ga", "The meeting starts at noon.", "alloy")
    for _ in range(2):
        tts.feed(event("response.output_audio_transcript.done", transcript="Sure thing!"))
        tts.feed(done())
    assert tts.done
    assert tts.attempts == 2
    assert tts.verbatim is False


def test_streaming_tts_never_retries() -> None:
    tts = Synthesis("ga", "The meeting starts at noon.", "alloy", retry=False)
    tts.feed(event("response.output_audio_transcript.done", transcript="Sure thing!"))
    assert tts.feed(done()) == []
    assert tts.done
    assert tts.verbatim is False


def test_tts_without_transcript_is_not_judged() -> None:
    tts = Synthesis("ga", "Hello.", "alloy")
    tts.feed(done())
    assert tts.done
    assert tts.verbatim is None


@pytest.mark.parametrize(
    ("response", "error"),
    [
        (done("incomplete", reason="content_filter"), ContentFiltered),
        (done("incomplete", reason="max_output_tokens"), UpstreamError),
        (done("failed", error={"message": "model failed"}), UpstreamError),
        (done("cancelled"), UpstreamError),
        (event("response.done"), UpstreamError),
    ],
)
def test_tts_anything_but_completed_is_an_error(response, error) -> None:
    tts = Synthesis("ga", "Hello.", "alloy")
    tts.feed(delta(b"partial"))
    with pytest.raises(error):
        tts.feed(response)


def test_take_audio_drains_for_streaming() -> None:
    tts = Synthesis("ga", "Hello.", "alloy", retry=False)
    tts.feed(delta(b"ab"))
    assert tts.take_audio() == b"ab"
    tts.feed(delta(b"cd"))
    assert tts.take_audio() == b"cd"
    assert tts.take_audio() == b""


def test_take_chunks_hands_over_the_deltas_as_they_came() -> None:
    tts = Synthesis("ga", "Hello.", "alloy")
    tts.feed(delta(b"ab"))
    tts.feed(delta(b"cde"))
    assert tts.take_chunks() == [b"ab", b"cde"]
    assert tts.take_chunks() == []


def test_stt_result_is_one_segment_over_the_audio_with_words_spread_by_length() -> None:
    stt = Transcription("ga", bytes(48000), transcribe_model="whisper-1", prompt="Expect names.")
    update = next(stt.start())
    assert update["session"]["audio"]["input"]["transcription"]["prompt"] == "Expect names."
    stt.feed(event("input_audio_buffer.committed", item_id="i"))
    stt.feed(
        event("conversation.item.input_audio_transcription.completed", item_id="i", transcript="ab abcd")
    )
    (segment,) = stt.segments
    assert segment == Segment("ab abcd", 0.0, 1.0, (Word("ab", 0.0, 0.333), Word("abcd", 0.333, 1.0)))


def test_stt_segment_and_words_never_end_after_the_audio() -> None:
    stt = Transcription("ga", bytes(2 * 135545), transcribe_model="whisper-1")  # 5.6477083 s
    stt.start()
    stt.feed(event("input_audio_buffer.committed", item_id="i"))
    stt.feed(
        event("conversation.item.input_audio_transcription.completed", item_id="i", transcript="a bc def")
    )
    (segment,) = stt.segments
    duration = 135545 / 24000
    assert segment.end == duration
    assert all(0 <= word.start <= word.end <= duration for word in segment.words)


def test_tts_word_timings_follow_the_audio_position_of_transcript_deltas() -> None:
    tts = Synthesis("ga", "Hello there big world", "alloy", retry=False)
    tts.feed(delta(bytes(24000)))  # 0.5 s of PCM16 24 kHz
    tts.feed(event("response.output_audio_transcript.delta", delta="Hello the"))
    assert tts.take_words() == [WordTiming("Hello", 0.0, 0.5)]
    tts.feed(event("response.output_audio_transcript.delta", delta="re "))  # no new audio: held
    assert tts.take_words() == []
    tts.feed(delta(bytes(48000)))
    tts.feed(event("response.output_audio_transcript.delta", delta="big "))
    assert tts.take_words() == [WordTiming("there", 0.5, 0.625), WordTiming("big", 1.125, 0.375)]
    tts.feed(event("response.output_audio_transcript.delta", delta="world"))
    tts.feed(delta(bytes(24000)))
    tts.feed(done())
    assert tts.take_words() == [WordTiming("world", 1.5, 0.5)]


def test_tts_session_carries_speed_and_style() -> None:
    update = Synthesis("ga", "Hi.", "alloy", speed=0.5, instructions="Slowly.").start()[0]["session"]
    assert update["audio"]["output"]["speed"] == 0.5
    assert update["instructions"].endswith("Slowly.")


def test_check_is_a_turn_that_ends_on_session_updated() -> None:
    clock = iter([1.0, 1.25])
    check = Check("ga", clock=lambda: next(clock))
    assert [e["type"] for e in check.start()] == ["session.update"]
    check.feed(event("session.created"))
    assert not check.done
    check.feed(event("session.updated"))
    assert check.done and check.session_created
    assert (check.connected_at, check.finished_at) == (1.0, 1.25)
    with pytest.raises(UpstreamError):
        Check("ga").feed(event("error", error={"code": "bad"}))
