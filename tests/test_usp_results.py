"""Result bodies in a turn's style: profanity (query, speech.context; masked by default) and the
identified language (``PrimaryLanguage``), through the USP recognition machine, sans-I/O."""

from __future__ import annotations

import pytest

from speech_realtime.azure_results import ResultStyle, nbest, primary_language
from speech_realtime.options import Hypothesis, Phrase, Word
from speech_realtime.profanity import Profanity
from speech_realtime.usp.effects import Close, Send
from speech_realtime.usp.frames import binary_frame, parse, text_frame
from speech_realtime.usp.recognition import Mode, RecognitionMachine

RID = "c" * 32
FMT = bytes.fromhex("1000000001000100803e0000007d00000200100064617461")
HEADER = b"RIFF\0\0\0\0WAVEfmt " + FMT + bytes(4)


def turn(query: dict[str, str], context: dict | None = None, fixed: str | None = None) -> RecognitionMachine:
    machine = RecognitionMachine(Mode.CONVERSATION, query, fixed_language=fixed)
    if context is not None:
        machine.receive(parse(text_frame("speech.context", RID, context)))
    machine.receive(parse(binary_frame("audio", RID, HEADER + bytes(3200), {"X-StreamId": "1"})))
    return machine


def bodies(effects, path: str) -> list[dict]:
    out = []
    for effect in effects:
        if isinstance(effect, Send) and (message := parse(effect.frame)).path == path:
            out.append(message.json())
    return out


def asked(profanity: str) -> dict:
    """A ``speech.context`` with the profanity setting where the Speech SDKs put it."""
    return {"phraseDetection": {"enrichment": {"profanity": profanity}}}


def phrase(machine: RecognitionMachine, text: str = "Well, shit happens.") -> dict:
    return bodies(machine.event(Phrase(text, 0.5, 1.0)), "speech.phrase")[0]


def test_profanity_is_masked_by_default_in_phrases_and_hypotheses():
    machine = turn({"language": "en-us"})
    hypothesis = bodies(machine.event(Hypothesis("well shit", 0.5, 0.4)), "speech.hypothesis")[0]
    assert hypothesis["Text"] == "well ****"
    assert phrase(machine)["DisplayText"] == "Well, **** happens."


@pytest.mark.parametrize(
    ("query", "context", "shown"),
    [
        ({"profanity": "raw"}, {}, "Well, shit happens."),
        ({"profanity": "removed"}, {}, "Well, happens."),
        ({"profanity": "raw"}, asked("Masked"), "Well, **** happens."),
        ({}, asked("Raw"), "Well, shit happens."),
    ],
)
def test_profanity_from_the_query_or_speech_context_which_wins(query, context, shown):
    assert phrase(turn(query, context))["DisplayText"] == shown


def test_every_nbest_form_and_the_words_follow_the_setting():
    machine = turn({"format": "detailed", "wordLevelTimestamps": "true"}, {})
    best = phrase(machine, "That shit costs 25 dollars.")["NBest"][0]
    assert best["Display"] == "That **** costs 25 dollars."
    assert best["Lexical"] == "that **** costs twenty five dollars"
    assert best["ITN"] == best["MaskedITN"] == "that **** costs 25 dollars"
    assert [w["Word"] for w in best["Words"]] == ["That", "****", "costs", "25", "dollars."]


def test_removed_words_leave_the_word_list():
    words = (Word("oh", 0.0, 0.2), Word("shit", 0.2, 0.5))
    best = nbest("oh shit", 0.0, 0.5, words, ResultStyle(Profanity.REMOVED))
    assert (best["Display"], [w["Word"] for w in best["Words"]]) == ("oh", ["oh"])


@pytest.mark.parametrize("where", ["query", "context"])
def test_an_unknown_profanity_value_closes_1007_naming_it(where):
    query = {"profanity": "bleep"} if where == "query" else {}
    context = asked("bleep") if where == "context" else None
    machine = RecognitionMachine(Mode.CONVERSATION, query)
    effects = [] if context is None else machine.receive(parse(text_frame("speech.context", RID, context)))
    effects += machine.receive(parse(binary_frame("audio", RID, HEADER, {"X-StreamId": "1"})))
    close = next(e for e in effects if isinstance(e, Close))
    assert close.code == 1007 and "profanity 'bleep'" in close.reason
    assert not bodies(effects, "turn.start")


def test_the_result_language_picks_the_profanity_list():
    machine = turn({"language": "de-de"})
    assert phrase(machine, "So eine Scheiße.")["DisplayText"] == "So eine *******."


def test_no_primary_language_without_identification():
    assert "PrimaryLanguage" not in phrase(turn({"language": "en-us"}))


def test_identification_on_the_english_engine_reports_the_english_candidate():
    machine = turn({"language": "en-us", "lidEnabled": "de-DE,en-US"}, fixed="en")
    expected = {"Language": "en-US", "Confidence": "High"}
    hypothesis = bodies(machine.event(Hypothesis("well", 0.5, 0.4)), "speech.hypothesis")[0]
    assert hypothesis["PrimaryLanguage"] == expected
    assert phrase(machine)["PrimaryLanguage"] == expected


def test_identification_from_speech_context_languages():
    context = {"languageId": {"languages": ["fr-FR", "en-GB"]}, "phraseDetection": {}}
    assert phrase(turn({}, context, fixed="en"))["PrimaryLanguage"]["Language"] == "en-GB"


def test_identification_a_backend_does_not_report_is_unknown_unless_one_candidate():
    assert primary_language(("en-US", "de-DE"), None) == {"Language": "Unknown", "Confidence": "Unknown"}
    assert primary_language(("de-DE",), None) == {"Language": "de-DE", "Confidence": "High"}
    assert primary_language(("de-DE", "fr-FR"), "en") == {"Language": "Unknown", "Confidence": "Unknown"}


def test_an_identified_language_picks_the_profanity_list():
    machine = turn({"language": "en-us", "lidEnabled": "de-DE"})
    assert phrase(machine, "So eine Scheiße.")["DisplayText"] == "So eine *******."
