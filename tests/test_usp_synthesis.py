"""The USP synthesis state machine with scripted client messages and job events."""

from __future__ import annotations

import pytest

from speech_realtime.errors import (
    BadRequest,
    RateLimited,
    Saturated,
    UpstreamAuth,
    UpstreamError,
    UpstreamTimeout,
)
from speech_realtime.options import SynthesisOptions, WordTiming
from speech_realtime.readings import Reading
from speech_realtime.ssml import Break, Document
from speech_realtime.usp.effects import Close
from speech_realtime.usp.frames import parse, text_frame
from speech_realtime.usp.synthesis import (
    Cancel,
    Send,
    Speak,
    SynthesisMachine,
    SynthesisState,
    synthesis_close,
)
from speech_realtime.usp.synthesis_context import output_for

RID = "c" * 32


class Collect:
    """An encoder that passes audio through and records that it was closed."""

    def __init__(self) -> None:
        self.closed = False

    def push(self, wire: bytes) -> bytes:
        return wire

    def finish(self) -> bytes:
        return b""

    def close(self) -> None:
        self.closed = True


def planner(check_voice=lambda name: name):
    """A plan as the service's planner makes it, without a service: each voice through
    ``check_voice``."""

    def plan(document: Document) -> tuple:
        for text in document.texts:
            check_voice(text.voice)
        return tuple(
            part if isinstance(part, Break) else Reading(part.text, SynthesisOptions(voice=part.voice))
            for part in document.parts
        )

    return plan


def machine(check_voice=lambda name: name, **query) -> tuple[SynthesisMachine, list[Collect]]:
    encoders: list[Collect] = []

    def make(output):
        encoders.append(Collect())
        return encoders[-1]

    return SynthesisMachine(make, plan=planner(check_voice), query=query), encoders


def context(fmt="raw-24khz-16bit-mono-pcm", **flags) -> object:
    body = {"synthesis": {"audio": {"outputFormat": fmt, "metadataOptions": flags}}}
    return parse(text_frame("synthesis.context", RID, body))


def ssml(text: str, voice: str = "en-US-AvaMultilingualNeural") -> object:
    doc = f"<speak version='1.0' xml:lang='en-US'><voice name='{voice}'>{text}</voice></speak>"
    return parse(text_frame("ssml", RID, doc, "application/ssml+xml"))


def frames(effects) -> list:
    return [parse(e.frame) for e in effects if isinstance(e, Send)]


def metadata(effects) -> list[dict]:
    return [m.json()["Metadata"][0] for m in frames(effects) if m.path == "audio.metadata"]


def test_turn_start_response_audio_with_stream_id_and_turn_end():
    synth, encoders = machine()
    assert synth.receive(context()) == []
    effects = synth.receive(ssml("Hello there."))
    head = frames(effects)
    assert [m.path for m in head] == ["turn.start", "response"]
    stream_id = head[1].json()["audio"]["streamId"]
    assert head[1].json()["audio"]["type"] == "inline"
    assert isinstance(next(e for e in effects if isinstance(e, Speak)).document.parts[0].text, str)
    audio = frames(synth.audio(b"\x01\x00" * 10))[0]
    assert audio.binary and audio.path == "audio" and audio.header("X-StreamId") == stream_id
    assert audio.request_id == RID and audio.body == b"\x01\x00" * 10
    end = synth.part_done() + synth.done()
    assert [m.path for m in frames(end)] == ["turn.end"]
    assert synth.state is SynthesisState.IDLE and encoders[0].closed
    # the socket takes another synthesis
    synth.receive(context())
    assert [m.path for m in frames(synth.receive(ssml("Again.")))] == ["turn.start", "response"]


def test_word_sentence_and_session_end_metadata_when_requested():
    synth, _ = machine()
    synth.receive(context(wordBoundaryEnabled=True, sentenceBoundaryEnabled=True, sessionEndEnabled=True))
    synth.receive(ssml("Hello, world. How are you?"))
    out = synth.audio(bytes(48000))
    out += synth.word(WordTiming("Hello,", 0.0, 0.3))
    out += synth.word(WordTiming("world.", 0.3, 0.4))
    out += synth.word(WordTiming("How", 0.8, 0.1))
    out += synth.word(WordTiming("are", 0.9, 0.1))
    out += synth.word(WordTiming("you?", 1.0, 0.2))
    out += synth.part_done() + synth.done()
    meta = metadata(out)
    words = [m["Data"]["text"]["Text"] for m in meta if m["Type"] == "WordBoundary"]
    assert words == ["Hello", "world", "How", "are", "you"]
    first = next(m for m in meta if m["Type"] == "WordBoundary")["Data"]
    assert first == {
        "Offset": 0,
        "Duration": 3_000_000,
        "text": {"Text": "Hello", "Length": 5, "BoundaryType": "WordBoundary"},
    }
    sentences = [m["Data"] for m in meta if m["Type"] == "SentenceBoundary"]
    assert [s["text"]["Text"] for s in sentences] == ["Hello, world.", "How are you?"]
    assert sentences[1]["Offset"] == 8_000_000 and sentences[1]["Duration"] == 4_000_000
    assert meta[-1] == {"Type": "SessionEnd", "Data": {"Offset": 10_000_000}}


def test_boundary_lengths_count_utf16_code_units_as_the_sdks_index_text():
    synth, _ = machine()
    synth.receive(context(wordBoundaryEnabled=True, sentenceBoundaryEnabled=True))
    synth.receive(ssml("😀 Caf😀é 𝄞x ok."))
    out = synth.audio(bytes(48000))
    for offset, word in enumerate(["Caf😀é", "𝄞x", "ok."]):
        out += synth.word(WordTiming(word, offset * 0.2, 0.2))
    out += synth.part_done() + synth.done()
    texts = [(m["Data"]["text"]["Text"], m["Data"]["text"]["Length"]) for m in metadata(out)]
    assert ("Caf😀é", 6) in texts and ("x", 1) in texts and ("ok", 2) in texts  # 𝄞 is punctuation
    assert ("Caf😀é 𝄞x ok.", 14) in texts


def test_no_metadata_unless_requested():
    synth, _ = machine()
    synth.receive(context())
    synth.receive(ssml("Hello world."))
    out = synth.word(WordTiming("Hello", 0.0, 0.3)) + synth.part_done() + synth.done()
    assert metadata(out) == []


def test_bookmarks_at_the_next_word_and_break_silence_shifts_offsets():
    synth, _ = machine()
    synth.receive(context(wordBoundaryEnabled=True, bookmarkEnabled=True))
    doc = "One <bookmark mark='m1'/>two.<break time='500ms'/>Three<bookmark mark='end'/>"
    effects = synth.receive(ssml(doc))
    parts = next(e for e in effects if isinstance(e, Speak)).document.parts
    assert len(parts) == 3
    out = synth.audio(bytes(24000))  # 0.5 s
    out += synth.word(WordTiming("one", 0.0, 0.2)) + synth.word(WordTiming("two", 0.25, 0.2))
    out += synth.part_done()
    silence = synth.part_done()  # the break
    assert sum(len(m.body) for m in frames(silence)) == 24000
    out += silence + synth.audio(bytes(24000)) + synth.word(WordTiming("three", 0.1, 0.3)) + synth.part_done()
    out += synth.done()
    meta = metadata(out)
    marks = {m["Data"]["Bookmark"]: m["Data"]["Offset"] for m in meta if m["Type"] == "Bookmark"}
    assert marks == {"m1": 2_500_000, "end": 15_000_000}
    three = next(m for m in meta if m["Type"] == "WordBoundary" and m["Data"]["text"]["Text"] == "Three")
    assert three["Data"]["Offset"] == 11_000_000


def test_literal_input_word_is_reported_even_when_read_differently():
    synth, _ = machine()
    synth.receive(context(wordBoundaryEnabled=True))
    synth.receive(ssml("Pay 25 now."))
    out = synth.word(WordTiming("Pay", 0.0, 0.2)) + synth.word(WordTiming("twenty-five", 0.2, 0.4))
    out += synth.word(WordTiming("now", 0.6, 0.2))
    assert [m["Data"]["text"]["Text"] for m in metadata(out)] == ["Pay", "25", "now"]


def test_riff_formats_are_requested_raw_and_unknown_formats_close_1007():
    assert output_for("riff-24khz-16bit-mono-pcm") == output_for("raw-24khz-16bit-mono-pcm")
    synth, _ = machine()
    synth.receive(context(fmt="truesilk-24khz-16bit"))
    effects = synth.receive(ssml("Hi."))
    assert isinstance(effects[-1], Close) and effects[-1].code == 1007 and "truesilk" in effects[-1].reason


def test_unknown_voice_closes_1007_naming_the_voice():
    def check(name):
        if name == "en-US-NobodyNeural":
            raise BadRequest(f"unknown voice {name!r}", param="voice")

    synth, _ = machine(check)
    synth.receive(context())
    effects = synth.receive(ssml("Hi.", voice="en-US-NobodyNeural"))
    assert effects[-1].code == 1007 and "en-US-NobodyNeural" in effects[-1].reason


@pytest.mark.parametrize(
    ("effects_for", "word"),
    [
        (lambda s: s.receive(context(visemeEnabled=True)) or s.receive(ssml("Hi."))[-1], "visemes"),
        (lambda s: s.receive(ssml("<unclosed"))[-1], "SSML"),
    ],
)
def test_unsupported_or_bad_requests_close_1007(effects_for, word):
    synth, _ = machine()
    close = effects_for(synth)
    assert close.code == 1007 and word in close.reason


def test_custom_voice_deployment_closes_1007():
    synth, _ = machine(deploymentId="abc")
    assert "custom voice" in synth.receive(ssml("Hi."))[-1].reason


def test_failure_mid_synthesis_cancels_the_job_and_never_closes_1000():
    synth, encoders = machine()
    synth.receive(ssml("Hello."))
    effects = synth.fail(UpstreamError("boom"))
    assert isinstance(effects[0], Cancel) and effects[-1].code not in (1000,) and encoders[0].closed
    assert synth.state is SynthesisState.CLOSED and synth.receive(ssml("Again.")) == []


def test_close_codes_for_failures():
    assert synthesis_close(BadRequest("x"))[0] == 1007
    assert synthesis_close(RateLimited("x"))[0] == 4429
    assert synthesis_close(Saturated("x"))[0] == 4429
    assert synthesis_close(UpstreamAuth("x"))[0] == 4000
    assert synthesis_close(UpstreamError("x"))[0] == 1011
    assert synthesis_close(UpstreamTimeout("x"))[0] == 1011


def test_watchdog_gives_up_on_a_stalled_job():
    synth, _ = machine()
    synth.receive(ssml("Hello."))
    assert synth.stalled()[-1].code == 1011


def test_a_non_ascii_request_id_closes_1007_before_any_audio():
    synth, _ = machine()
    doc = "<speak version='1.0'><voice name='en-US-AvaMultilingualNeural'>Hi</voice></speak>"
    effects = synth.receive(parse(f"Path: ssml\r\nX-RequestId: é{RID}\r\n\r\n{doc}"))
    assert isinstance(effects[-1], Close) and effects[-1].code == 1007 and "X-RequestId" in effects[-1].reason
    assert not any(isinstance(e, Speak) for e in effects)


@pytest.mark.parametrize("encoding", ["UTF-7", "x-nope"])
def test_ssml_in_an_unreadable_encoding_closes_1007_naming_it(encoding):
    synth, _ = machine()
    doc = f"<?xml version='1.0' encoding='{encoding}'?><speak>Hi</speak>"
    effects = synth.receive(parse(text_frame("ssml", RID, doc, "application/ssml+xml")))
    assert isinstance(effects[-1], Close) and effects[-1].code == 1007 and encoding in effects[-1].reason


def test_expire_closes_4000_and_cancels_a_running_job():
    idle, _ = machine()
    assert idle.expire("idle") == [Close(4000, "idle")]
    speaking, _ = machine()
    speaking.receive(ssml("hi"))
    assert speaking.expire("gone") == [Cancel(), Close(4000, "gone")]
