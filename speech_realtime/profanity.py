"""Azure's profanity handling of recognition results: ``masked``, ``removed``, ``raw``.

Azure Speech masks profanity by default ("replaces letters in profane words with star
characters"), removes it on request, or leaves it ("raw"); the Azure front ends apply the
setting to every form of a result (display text, ITN, masked ITN, lexical, hypotheses). The
word lists are glin-profanity's dictionaries (one per language, data files in the package), not
a list kept here. Matching is case-insensitive and on whole words: "ass" is found in "Ass!" and
"ass," but not in "class" or "assistant"; a multi-word entry matches across any whitespace.
"""

from __future__ import annotations

import re
from enum import Enum
from functools import cache
from typing import Any

from glin_profanity.data.dictionary import dictionary

from .errors import BadRequest
from .languages import language_name

#: The language whose list is used when a result's language is unknown or has no list.
DEFAULT_LIST = "english"
#: Languages written without spaces between words: their entries match inside longer text.
_UNSPACED = frozenset({"chinese", "japanese", "thai"})
_SPACES = re.compile(r"\s+")


class Profanity(str, Enum):
    """How profane words appear in a result."""

    MASKED = "masked"
    REMOVED = "removed"
    RAW = "raw"

    @classmethod
    def parse(cls, value: object) -> Profanity:
        """The option named by ``value`` (any case; None or empty: Azure's default, masked);
        :class:`BadRequest` naming the parameter for anything else."""
        if value is None or value == "":
            return cls.MASKED
        text = value.strip().lower() if isinstance(value, str) else None
        if text not in {option.value for option in cls}:
            shown = value[:40] if isinstance(value, str) else type(value).__name__
            allowed = ", ".join(option.value for option in cls)
            message = f"profanity {shown!r} is not one of {allowed}"
            raise BadRequest(message, code="invalid_field", param="profanity")
        return cls(text)


def apply(text: str, mode: Profanity | str, language: str | None = None) -> str:
    """``text`` with its profane words handled as ``mode`` says, using the list of ``language``
    (a tag such as ``en-US``; English when it is None or has no list).

    ``masked``: every character of a profane word except spaces becomes ``*`` (the length and
    everything around the word are kept). ``removed``: the word goes, with one space next to it,
    so no double space or space before punctuation is left. ``raw``: ``text`` unchanged.
    """
    mode = Profanity(mode)
    if mode is Profanity.RAW or not text:
        return text
    pattern = _pattern(_list_name(language))
    if mode is Profanity.MASKED:
        return pattern.sub(_mask, text)
    return _remove(pattern, text)


def _mask(match: re.Match[str]) -> str:
    return "".join(char if char.isspace() else "*" for char in match.group(0))


def _remove(pattern: re.Pattern[str], text: str) -> str:
    """``text`` without ``pattern``'s matches; each removal takes one adjacent space with it."""
    pieces: list[str] = []
    position = 0
    for match in pattern.finditer(text):
        start, end = match.span()
        kept = text[position:start]
        if kept.endswith(" "):
            kept = kept[:-1]
        elif end < len(text) and text[end] == " ":
            end += 1
        pieces.append(kept)
        position = end
    if not pieces:
        return text
    pieces.append(text[position:])
    return "".join(pieces).strip()


def _list_name(language: str | None) -> str:
    name = language_name(language) if language else None
    return name if name in _available() else DEFAULT_LIST


@cache
def _available() -> frozenset[str]:
    return frozenset(dictionary.available_languages)


@cache
def _pattern(list_name: str) -> re.Pattern[str]:
    """The list's entries as one case-insensitive pattern, on word boundaries unless the
    language has no spaces. The entries are folded into a prefix tree, so each place in a text
    costs a walk down the tree rather than a try of every entry in turn; at each place the
    longest entry is tried first, so a phrase wins over a word it starts with."""
    entries = {" ".join(_SPACES.split(word.strip().lower())) for word in dictionary.get_words(list_name)}
    entries.discard("")
    fold = _case_classes({char for entry in entries for char in entry})
    tree: dict[str, Any] = {}
    for entry in entries:
        node = tree
        for char in entry:
            node = node.setdefault(fold[char], {})
        node[_END] = {}
    body = _tree_pattern(tree)
    if list_name in _UNSPACED:
        return re.compile(body, re.IGNORECASE)
    return re.compile(rf"(?<!\w){body}(?!\w)", re.IGNORECASE)


#: Marks the end of an entry in the prefix tree (no character of an entry is empty).
_END = ""


def _case_classes(chars: set[str]) -> dict[str, str]:
    """Each of ``chars`` mapped to the first of them that it matches case-insensitively, so
    that characters the pattern cannot tell apart (Turkish ``ı`` and ``i`` both match ``I``)
    share one branch of the tree and the longest entry still wins."""
    ordered = sorted(chars)
    return {
        char: next(other for other in ordered if re.fullmatch(re.escape(other), char, re.IGNORECASE))
        for char in ordered
    }


def _tree_pattern(node: dict[str, Any]) -> str:
    """A regular expression matching the entries below ``node``, longest first."""
    branches = [
        (r"\s+" if char == " " else re.escape(char)) + _tree_pattern(child)
        for char, child in sorted(node.items())
        if char != _END
    ]
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    return f"(?:{body})?" if _END in node else body
