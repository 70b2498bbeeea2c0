"""The results of a recognition sent as several items: one per piece of the audio, in order.

Each committed item is matched to its piece in commit order (the server acknowledges commits in
the order it gets them), and its transcription is kept with it, so the transcript reads in
audio order however the transcriptions arrive. Segments are the pieces' real places in the
audio: the engine's own segments and word times when its ``.completed`` event carries the
``x_segments`` extension (times from the start of the item's committed audio), else one
segment over the piece's speech with word times estimated over its speech runs only (a pause
inside a piece gets no words).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..audio.phrasing import Piece
from ..options import Segment, TokenLogprob, Word, spread_words
from .events import ServerEvent
from .transcription import token_logprobs

_EPSILON = 1e-6
#: Where a transcript marks a pause: a phrase is likely to end after a sentence, else a clause.
_SENTENCE_MARKS = (".", "?", "!", "…")
_CLAUSE_MARKS = (",", ";", ":")


@dataclass
class _Item:
    piece: Piece
    item_id: str | None = None
    text: str | None = None
    segments: tuple[Segment, ...] = ()
    usage: dict[str, Any] | None = field(default=None, repr=False)
    logprobs: tuple[TokenLogprob, ...] | None = field(default=None, repr=False)


class PieceResults:
    """Per-piece transcriptions, collected by item id."""

    def __init__(self, pieces: Sequence[Piece]) -> None:
        self._items = [_Item(piece) for piece in pieces]
        self._by_id: dict[str, _Item] = {}
        self._committed = 0

    @property
    def done(self) -> bool:
        return all(item.text is not None for item in self._items)

    def committed(self, item_id: str) -> None:
        """The next piece's commit was acknowledged as ``item_id``."""
        if self._committed < len(self._items) and item_id:
            item = self._items[self._committed]
            item.item_id = item_id
            self._by_id[item_id] = item
        self._committed += 1

    def owns(self, event: ServerEvent) -> bool:
        """Whether ``event`` is about one of this recognition's items."""
        return event.text("item_id") in self._by_id

    def completed(self, event: ServerEvent) -> None:
        """Keep the transcription an ``...input_audio_transcription.completed`` event carries."""
        item = self._by_id[event.text("item_id")]
        item.text = event.text("transcript").strip()
        usage = event.data.get("usage")
        item.usage = usage if isinstance(usage, dict) else None
        item.logprobs = token_logprobs(event.data.get("logprobs"))
        item.segments = _engine_segments(event.data.get("x_segments"), item.piece) or _estimated(
            item.text, item.piece
        )

    @property
    def text(self) -> str:
        return " ".join(item.text for item in self._items if item.text)

    @property
    def segments(self) -> tuple[Segment, ...]:
        return tuple(segment for item in self._items for segment in item.segments)

    @property
    def logprobs(self) -> tuple[TokenLogprob, ...] | None:
        """The items' token log probabilities in audio order; None when no item has any."""
        given = [item.logprobs for item in self._items if item.logprobs is not None]
        return tuple(token for tokens in given for token in tokens) if given else None

    @property
    def usage(self) -> dict[str, Any] | None:
        """The items' usage added up (numbers summed, other fields as the first item had them)."""
        total: dict[str, Any] | None = None
        for item in self._items:
            if item.usage is not None:
                total = item.usage if total is None else _add(total, item.usage)
        return total


def _add(left: dict[str, Any], right: dict[str, Any]) -> dict[str, Any]:
    merged = dict(left)
    for key, value in right.items():
        mine = merged.get(key)
        if isinstance(mine, dict) and isinstance(value, dict):
            merged[key] = _add(mine, value)
        elif _number(mine) and _number(value):
            merged[key] = mine + value
        else:
            merged.setdefault(key, value)
    return merged


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _estimated(text: str, piece: Piece) -> tuple[Segment, ...]:
    """A segment per phrase of the piece, with the phrase's real bounds: the transcript is
    shared among the phrases by their length in speech (see :func:`share_words`), and each
    phrase's words are spread over its speech runs."""
    segments = []
    phrases = piece.phrase_bounds
    for (start, end), words in zip(phrases, share_words(text, piece), strict=True):
        if words:
            runs = [(max(a, start), min(b, end)) for a, b in piece.speech if a < end and b > start]
            segments.append(Segment(" ".join(words), start, end, spread_over_runs(" ".join(words), runs)))
    return tuple(segments)


def share_words(text: str, piece: Piece) -> list[list[str]]:
    """``text``'s words shared among the piece's phrases in proportion to their speech time,
    each cut moved to the nearest sentence end (else clause end) within half an average
    phrase, where the transcript has one: a transcription model punctuates where
    the speaker paused. Estimated, like word times: a word may land in a neighbouring phrase."""
    words = text.split()
    phrases = piece.phrase_bounds
    if len(phrases) == 1:
        return [words]
    spoken = [
        sum(min(b, end) - max(a, start) for a, b in piece.speech if a < end and b > start)
        for start, end in phrases
    ]
    chars = [0, *itertools.accumulate(len(word) + 1 for word in words)]  # chars before word i
    total_time = sum(spoken) or 1.0
    reach = chars[-1] / len(phrases) / 2
    cuts, elapsed, previous = [], 0.0, 0
    for share in spoken[:-1]:
        elapsed += share
        target = chars[-1] * elapsed / total_time
        allowed = range(min(previous + 1, len(words)), len(words) + 1)  # a word for each, if any
        near = [i for i in allowed if abs(chars[i] - target) <= reach]
        ends = [i for i in near if i and words[i - 1].endswith(_SENTENCE_MARKS)]
        clauses = [i for i in near if i and words[i - 1].endswith(_CLAUSE_MARKS)]
        pool = ends or clauses or near or allowed
        previous = min(pool, key=lambda i: abs(chars[i] - target))
        cuts.append(previous)
    edges = [0, *cuts, len(words)]
    return [words[a:b] for a, b in itertools.pairwise(edges)]


def spread_over_runs(text: str, runs: Sequence[tuple[float, float]]) -> tuple[Word, ...]:
    """``text``'s words over the speech ``runs`` (the pauses between them get none), each word
    given time in proportion to its length."""
    spoken = sum(end - start for start, end in runs)
    words = spread_words(text, 0.0, spoken)

    def place(offset: float, *, opening: bool) -> float:
        """The time ``offset`` seconds into the speech; a word that starts where a run ends
        starts the next run."""
        for start, end in runs:
            length = end - start
            if offset < length - _EPSILON or (offset <= length + _EPSILON and not opening):
                return min(end, round(start + offset, 3))
            offset -= length
        return runs[-1][1]

    return tuple(
        Word(word.text, place(word.start, opening=True), place(word.end, opening=False)) for word in words
    )


def _seconds(value: object) -> float | None:
    return float(value) if _number(value) and value >= 0 else None  # type: ignore[operator,arg-type]


def _engine_segments(raw: object, piece: Piece) -> tuple[Segment, ...]:
    """The ``x_segments`` of the engine's ``.completed`` event, moved to the piece's place in the
    audio; () when absent or malformed (the estimate is used then)."""
    if not isinstance(raw, list) or not raw:
        return ()
    segments = []
    for entry in raw:
        if not isinstance(entry, dict) or not isinstance(entry.get("text"), str):
            return ()
        start, end = _seconds(entry.get("start")), _seconds(entry.get("end"))
        if start is None or end is None:
            return ()
        words = []
        for word in entry.get("words") or ():
            first = _seconds(word.get("start")) if isinstance(word, dict) else None
            last = _seconds(word.get("end")) if isinstance(word, dict) else None
            if first is None or last is None or not isinstance(word.get("word"), str):
                return ()
            words.append(Word(word["word"].strip(), _at(piece, first), _at(piece, last)))
        text = entry["text"].strip()
        if text:
            segments.append(Segment(text, _at(piece, start), _at(piece, end), tuple(words)))
    return tuple(segments)


def _at(piece: Piece, offset: float) -> float:
    """A time in the item's audio as a time in the whole audio, kept inside the piece."""
    return round(min(piece.start + offset, piece.end), 3)
