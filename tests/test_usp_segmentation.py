"""The Azure Speech SDK's segmentation and silence settings on the USP recognition socket.

The ``speech.context`` bodies and queries below are what the Python SDK 1.53.0 sent for
``SpeechConfig.set_property`` of ``Speech_SegmentationSilenceTimeoutMs``,
``Speech_SegmentationStrategy``, ``Speech_SegmentationMaximumTimeMs``,
``SpeechServiceConnection_InitialSilenceTimeoutMs`` and ``..._EndSilenceTimeoutMs``, captured
on a loopback server (the JavaScript SDK also puts the segmentation ones in the query).
"""

from __future__ import annotations

import pytest
from test_usp_recognition import audio, ctx, sent, start, wav_header

from speech_realtime.errors import BadRequest
from speech_realtime.options import Ended, Phrase, Segmentation, SpeechStarted, SpeechStopped
from speech_realtime.usp.effects import BAD_INPUT, Close, Open
from speech_realtime.usp.recognition import Mode, RecognitionMachine, RecognitionState
from speech_realtime.usp.recognition_config import stream_segmentation, turn_segmentation

#: phraseDetection as the Python SDK 1.53.0 sends it with every setting (recognize_once).
SDK_ALL = {
    "language": "en-US",
    "initialSilenceTimeout": 3000,
    "trailingSilenceTimeout": 1500,
    "mode": "INTERACTIVE",
    "INTERACTIVE": {
        "segmentation": {
            "segmentationSilenceTimeoutMs": 2000,
            "mode": "Custom",
            "segmentationForcedTimeoutMs": 30000,
        }
    },
}
SDK_QUERY = {"language": "en-US", "initialSilenceTimeoutMs": "3000", "endSilenceTimeoutMs": "1500"}


def test_every_setting_the_python_sdk_sends_is_read() -> None:
    assert turn_segmentation({"phraseDetection": SDK_ALL}, SDK_QUERY) == Segmentation(
        silence_ms=2000, max_phrase_ms=30000, initial_silence_ms=3000, end_silence_ms=1500
    )


def test_semantic_strategy_in_the_context_and_in_the_query() -> None:
    semantic = {"mode": "CONVERSATION", "CONVERSATION": {"segmentation": {"mode": "Semantic"}}}
    assert turn_segmentation({"phraseDetection": semantic}, {}).semantic
    assert turn_segmentation({}, {"segmentationStrategy": "Semantic"}).semantic
    custom = {"mode": "DICTATION", "DICTATION": {"segmentation": {"mode": "Custom"}}}
    assert (
        turn_segmentation({"phraseDetection": custom}, {"segmentationStrategy": "Semantic"}) == Segmentation()
    )


def test_the_mode_key_may_be_lower_case_as_the_javascript_sdk_writes_it() -> None:
    detection = {
        "mode": "Conversation",
        "conversation": {"segmentation": {"segmentationSilenceTimeoutMs": 900}},
    }
    assert turn_segmentation({"phraseDetection": detection}, {}).silence_ms == 900


def test_the_query_alone_is_enough_and_the_context_wins_over_it() -> None:
    query = {
        "segmentationSilenceTimeoutMs": "700",
        "segmentationMaximumTimeMs": "25000",
        "endSilenceTimeoutMs": "900",
    }
    assert turn_segmentation({}, query) == Segmentation(
        silence_ms=700, max_phrase_ms=25000, end_silence_ms=900
    )
    context = {"phraseDetection": {"trailingSilenceTimeout": 1200}}
    assert turn_segmentation(context, query).end_silence_ms == 1200


@pytest.mark.parametrize(
    ("context", "query", "message"),
    [
        (
            {
                "phraseDetection": {
                    **SDK_ALL,
                    "INTERACTIVE": {"segmentation": {"segmentationSilenceTimeoutMs": 50}},
                }
            },
            {},
            "50 ms is out of range (100 to 5000 ms)",
        ),
        (
            {
                "phraseDetection": {
                    "mode": "INTERACTIVE",
                    "INTERACTIVE": {"segmentation": {"segmentationForcedTimeoutMs": 1000}},
                }
            },
            {},
            "1000 ms is out of range (20000 to 70000 ms)",
        ),
        (
            {"phraseDetection": {"initialSilenceTimeout": "soon"}},
            {},
            "initialSilenceTimeout 'soon' is not a whole number",
        ),
        ({}, {"initialSilenceTimeoutMs": "abc"}, "initialSilenceTimeoutMs 'abc' is not a whole number"),
        ({}, {"segmentationSilenceTimeoutMs": "9000"}, "9000 ms is out of range"),
    ],
)
def test_bad_values_are_bad_requests(context: dict, query: dict, message: str) -> None:
    with pytest.raises(BadRequest, match=message.replace("(", r"\(").replace(")", r"\)")):
        turn_segmentation(context, query)


def test_the_end_silence_ends_a_single_shot_phrase_when_no_segmentation_silence_is_set() -> None:
    assert stream_segmentation(Segmentation(end_silence_ms=1500), single_shot=True).silence_ms == 1500
    assert stream_segmentation(Segmentation(end_silence_ms=20_000), single_shot=True).silence_ms == 5000
    assert stream_segmentation(Segmentation(end_silence_ms=10), single_shot=True).silence_ms == 100
    assert stream_segmentation(Segmentation(end_silence_ms=0), single_shot=True).silence_ms is None
    both = Segmentation(silence_ms=600, end_silence_ms=1500)
    assert stream_segmentation(both, single_shot=True) == both  # the segmentation silence wins
    assert stream_segmentation(Segmentation(end_silence_ms=1500), single_shot=False).silence_ms is None


def opened(effects) -> Open:
    return next(e for e in effects if isinstance(e, Open))


def test_the_turns_stream_gets_the_segmentation() -> None:
    machine = RecognitionMachine(Mode.INTERACTIVE, SDK_QUERY)
    segmentation = opened(start(machine, phraseDetection=SDK_ALL)).options.segmentation
    assert segmentation == Segmentation(
        silence_ms=2000, max_phrase_ms=30000, initial_silence_ms=3000, end_silence_ms=1500
    )


def test_recognize_once_with_only_an_end_silence_runs_the_vad_on_it() -> None:
    machine = RecognitionMachine(Mode.INTERACTIVE, SDK_QUERY)
    context = {"language": "en-US", "initialSilenceTimeout": 3000, "trailingSilenceTimeout": 1500}
    assert opened(start(machine, phraseDetection=context)).options.segmentation.silence_ms == 1500


def test_a_turn_without_a_context_takes_the_querys_settings() -> None:
    machine = RecognitionMachine(Mode.CONVERSATION, {"segmentationSilenceTimeoutMs": "2000"})
    effects = machine.receive(audio(wav_header() + bytes(3200)))
    assert opened(effects).options.segmentation.silence_ms == 2000


def test_an_out_of_range_value_closes_1007_with_the_reason_before_any_turn() -> None:
    machine = RecognitionMachine(Mode.INTERACTIVE, {})
    bad = {
        "mode": "INTERACTIVE",
        "INTERACTIVE": {"segmentation": {"segmentationSilenceTimeoutMs": 50, "mode": "Custom"}},
    }
    effects = machine.receive(ctx(phraseDetection=bad))
    assert effects == [Close(BAD_INPUT, "segmentation silence 50 ms is out of range (100 to 5000 ms)")]
    assert machine.state is RecognitionState.CLOSED and sent(effects) == []
    assert machine.receive(audio(wav_header())) == []


def test_a_bad_query_value_closes_1007_at_the_first_turn() -> None:
    machine = RecognitionMachine(Mode.INTERACTIVE, {"initialSilenceTimeoutMs": "-5"})
    effects = machine.receive(audio(wav_header() + bytes(3200)))
    assert effects == [
        Close(BAD_INPUT, "segmentation initial silence -5 ms is out of range (0 to 600000 ms)")
    ]


def test_the_initial_silence_timeout_is_the_turns() -> None:
    machine = RecognitionMachine(Mode.INTERACTIVE, {})
    start(machine, phraseDetection={"initialSilenceTimeout": 2000})
    for _ in range(20):
        machine.receive(audio(bytes(3200)))  # 2.1 s of audio, no speech detected
    assert machine.tick(100.0, 100.0) == []  # the VAD gets its second of grace
    out = sent(machine.tick(101.0, 101.0))
    assert out[0][1]["RecognitionStatus"] == "InitialSilenceTimeout" and out[-1][0] == "turn.end"


def test_without_an_initial_silence_timeout_two_seconds_of_silence_are_not_enough() -> None:
    machine = RecognitionMachine(Mode.INTERACTIVE, {})
    start(machine)
    for _ in range(20):
        machine.receive(audio(bytes(3200)))
    machine.tick(100.0, 100.0)
    assert machine.tick(101.0, 101.0) == [] and machine.state is RecognitionState.LISTENING


def test_speech_that_starts_after_the_initial_silence_timeout_is_too_late() -> None:
    """A file arrives faster than real time: the verdict is in audio time, not wall time."""
    machine = RecognitionMachine(Mode.INTERACTIVE, {})
    start(machine, phraseDetection={"initialSilenceTimeout": 1000})
    out = sent(machine.event(SpeechStarted(2.5)))
    assert out[0] == (
        "speech.phrase",
        {"RecognitionStatus": "InitialSilenceTimeout", "Offset": 0, "Duration": 25_000_000, "Channel": 0},
    )
    assert out[-1][0] == "turn.end" and machine.state is RecognitionState.IDLE


def test_speech_within_the_initial_silence_timeout_is_heard() -> None:
    machine = RecognitionMachine(Mode.INTERACTIVE, {})
    start(machine, phraseDetection={"initialSilenceTimeout": 3000})
    assert [p for p, _ in sent(machine.event(SpeechStarted(2.5)))] == ["speech.startDetected"]
    continuous = RecognitionMachine(Mode.CONVERSATION, {})
    start(continuous, phraseDetection={"initialSilenceTimeout": 1000})
    assert [p for p, _ in sent(continuous.event(SpeechStarted(2.5)))] == ["speech.startDetected"]


def test_continuous_recognition_ends_its_utterances_without_speech_end_detected() -> None:
    """The SDK takes ``speech.endDetected`` as the end of the stream: in continuous mode it ends
    its audio there and opens a new turn, which would cut the next phrase wherever that falls
    (at the 5 s it sends ahead). Azure sends it once, at the end of the audio."""
    machine = RecognitionMachine(Mode.CONVERSATION, {})
    start(machine)
    out = machine.event(SpeechStarted(0.5)) + machine.event(SpeechStopped(2.0))
    out += machine.event(Phrase("One.", 0.5, 1.5))
    assert [p for p, _ in sent(out)] == ["speech.startDetected", "speech.phrase"]
    ending = [p for p, _ in sent(machine.event(Ended()))]
    assert ending == ["speech.endDetected", "turn.end"]
