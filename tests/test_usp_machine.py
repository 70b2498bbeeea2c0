"""Both USP machines against random and mutated client frames: whatever a client sends, the
machine answers with effects (a 1007 close for what is not valid USP), never an exception.

The frames are what the socket layer would hand over: a text or binary message, parsed with
:func:`~speech_realtime.usp.frames.parse`, whose :class:`FrameError` the layer turns into
``machine.refuse``. After each frame the service side is played too (a recognition stream's
events, a synthesis job's audio and words), so that what the client sent is also carried into
the frames the machine builds.
"""

from __future__ import annotations

import json
import struct

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from test_usp_synthesis import planner  # noqa: E402

from speech_realtime.errors import UpstreamError  # noqa: E402
from speech_realtime.options import Ended, Hypothesis, Phrase, SpeechStarted, SpeechStopped, WordTiming  # noqa: E402
from speech_realtime.usp.effects import Close, Open, Send, Speak  # noqa: E402
from speech_realtime.usp.frames import FrameError, binary_frame, parse  # noqa: E402
from speech_realtime.usp.recognition import Mode, RecognitionMachine  # noqa: E402
from speech_realtime.usp.synthesis import SynthesisMachine  # noqa: E402

RID = "0123456789ABCDEF0123456789abcdef"
#: Every close a machine may ask for on client input or the scripted service (never 1011).
CLOSE_CODES = {1000, 1007, 4000, 4429}


class PassThrough:
    def push(self, wire: bytes) -> bytes:
        return wire

    def finish(self) -> bytes:
        return b""

    def close(self) -> None:
        pass


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
known_keys = st.sampled_from(
    [
        "context",
        "audio",
        "source",
        "samplerate",
        "channelcount",
        "bitspersample",
        "phraseDetection",
        "mode",
        "language",
        "phraseOutput",
        "format",
        "synthesis",
        "outputFormat",
        "metadataOptions",
        "wordBoundaryEnabled",
        "translation",
        "visemeEnabled",
    ]
)
shaped_json = st.recursive(
    json_values,
    lambda inner: st.dictionaries(known_keys, inner, max_size=4),
    max_leaves=20,
)


@st.composite
def json_bodies(draw: st.DrawFn) -> str:
    choice = draw(st.integers(0, 5))
    if choice == 0:
        depth = draw(st.integers(30, 1500))
        return '{"context":' * depth + "1" + "}" * depth
    if choice == 1:
        return draw(st.text(max_size=60))
    if choice == 2:  # objects where objects are expected, or not
        return json.dumps(
            {"context": {"audio": {"source": draw(json_values)}}}
            if draw(st.booleans())
            else {"context": draw(json_values)}
        )
    return json.dumps(draw(shaped_json))


WAV_FIELDS = {  # each field's usual value first, then edge cases
    "tag": [1, 0xFFFE, 3, 0, 0xFFFF],
    "channels": [1, 2, 0, 200, 0xFFFF],
    "rate": [16000, 8000, 0, 1, 10**9, 0xFFFFFFFF],
    "bits": [16, 8, 0, 24],
    "fmt_size": [16, 18, 0, 7, 4000, 0xFFFFFFFF],
    "list_size": [4, 0, 400, 0xFFFFFFFF],
}


@st.composite
def wav_headers(draw: st.DrawFn) -> bytes:
    """A RIFF header with one or two fields changed to an edge case or anything, possibly cut
    short, possibly with a LIST chunk before ``fmt``."""
    fields = {name: values[0] for name, values in WAV_FIELDS.items()}
    for name in draw(st.lists(st.sampled_from(sorted(WAV_FIELDS)), max_size=2)):
        fields[name] = draw(st.sampled_from(WAV_FIELDS[name]) | st.integers(0, 0xFFFF))
    tag, channels, rate, bits = fields["tag"], fields["channels"], fields["rate"], fields["bits"]
    fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * 2 & 0xFFFFFFFF, 2 * channels & 0xFFFF, bits)
    chunks = b"fmt " + struct.pack("<I", fields["fmt_size"]) + fmt
    if draw(st.integers(0, 3)) == 0:
        chunks = b"LIST" + struct.pack("<I", fields["list_size"]) + bytes(4) + chunks
    header = b"RIFF\0\0\0\0WAVE" + chunks + b"data" + struct.pack("<I", draw(st.integers(0, 0xFFFFFFFF)))
    header += draw(st.binary(max_size=64))
    return header[: draw(st.integers(0, len(header)))] if draw(st.integers(0, 5)) == 0 else header


request_ids = (
    st.just(RID) | st.just(RID) | st.sampled_from(["", "é" * 4, "a\nb", "x" * 200]) | st.text(max_size=40)
)
known_paths = st.sampled_from(["speech.config", "speech.context", "audio", "ssml", "synthesis.context"])
paths = known_paths | known_paths | st.sampled_from(["telemetry", "AUDIO", "Ssml", ""]) | st.text(max_size=20)
ssml_bodies = st.sampled_from(
    [
        "<speak version='1.0'><voice name='en-US-AvaMultilingualNeural'>Hello 😀 there.</voice></speak>",
        "<speak><bookmark mark='m'/>Hi<break time='50ms'/>again</speak>",
        "<?xml version='1.0' encoding='UTF-7'?><speak>Hi</speak>",
        "<?xml version='1.0' encoding='x-nope'?><speak>Hi</speak>",
        "<speak><mstts:express-as style='cheerful\n'>Hi</mstts:express-as></speak>",
        "<!DOCTYPE speak [<!ENTITY a 'b'>]><speak>&a;</speak>",
    ]
) | st.text(max_size=80).map(lambda text: f"<speak>{text}</speak>")


@st.composite
def text_frames(draw: st.DrawFn) -> str:
    path = draw(paths)
    headers = {"Path": path, "X-RequestId": draw(request_ids)}
    if draw(st.integers(0, 3)) == 0:
        headers.update(draw(st.dictionaries(st.text(max_size=10), st.text(max_size=20), max_size=3)))
    head = "\r\n".join(f"{name}:{value}" for name, value in headers.items())
    body = draw(ssml_bodies if path.lower() == "ssml" else json_bodies())
    return head + "\r\n\r\n" + body


@st.composite
def binary_frames(draw: st.DrawFn) -> bytes:
    path = draw(st.just("audio") | paths)
    rid = draw(request_ids)
    payload = draw(wav_headers() | wav_headers() | st.binary(max_size=400))
    try:
        return binary_frame(path, rid, payload)
    except UnicodeEncodeError:  # a header the helper cannot write: build it by hand
        head = f"Path:{path}\r\nX-RequestId:{rid}\r\n".encode()
        return struct.pack(">H", len(head) & 0xFFFF) + head + payload


@st.composite
def mutated(draw: st.DrawFn, frames: st.SearchStrategy[str | bytes]) -> str | bytes:
    """A frame with a few bytes replaced, inserted or removed."""
    frame = draw(frames)
    data = bytearray(frame.encode() if isinstance(frame, str) else frame)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["set", "insert", "delete"]))
        if action == "insert" or not data:
            data[at:at] = draw(st.binary(min_size=1, max_size=4))
        elif action == "set":
            data[min(at, len(data) - 1)] = draw(st.integers(0, 255))
        else:
            del data[at : at + draw(st.integers(1, 8))]
    if isinstance(frame, str):
        return data.decode("utf-8", errors="replace")
    return bytes(data)


def valid_frames() -> list[str | bytes]:
    """Frames a real SDK sends, to start turns and to mutate."""
    metadata = {
        "wordBoundaryEnabled": True,
        "sentenceBoundaryEnabled": True,
        "bookmarkEnabled": True,
        "sessionEndEnabled": True,
    }
    context = {
        "synthesis": {"audio": {"outputFormat": "raw-24khz-16bit-mono-pcm", "metadataOptions": metadata}}
    }
    wav = b"RIFF\0\0\0\0WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, 16000, 32000, 2, 16) + b"data\0\0\0\0"
    return [
        f"Path:speech.context\r\nX-RequestId:{RID}\r\n\r\n"
        + json.dumps({"phraseDetection": {"mode": "dictation"}}),
        binary_frame("audio", RID, wav + bytes(640)),
        binary_frame("audio", RID, bytes(641)),
        binary_frame("audio", RID, b""),
        f"Path:synthesis.context\r\nX-RequestId:{RID}\r\n\r\n" + json.dumps(context),
        f"Path:ssml\r\nX-RequestId:{RID}\r\n\r\n"
        "<speak><voice name='a'>Hi 😀 you. <bookmark mark='b'/>Bye!</voice></speak>",
    ]


valid = st.sampled_from(valid_frames())
frames = st.one_of(
    valid,
    mutated(valid),
    text_frames(),
    text_frames(),
    binary_frames(),
    binary_frames(),
    mutated(text_frames()),
    mutated(binary_frames()),
    st.binary(max_size=64),
    st.text(max_size=64),
)


def feed(machine: RecognitionMachine | SynthesisMachine, frame: str | bytes) -> list:
    """What the socket layer does with one client frame."""
    try:
        message = parse(frame)
    except FrameError as exc:
        return machine.refuse(str(exc))
    return machine.receive(message)


def check_effects(effects: list) -> None:
    for effect in effects:
        if isinstance(effect, Send):
            parse(effect.frame)  # every frame the machine builds is well-formed USP
        if isinstance(effect, Close):
            assert effect.code in CLOSE_CODES, effect
            assert len(effect.reason.encode()) <= 123


def play_recognition(machine: RecognitionMachine, effects: list) -> list:
    if not any(isinstance(e, Open) for e in effects):
        return []
    out = machine.event(SpeechStarted(0.1)) + machine.event(Hypothesis("hel", 0.1, 0.2))
    out += machine.event(SpeechStopped(0.5)) + machine.event(Phrase("Hello 😀.", 0.1, 0.4))
    out += machine.tick(1e9, 0.0) + machine.stalled() + machine.event(Ended())
    return out + machine.fail(UpstreamError("scripted failure"))


def play_synthesis(machine: SynthesisMachine, effects: list) -> list:
    speak = next((e for e in effects if isinstance(e, Speak)), None)
    if speak is None:
        return []
    out: list = []
    for part in speak.document.parts:
        out += machine.audio(bytes(960))
        for word in getattr(part, "text", "").split()[:3]:
            out += machine.word(WordTiming(word, 0.01, 0.02))
        out += machine.part_done()
    return out + machine.done()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(list(Mode)), st.lists(frames, min_size=1, max_size=8))
def test_recognition_turns_any_client_frames_into_effects(mode, sequence):
    machine = RecognitionMachine(mode, {"format": "detailed", "wordLevelTimestamps": "true"})
    for frame in sequence:
        if machine.closed:  # a refused frame ends the socket; the client opens another
            machine = RecognitionMachine(mode, {"format": "detailed", "wordLevelTimestamps": "true"})
        effects = feed(machine, frame)
        effects += play_recognition(machine, effects)
        check_effects(effects)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(frames, min_size=1, max_size=8))
def test_synthesis_turns_any_client_frames_into_effects(sequence):
    machine = SynthesisMachine(lambda output: PassThrough(), plan=planner())
    for frame in sequence:
        if machine.closed:
            machine = SynthesisMachine(lambda output: PassThrough(), plan=planner())
        effects = feed(machine, frame)
        effects += play_synthesis(machine, effects)
        check_effects(effects)
