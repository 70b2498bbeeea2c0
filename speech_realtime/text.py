"""Comparing texts by their words: used to check that TTS read the text and to measure WER."""

from __future__ import annotations

import re
import unicodedata

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")

#: Word error rate above which a reading counts as clearly not the requested text.
MISMATCH_WER = 0.5


def words(text: str) -> list[str]:
    """Lower-case words of ``text`` without punctuation (apostrophes inside words kept)."""
    folded = unicodedata.normalize("NFKC", text).lower().replace("’", "'")
    return _WORD.findall(folded)


def word_error_rate(reference: str, hypothesis: str) -> float:
    """(substitutions + deletions + insertions) / reference words, by edit distance."""
    ref, hyp = words(reference), words(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        current = [i]
        for j, h in enumerate(hyp, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h)))
        previous = current
    return previous[-1] / len(ref)


def is_clear_mismatch(expected: str, heard: str) -> bool:
    """True when ``heard`` is plainly not a reading of ``expected``."""
    return word_error_rate(expected, heard) > MISMATCH_WER
