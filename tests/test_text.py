"""Word comparison used for the verbatim check and WER."""

from __future__ import annotations

from speech_realtime.text import (
    corpus_word_error_rate,
    is_clear_mismatch,
    spell_number,
    word_error_rate,
    words,
)


def test_words_ignore_case_and_punctuation_but_keep_contractions() -> None:
    assert words("Hello, World! It's 5 o’clock.") == ["hello", "world", "it's", "five", "o'clock"]


def test_numbers_are_spelled_so_digits_and_words_compare_equal() -> None:
    assert words("10.30") == words("10:30") == words("ten thirty")
    assert words("42%") == ["forty", "two", "percent"]
    assert words("3.5") == ["three", "point", "five"]
    assert words("2,024") == words("2024") == ["two", "thousand", "twenty", "four"]
    assert words("1999") == ["one", "thousand", "nine", "hundred", "ninety", "nine"]
    assert words("9:00") == ["nine"]
    assert words("$25") == words("25 dollars")
    assert words("Dr. Patel") == words("doctor patel")
    assert words("order 4 5 7 2") == words("order 4572")
    assert spell_number(305_017) == "three hundred five thousand seventeen"


def test_word_error_rate_counts_edits() -> None:
    assert word_error_rate("the cat sat", "the cat sat") == 0
    assert word_error_rate("the cat sat", "the bat sat") == 1 / 3
    assert word_error_rate("the cat sat", "the cat") == 1 / 3
    assert word_error_rate("the cat", "the big cat") == 1 / 2
    assert word_error_rate("", "") == 0
    assert word_error_rate("", "noise") == 1


def test_clear_mismatch_tolerates_small_differences_only() -> None:
    assert not is_clear_mismatch("Read this sentence aloud.", "read this sentence allowed")
    assert is_clear_mismatch("The meeting starts at noon.", "Sure, happy to help!")


def test_corpus_wer_weights_sentences_by_length() -> None:
    pairs = [("one two three four", "one two three four"), ("five six", "five seven")]
    assert corpus_word_error_rate(pairs) == 1 / 6
    assert corpus_word_error_rate([]) == 0
