"""Word comparison used for the verbatim check and WER."""

from __future__ import annotations

import time

from speech_realtime.text import (
    corpus_word_error_rate,
    is_clear_mismatch,
    spell_number,
    word_edits,
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


def test_edit_distance_agrees_with_the_textbook_definition_on_word_sequences() -> None:
    assert word_edits("a b c d", "a x c") == (2, 4)
    assert word_edits("kitten sitting", "sitting kitten on") == (2, 2)


def test_the_verbatim_check_of_a_long_text_costs_milliseconds_of_cpu() -> None:
    """The pure-Python edit distance took 0.2 to 0.3 s of CPU here (holding the GIL)."""
    reference = " ".join(f"word{i % 97}" for i in range(600))[:4096]
    heard = " ".join(f"word{i % 89}" for i in range(600))[:4096]
    started = time.process_time()
    is_clear_mismatch(reference, heard)
    assert time.process_time() - started < 0.05
