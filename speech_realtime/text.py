"""Comparing texts by their words: used to check that TTS read the text and to measure WER."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from rapidfuzz.distance import Levenshtein

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_NUMBER = re.compile(r"(\d{1,3}(?:,\d{3})+|\d+)(?:([.:])(\d+))?(%?)")
_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
).split()
_CURRENCY = re.compile(r"\$(\d[\d,]*(?:\.\d+)?)")
_DIGIT_RUN = re.compile(r"\b\d(?: \d)+\b")
_TITLES = {"dr": "doctor", "mr": "mister", "mrs": "missus", "ms": "miss"}
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]

#: Word error rate above which a reading counts as clearly not the requested text.
MISMATCH_WER = 0.5


def spell_number(n: int) -> str:
    """``n`` (0 to 999,999) in English words; larger numbers digit by digit."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    if n < 1000:
        rest = n % 100
        return _ONES[n // 100] + " hundred" + ("" if rest == 0 else " " + spell_number(rest))
    if n < 1_000_000:
        rest = n % 1000
        return spell_number(n // 1000) + " thousand" + ("" if rest == 0 else " " + spell_number(rest))
    return " ".join(_ONES[int(d)] for d in str(n))


def _spell_match(match: re.Match[str]) -> str:
    whole, separator, fraction, percent = match.groups()
    spoken = spell_number(int(whole.replace(",", "")))
    if fraction is not None:
        if separator == ":" or len(fraction) == 2:
            spoken += "" if int(fraction) == 0 else " " + spell_number(int(fraction))
        else:
            spoken += " point " + " ".join(_ONES[int(d)] for d in fraction)
    return f" {spoken}{' percent' if percent else ''} "


def words(text: str) -> list[str]:
    """Lower-case words of ``text`` without punctuation, numbers spelled out.

    Apostrophes inside words are kept; "10:30", "10.30" and "ten thirty" all give the same words,
    as do "$25" and "25 dollars", "Dr." and "doctor", "4 5 7 2" and "4572", so that a transcript
    is not penalised for a writing convention.
    """
    folded = unicodedata.normalize("NFKC", text).lower().replace("’", "'")
    folded = _CURRENCY.sub(r"\1 dollars", folded)
    folded = _DIGIT_RUN.sub(lambda m: m.group(0).replace(" ", ""), folded)
    return [_TITLES.get(w, w) for w in _WORD.findall(_NUMBER.sub(_spell_match, folded))]


def word_edits(reference: str, hypothesis: str) -> tuple[int, int]:
    """(substitutions + deletions + insertions, reference words), by edit distance over words.

    rapidfuzz computes the distance over the word sequences in C (bit-parallel), so a check of a
    4,096-character text costs well under a millisecond instead of holding the GIL for tenths
    of a second.
    """
    ref, hyp = words(reference), words(hypothesis)
    return Levenshtein.distance(ref, hyp), len(ref)


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Word edits per reference word (1.0 for any words against an empty reference)."""
    edits, total = word_edits(reference, hypothesis)
    return edits / total if total else float(edits > 0)


def corpus_word_error_rate(pairs: Iterable[tuple[str, str]]) -> float:
    """WER over many (reference, hypothesis) pairs: all edits over all reference words."""
    counts = [word_edits(reference, hypothesis) for reference, hypothesis in pairs]
    total = sum(n for _, n in counts)
    return sum(e for e, _ in counts) / total if total else 0.0


def is_clear_mismatch(expected: str, heard: str) -> bool:
    """True when ``heard`` is plainly not a reading of ``expected``."""
    return word_error_rate(expected, heard) > MISMATCH_WER
