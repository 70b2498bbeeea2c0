"""Word comparison used for the verbatim check and WER."""

from __future__ import annotations

from speech_realtime.text import is_clear_mismatch, word_error_rate, words


def test_words_ignore_case_and_punctuation_but_keep_contractions() -> None:
    assert words("Hello, World! It's 5 o’clock.") == ["hello", "world", "it's", "5", "o'clock"]


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
