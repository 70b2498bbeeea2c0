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

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..audio.phrasing import Piece
from ..options import Segment, Word, spread_words
from .events import ServerEvent

_EPSILON = 1e-6


@dataclass
class _Item:
    piece: Piece
    item_id: str | None = None
    text: str | None = None
    segments: tuple[Segment, ...] = ()
    usage: dict[str, Any] | None = field(default=None, repr=False)


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
    """One segment over the piece's speech, its words spread over the speech runs by length."""
    if not text:
        return ()
    return (Segment(text, piece.speech_start, piece.speech_end, spread_over_runs(text, piece.speech)),)


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
