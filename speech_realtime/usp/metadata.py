"""Synthesis metadata: where the service's words fall in the input text, and the bodies of
``audio.metadata`` (word and sentence boundaries, bookmarks, the session end).

- word boundaries: the service's word timings (transcript deltas against the audio position),
  each matched to the literal word of the input (the SDK looks the text up in its input);
- sentence boundaries: from the first to the last word of each sentence of the input;
- bookmarks: at the start of the first word after the mark, or at the end of its part's audio.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ..azure_results import ticks
from ..ssml import Text

_TOKEN = re.compile(r"\S+")
_EDGE_PUNCTUATION = re.compile(r"^[^\w]+|[^\w]+$")
_SENTENCE_END = re.compile(r"[.!?…。！？][\"'»”’)\]]*$")


@dataclass
class Token:
    start: int
    end: int
    literal: str

    @property
    def word(self) -> str:
        """The literal without its leading and trailing punctuation (all of it if that is all)."""
        return _EDGE_PUNCTUATION.sub("", self.literal) or self.literal

    @property
    def ends_sentence(self) -> bool:
        return bool(_SENTENCE_END.search(self.literal))


@dataclass
class PartTimeline:
    """Timing state of the text part being read: the next input word, the next mark, and where
    the current sentence began."""

    text: Text
    tokens: list[Token] = field(init=False)
    next_token: int = 0
    next_mark: int = 0
    sentence_start: tuple[int, float] | None = None  # (char, seconds)

    def __post_init__(self) -> None:
        self.tokens = [Token(m.start(), m.end(), m.group()) for m in _TOKEN.finditer(self.text.text)]

    @property
    def last_word_read(self) -> bool:
        return self.next_token >= len(self.tokens)

    def match(self, heard: str) -> Token | None:
        """The input token the service's word stands for: the next one that matches within a
        short look-ahead, else simply the next one (a number read out, a contraction split)."""
        wanted = _normal(heard)
        if not wanted and not heard.strip():
            return None
        window = self.tokens[self.next_token : self.next_token + 4]
        for skip, token in enumerate(window):
            if _normal(token.literal) == wanted:
                self.next_token += skip + 1
                return token
        if self.next_token < len(self.tokens):
            self.next_token += 1
            return self.tokens[self.next_token - 1]
        return None

    def marks_before(self, before: int) -> list[str]:
        """The names of the marks not yet passed that stand before character ``before``."""
        names: list[str] = []
        marks = self.text.marks
        while self.next_mark < len(marks) and marks[self.next_mark].position <= before:
            names.append(marks[self.next_mark].name)
            self.next_mark += 1
        return names

    def end_sentence(self, end_char: int) -> tuple[str, float] | None:
        """The sentence ending at ``end_char`` and when it began (seconds), if one began."""
        start = self.sentence_start
        self.sentence_start = None
        if start is None:
            return None
        return self.text.text[start[0] : end_char], start[1]


def boundary(kind: str, offset: float, duration: float, text: str) -> dict[str, Any]:
    """A ``WordBoundary`` or ``SentenceBoundary`` body (``Offset`` and ``Duration`` are audio
    ticks; ``Length`` counts UTF-16 code units, as the SDKs index their input text)."""
    data = {
        "Offset": ticks(offset),
        "Duration": ticks(max(0.0, duration)),
        "text": {"Text": text, "Length": utf16_length(text), "BoundaryType": kind},
    }
    return {"Metadata": [{"Type": kind, "Data": data}]}


def utf16_length(text: str) -> int:
    """The length of ``text`` in UTF-16 code units (a character outside the BMP counts two)."""
    return len(text.encode("utf-16-le")) // 2


def bookmark(name: str, offset: float) -> dict[str, Any]:
    return {"Metadata": [{"Type": "Bookmark", "Data": {"Offset": ticks(offset), "Bookmark": name}}]}


def session_end(offset: float) -> dict[str, Any]:
    return {"Metadata": [{"Type": "SessionEnd", "Data": {"Offset": ticks(offset)}}]}


def _normal(word: str) -> str:
    return _EDGE_PUNCTUATION.sub("", word).lower()
