"""Azure's profanity handling: masked (Azure's default), removed, raw, on whole words."""

from __future__ import annotations

import pytest

from speech_realtime.errors import BadRequest
from speech_realtime.profanity import Profanity, apply


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("masked", "What the ****, man?"),
        ("removed", "What the, man?"),
        ("raw", "What the fuck, man?"),
    ],
)
def test_the_three_modes(mode, expected):
    assert apply("What the fuck, man?", mode) == expected


def test_masking_keeps_the_length_case_of_the_rest_and_punctuation():
    assert apply("You ASSHOLE! Shit.", "masked") == "You *******! ****."


def test_only_whole_words_are_profane():
    text = "A classic assistant passed the bass; Scunthorpe is in England."
    assert apply(text, "masked") == text
    assert apply("an ass, an ass's tail", "masked") == "an ***, an ***'s tail"


def test_removal_leaves_no_double_space_or_space_before_punctuation():
    assert apply("this shit is good", "removed") == "this is good"
    assert apply("shit happens", "removed") == "happens"
    assert apply("oh shit.", "removed") == "oh."


def test_multi_word_entries_match_across_whitespace_and_keep_it_when_masked():
    assert apply("a ball  sack here", "masked") == "a ****  **** here"


def test_the_result_language_picks_its_list_and_unicode_words_match():
    assert apply("Scheiße, das ist Mist", "masked", "de-DE") == "*******, das ist Mist"
    assert apply("Scheiße", "masked", "en-US") == "Scheiße"


def test_the_longest_entry_wins_even_where_letters_fold_alike():
    # Turkish "ı" and "i" both match "I" case-insensitively: the phrase must still win
    assert apply("bu amcık hoşafı işte", "masked", "tr-TR") == "bu ***** ****** işte"


def test_an_unknown_or_missing_language_uses_the_english_list():
    assert apply("shit", "masked", None) == "****"
    assert apply("shit", "masked", "xx-YY") == "****"


def test_text_without_profanity_is_unchanged():
    for mode in Profanity:
        assert apply("It costs 25 dollars.", mode) == "It costs 25 dollars."
        assert apply("", mode) == ""


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, Profanity.MASKED),
        ("", Profanity.MASKED),
        ("Raw", Profanity.RAW),
        (" removed ", Profanity.REMOVED),
    ],
)
def test_parse_defaults_to_masked_and_ignores_case(value, expected):
    assert Profanity.parse(value) is expected


@pytest.mark.parametrize("value", ["bleep", "tagged", 3])
def test_parse_refuses_other_values_naming_the_parameter(value):
    with pytest.raises(BadRequest) as raised:
        Profanity.parse(value)
    assert raised.value.param == "profanity"
    assert "masked, removed, raw" in raised.value.message
