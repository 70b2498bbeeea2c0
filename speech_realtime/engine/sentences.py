"""Text cut into pieces the voice speaks one at a time: sentences, and long sentences at clauses.

A response is voiced one piece per step (one Piper call each), so the length of a piece bounds
how long a step takes and how long the client waits between audio deltas. A sentence is a piece
unless it is longer than :data:`MAX_PIECE_CHARS` (a 4,096-character text with no punctuation at
all is one "sentence"): then it is cut at the last clause boundary (comma, dash) that keeps the
piece under the bound, failing that at the last space, so no word is cut; only a single "word"
longer than the bound is cut inside it. Slower speech is longer audio for the same text, and
Piper's time grows with the audio, so the bound shrinks with the speed (:func:`piece_limit`).

The first sentence of a text is also cut after its first clause (:func:`first_clause`), so its
first audio does not wait for the voice's front network to read the whole sentence.
"""

from __future__ import annotations

import re

#: Longest piece voiced in one step: about 12 s of speech at speed 1 (48 s at speed 0.25).
MAX_PIECE_CHARS = 200
#: The bound at the slowest speeds: about 19 s of speech at speed 0.25.
MIN_PIECE_CHARS = 80
#: A clause cut is only taken if it leaves at least this much in the piece (no tiny pieces).
MIN_CLAUSE_CHARS = 40

_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+|\n+")
#: Where a clause ends: after a comma (or a CJK one) or a dash; the mark stays with its clause.
_CLAUSE_END = re.compile(r"[,\u3001\uff0c\u2013\u2014]|\s-{1,2}(?=\s)")
_SPACE = re.compile(r"\s+")
#: A clause mark the first clause may end at: a comma or a dash followed by a space (so never
#: inside "3,000" or "well-known"), not after an abbreviation that reads as part of the clause.
_FIRST_CLAUSE_END = re.compile(r"(?:[,\u3001\uff0c\u2013\u2014]|\s-{1,2})(?=\s)")
_NOT_A_CLAUSE_END = re.compile(r"\b(?:e\.g|i\.e|cf|viz)\.,$", re.IGNORECASE)
#: Shortest first clause, and shortest rest, cut apart: shorter ones are not worth a join.
MIN_FIRST_CLAUSE_CHARS = 20


def piece_limit(speed: float) -> int:
    """Longest piece at ``speed``: :data:`MAX_PIECE_CHARS` at speed 1 and above, less when slower."""
    return max(MIN_PIECE_CHARS, round(MAX_PIECE_CHARS * min(1.0, speed)))


def split_sentences(text: str, limit: int = MAX_PIECE_CHARS) -> list[str]:
    """``text`` cut after sentence punctuation, sentences over ``limit`` cut again, each stripped."""
    pieces: list[str] = []
    for sentence in _SENTENCE_END.split(text):
        if sentence and sentence.strip():
            pieces += bounded_pieces(sentence.strip(), limit)
    return pieces


def bounded_pieces(sentence: str, limit: int = MAX_PIECE_CHARS) -> list[str]:
    """``sentence`` cut into pieces of at most ``limit`` characters, at clauses, else at spaces."""
    pieces: list[str] = []
    rest = sentence
    while len(rest) > limit:
        cut = _last_cut(_CLAUSE_END, rest, limit, MIN_CLAUSE_CHARS, keep=True)
        cut = cut or _last_cut(_SPACE, rest, limit, 1, keep=False) or (limit, limit)
        head, rest = rest[: cut[0]], rest[cut[1] :]
        pieces.append(head.strip())
        rest = rest.strip()
    if rest:
        pieces.append(rest)
    return [piece for piece in pieces if piece]


def _last_cut(
    pattern: re.Pattern[str], text: str, limit: int, least: int, *, keep: bool
) -> tuple[int, int] | None:
    """``(end of head, start of rest)`` at the last match leaving a head of ``least..limit`` chars.

    ``keep``: the match (a clause mark) ends the head; otherwise (a space) it is dropped.
    """
    best = None
    for match in pattern.finditer(text, 0, limit + 1):
        head_end = match.end() if keep else match.start()
        if least <= head_end <= limit:
            best = (head_end, match.end())
    return best


def first_clause(sentence: str, least: int = MIN_FIRST_CLAUSE_CHARS) -> list[str]:
    """``sentence`` as its first clause and the rest, or whole when no clause mark leaves both at
    least ``least`` characters long. The mark stays with the first clause."""
    for match in _FIRST_CLAUSE_END.finditer(sentence):
        head, rest = sentence[: match.end()].strip(), sentence[match.end() :].strip()
        if _NOT_A_CLAUSE_END.search(head):
            continue
        if len(head) >= least:
            return [head, rest] if len(rest) >= least else [sentence]
    return [sentence]
