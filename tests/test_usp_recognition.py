"""The USP recognition state machine with scripted client messages and service events."""

from __future__ import annotations

import json
import struct

import pytest

from speech_realtime.errors import BadRequest, RateLimited, UpstreamAuth, UpstreamError
from speech_realtime.options import Ended, Hypothesis, Phrase, SpeechStarted, SpeechStopped
from speech_realtime.usp.effects import Close, Finish, Open, Push, Release, Send
from speech_realtime.usp.frames import binary_frame, parse, text_frame
from speech_realtime.usp.recognition import END_GRACE, Mode, RecognitionMachine, RecognitionState

RID = "a" * 32
RID2 = "b" * 32


def wav_header(rate: int = 16000, channels: int = 1, bits: int = 16) -> bytes:
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * block, block, bits)
    return b"RIFF\0\0\0\0WAVEfmt " + struct.pack("<I", 16) + fmt + b"data\0\0\0\0"


def ctx(rid: str = RID, **body) -> object:
    return parse(text_frame("speech.context", rid, body))


def audio(data: bytes, rid: str = RID) -> object:
    return parse(binary_frame("audio", rid, data, {"X-StreamId": "1"}))


def sent(effects) -> list[tuple[str, dict]]:
    out = []
    for effect in effects:
        if isinstance(effect, Send):
            message = parse(effect.frame)
            assert message.request_id in (RID, RID2)
            out.append((message.path, message.json()))
    return out


def start(machine: RecognitionMachine, rid: str = RID, **context) -> list:
    effects = machine.receive(ctx(rid, **context))
    effects += machine.receive(audio(wav_header() + bytes(3200), rid))
    return effects


def test_interactive_turn_phrase_then_turn_end_and_socket_reuse():
    machine = RecognitionMachine(Mode.INTERACTIVE, {"language": "en-us"})
    effects = start(machine)
    assert sent(effects)[0][0] == "turn.start"
    opened = next(e for e in effects if isinstance(e, Open))
    assert (opened.rate, opened.channels, opened.options.upstream_language) == (16000, 1, "en")
    assert next(e for e in effects if isinstance(e, Push)).pcm == bytes(3200)  # WAV header stripped
    out = machine.event(SpeechStarted(0.5))
    out += machine.event(Hypothesis("hello", 0.5, 0.3))
    effects = machine.event(Phrase("Hello world.", 0.5, 1.25))
    paths = [p for p, _ in sent(out + effects)]
    assert paths == [
        "speech.startDetected",
        "speech.hypothesis",
        "speech.endDetected",
        "speech.phrase",
        "turn.end",
    ]
    phrase = sent(effects)[1][1]
    assert phrase == {
        "RecognitionStatus": "Success",
        "DisplayText": "Hello world.",
        "Offset": 5_000_000,
        "Duration": 12_500_000,
        "Channel": 0,
    }
    assert isinstance(effects[-1], Release) and machine.state is RecognitionState.IDLE
    # late audio of the finished turn is ignored; a new turn on the same socket works
    assert machine.receive(audio(bytes(3200))) == []
    assert machine.receive(audio(b"")) == []
    assert sent(start(machine, RID2))[0][0] == "turn.start"


def test_detailed_format_nbest_and_word_times():
    machine = RecognitionMachine(Mode.INTERACTIVE, {"format": "detailed", "wordLevelTimestamps": "true"})
    start(machine)
    phrase = sent(machine.event(Phrase("It costs 25 dollars, Dr. Smith!", 0.0, 2.0)))[-2][1]
    best = phrase["NBest"][0]
    assert best["Display"] == "It costs 25 dollars, Dr. Smith!"
    assert best["ITN"] == best["MaskedITN"] == "it costs 25 dollars dr smith"
    assert best["Lexical"] == "it costs twenty five dollars doctor smith"
    assert isinstance(best["Confidence"], float)
    assert [w["Word"] for w in best["Words"]][:2] == ["It", "costs"]
    assert best["Words"][-1]["Offset"] + best["Words"][-1]["Duration"] == pytest.approx(20_000_000, abs=10)


def test_format_from_speech_context_phrase_output():
    machine = RecognitionMachine(Mode.CONVERSATION, {})
    start(machine, phraseOutput={"format": "Detailed"}, phraseDetection={"language": "de-DE"})
    phrase = sent(machine.event(Phrase("Hallo", 0.0, 1.0)))[-1][1]
    assert "NBest" in phrase


def test_language_and_mode_from_speech_context():
    machine = RecognitionMachine(Mode.CONVERSATION, {})
    effects = start(machine, phraseDetection={"language": "fr-FR", "mode": "INTERACTIVE"})
    assert next(e for e in effects if isinstance(e, Open)).options.upstream_language == "fr"
    assert machine.mode is Mode.INTERACTIVE


def test_language_identification_leaves_language_to_detection():
    machine = RecognitionMachine(Mode.INTERACTIVE, {"language": "en-us", "lidEnabled": "en-US,de-DE"})
    assert next(e for e in start(machine) if isinstance(e, Open)).options.language is None


def test_continuous_phrases_then_end_of_stream():
    machine = RecognitionMachine(Mode.CONVERSATION, {})
    start(machine)
    out = machine.event(Phrase("one", 0.1, 0.4))
    out += machine.event(Phrase("two", 1.1, 0.4))
    assert [p for p, _ in sent(out)] == ["speech.phrase", "speech.phrase"]
    assert machine.state is RecognitionState.LISTENING
    assert machine.receive(audio(b"")) == []
    assert machine.tick(10.1, 10.0) == []
    assert machine.tick(10.3, 10.0) == [Finish()]
    assert machine.state is RecognitionState.DRAINING
    end = machine.event(Ended())
    assert [p for p, _ in sent(end)] == ["speech.endDetected", "turn.end"]
    assert sent(end)[0][1]["Offset"] == 1_000_000  # 3200 bytes at 16 kHz = 0.1 s
    assert isinstance(end[-1], Release)


@pytest.mark.parametrize(
    ("events", "status"), [([], "InitialSilenceTimeout"), ([SpeechStarted(0.2)], "NoMatch")]
)
def test_silence_gives_no_match_statuses(events, status):
    machine = RecognitionMachine(Mode.INTERACTIVE, {})
    start(machine)
    for event in events:
        machine.event(event)
    machine.receive(audio(b""))
    machine.tick(1.0, 0.0)
    out = sent(machine.event(Ended()))
    assert [p for p, _ in out][-2:] == ["speech.endDetected", "turn.end"]
    assert out[0] == (
        "speech.phrase",
        {"RecognitionStatus": status, "Offset": 0, "Duration": 1_000_000, "Channel": 0},
    )


def test_empty_phrase_is_no_match():
    machine = RecognitionMachine(Mode.INTERACTIVE, {})
    start(machine)
    out = sent(machine.event(Phrase("  ", 0.1, 0.2)))
    assert out[0][1]["RecognitionStatus"] == "NoMatch" and out[-1][0] == "turn.end"


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (RateLimited("slow down"), "TooManyRequests"),
        (UpstreamAuth("bad key"), "Forbidden"),
        (BadRequest("bad"), "BadRequest"),
        (UpstreamError("boom"), "Error"),
    ],
)
def test_upstream_failures_end_the_turn_with_matching_status(error, status):
    machine = RecognitionMachine(Mode.CONVERSATION, {})
    start(machine)
    effects = machine.fail(error)
    out = sent(effects)
    assert out[0][1]["RecognitionStatus"] == status and out[0][1]["Message"] == error.message
    assert out[-1][0] == "turn.end" and isinstance(effects[-1], Release)


def test_watchdog_finishes_then_fails_a_silent_turn():
    machine = RecognitionMachine(Mode.INTERACTIVE, {})
    start(machine)
    assert machine.stalled() == [Finish()]
    out = sent(machine.stalled())
    assert out[0][1]["RecognitionStatus"] == "Error" and out[-1][0] == "turn.end"
    assert machine.stalled() == []


def test_continuation_context_is_tolerated():
    machine = RecognitionMachine(Mode.CONVERSATION, {})
    start(machine)
    machine.event(Phrase("one", 0.1, 0.4))
    machine.receive(audio(b""))
    machine.tick(1.0, 0.0)
    machine.event(Ended())
    effects = start(machine, RID2, continuation={"previousServiceTag": "abc", "previousAudioOffset": 10})
    assert sent(effects)[0][0] == "turn.start"


@pytest.mark.parametrize(
    ("context", "feature"),
    [
        ({"translation": {"targetLanguages": ["de"]}}, "translation"),
        (
            {"phraseDetection": {"enrichment": {"pronunciationAssessment": {"gradingSystem": "x"}}}},
            "pronunciation",
        ),
        ({"pronunciationScore": {"enableProsodyAssessment": True}}, "pronunciation"),
    ],
)
def test_unsupported_features_close_1007_naming_them(context, feature):
    machine = RecognitionMachine(Mode.CONVERSATION, {})
    effects = machine.receive(ctx(**context))
    assert isinstance(effects[-1], Close) and effects[-1].code == 1007 and feature in effects[-1].reason
    assert machine.state is RecognitionState.CLOSED


def test_bad_input_closes_1007():
    machine = RecognitionMachine(Mode.INTERACTIVE, {})
    effects = start(machine, phraseDetection={"language": "not a language!"})
    assert effects[-1].code == 1007 and "language" in effects[-1].reason
    machine = RecognitionMachine(Mode.INTERACTIVE, {})
    machine.receive(ctx())
    effects = machine.receive(audio(wav_header(bits=8)))
    assert effects[-1].code == 1007 and "16-bit" in effects[-1].reason
    machine = RecognitionMachine(Mode.INTERACTIVE, {})
    effects = machine.receive(parse(text_frame("speech.context", RID, "{not json")))
    assert effects[-1].code == 1007


def test_audio_without_context_starts_a_turn_and_odd_bytes_carry_over():
    machine = RecognitionMachine(Mode.CONVERSATION, {})
    effects = machine.receive(audio(b"\x01\x02\x03"))
    assert sent(effects)[0][0] == "turn.start"
    assert [e.pcm for e in effects if isinstance(e, Push)] == [b"\x01\x02"]
    assert [e.pcm for e in machine.receive(audio(b"\x04"))] == [b"\x03\x04"]


@pytest.mark.parametrize(
    "source",
    [
        {"samplerate": 8000, "channelcount": 2, "bitspersample": 16},
        {"samplerate": "8000", "channelcount": "2", "bitspersample": "16"},  # as the Python SDK sends them
    ],
)
def test_speech_config_sets_the_default_audio_format(source):
    machine = RecognitionMachine(Mode.CONVERSATION, {})
    config = {"context": {"audio": {"source": source}}}
    machine.receive(parse(text_frame("speech.config", RID, config)))
    opened = next(e for e in machine.receive(audio(bytes(8))) if isinstance(e, Open))
    assert (opened.rate, opened.channels) == (8000, 2)


def test_stop_detected_and_hypotheses_in_ticks():
    machine = RecognitionMachine(Mode.INTERACTIVE, {})
    start(machine)
    out = sent(machine.event(Hypothesis("hel", 1.0, 0.25)) + machine.event(SpeechStopped(2.0)))
    assert out == [
        ("speech.hypothesis", {"Text": "hel", "Offset": 10_000_000, "Duration": 2_500_000}),
        ("speech.endDetected", {"Offset": 20_000_000}),
    ]
    assert json.dumps(out)  # plain JSON types


def test_audio_after_an_empty_frame_resumes_the_turn():
    """The Python SDK sends an empty frame after the audio it replays, then streams on."""
    machine = RecognitionMachine(Mode.INTERACTIVE, {})
    start(machine)
    assert machine.receive(audio(b"")) == []
    assert [type(e) for e in machine.receive(audio(bytes(3200)))] == [Push]
    assert machine.tick(5.0, 0.0) == [] and machine.state is RecognitionState.LISTENING


def test_interactive_initial_silence_times_out_after_the_vad_had_its_chance():
    machine = RecognitionMachine(Mode.INTERACTIVE, {})
    start(machine)
    for _ in range(50):
        machine.receive(audio(bytes(3200)))  # 5.1 s of audio, no speech detected
    assert machine.tick(100.0, 100.0) == []  # the VAD gets a second to catch up
    assert machine.tick(100.5, 100.5) == []
    out = sent(machine.tick(101.0, 101.0))
    assert out[0][1]["RecognitionStatus"] == "InitialSilenceTimeout" and out[-1][0] == "turn.end"
    assert machine.state is RecognitionState.IDLE


def test_speech_heard_in_time_prevents_the_initial_silence_timeout():
    machine = RecognitionMachine(Mode.INTERACTIVE, {})
    start(machine)
    for _ in range(50):
        machine.receive(audio(bytes(3200)))
    machine.tick(100.0, 100.0)
    machine.event(SpeechStarted(4.0))
    assert machine.tick(102.0, 102.0) == [] and machine.state is RecognitionState.LISTENING


def test_a_repeated_context_mid_turn_keeps_the_turn_and_its_watchdog():
    """The same request id's speech.context again mid-turn must not orphan the open stream
    (an idle-looking machine is neither polled nor watched, and would hold its session)."""
    machine = RecognitionMachine(Mode.CONVERSATION, {})
    start(machine)
    assert machine.receive(ctx()) == []
    assert machine.busy and machine.state is RecognitionState.LISTENING
    more = machine.receive(audio(bytes(3200)))
    assert more == [Push(bytes(3200))]  # no second turn.start, no second stream


def test_the_phrase_list_becomes_the_turns_keywords():
    machine = RecognitionMachine(Mode.INTERACTIVE, {"language": "en-us"})
    grammar = {"Groups": [{"Type": "Generic", "Items": [{"Text": "Contoso"}, {"Text": "Jessie Ezra"}]}]}
    effects = start(machine, dgi={**grammar, "bias": 1.5})
    opened = next(e for e in effects if isinstance(e, Open))
    assert opened.options.keywords == ("Contoso", "Jessie Ezra")


@pytest.mark.parametrize("items", [[{"Text": "x" * 101}], [{"Text": f"p{i}"} for i in range(501)]])
def test_a_phrase_list_over_the_limits_closes_1007_naming_it(items):
    machine = RecognitionMachine(Mode.INTERACTIVE, {})
    effects = machine.receive(ctx(dgi={"Groups": [{"Type": "Generic", "Items": items}]}))
    assert isinstance(effects[-1], Close) and effects[-1].code == 1007 and "phrase list" in effects[-1].reason


def refused(effects) -> str:
    """The reason of the 1007 close that ``effects`` end with."""
    assert effects and isinstance(effects[-1], Close) and effects[-1].code == 1007, effects
    return effects[-1].reason


@pytest.mark.parametrize(
    "header, word",
    [
        (wav_header(channels=0), "channel"),
        (wav_header(rate=0), "sample rate"),
        (wav_header(channels=200), "channel"),
    ],
)
def test_wav_header_out_of_range_closes_1007_before_any_stream(header, word):
    machine = RecognitionMachine(Mode.CONVERSATION, {})
    effects = machine.receive(audio(header + bytes(3200)))
    assert word in refused(effects)
    assert not any(isinstance(e, Open) for e in effects)


def test_wav_fmt_chunk_running_past_the_frame_closes_1007_before_any_stream():
    header = bytearray(wav_header())
    header[16:20] = struct.pack("<I", 4000)  # the fmt chunk claims 4000 bytes of a 44-byte frame
    machine = RecognitionMachine(Mode.CONVERSATION, {})
    effects = machine.receive(audio(bytes(header)))
    assert "fmt" in refused(effects)
    assert not any(isinstance(e, Open) for e in effects)


def test_audio_in_a_text_frame_closes_1007_before_any_stream():
    machine = RecognitionMachine(Mode.CONVERSATION, {})
    effects = machine.receive(parse(f"Path: audio\r\nX-RequestId: {RID}\r\n\r\nhello"))
    assert "binary" in refused(effects)
    assert not any(isinstance(e, Open) for e in effects)


def test_deeply_nested_speech_context_closes_1007():
    machine = RecognitionMachine(Mode.CONVERSATION, {})
    body = '{"a":' * 1000 + "1" + "}" * 1000
    effects = machine.receive(parse(f"Path: speech.context\r\nX-RequestId: {RID}\r\n\r\n{body}"))
    assert "nested" in refused(effects)


@pytest.mark.parametrize(
    "config", [{"context": "x"}, {"context": {"audio": 3}}, {"context": {"audio": {"source": []}}}]
)
def test_speech_config_of_the_wrong_shape_closes_1007(config):
    machine = RecognitionMachine(Mode.CONVERSATION, {})
    assert "speech.config" in refused(machine.receive(parse(text_frame("speech.config", RID, config))))


@pytest.mark.parametrize("rid", ["é" * 32, "a\nb", "x" * 300])
def test_a_request_id_that_is_not_visible_ascii_closes_1007(rid):
    machine = RecognitionMachine(Mode.CONVERSATION, {})
    effects = machine.receive(parse(f"Path: speech.context\r\nX-RequestId: {rid}\r\n\r\n{{}}"))
    assert "X-RequestId" in refused(effects)


def test_expire_closes_an_idle_socket_1000_and_a_begun_turn_4000():
    idle = RecognitionMachine(Mode.CONVERSATION, {})
    assert idle.expire("idle") == [Close(1000, "idle")]
    assert idle.expire("idle") == []
    running = RecognitionMachine(Mode.CONVERSATION, {})
    start(running)
    assert running.expire("gone") == [Release(), Close(4000, "gone")]


def test_next_tick_is_the_end_of_the_grace_after_an_empty_audio_frame():
    machine = RecognitionMachine(Mode.CONVERSATION, {})
    start(machine)
    assert machine.next_tick(100.0) is None
    machine.receive(audio(b""))
    assert machine.next_tick(100.0) == 100.0 + END_GRACE
