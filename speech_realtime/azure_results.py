"""Azure Speech result shapes both Azure front ends share: 100-ns ticks, NBest entries, and how a
client's profanity and language-identification settings shape them (:class:`ResultStyle`).

The REST short-audio answer (``web/azure_speech.py``) and the SDK protocol's ``speech.phrase``
(``usp/results.py``) build their recognition results from these, so neither front end depends on
the other's package.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .languages import primary
from .options import Word
from .profanity import Profanity, apply
from .text import words as lexical_words

TICKS = 10_000_000

_ITN_DROP = re.compile(r"[^\w\s'.:%$-]|(?<!\d)[.:](?!\d)|(?<!\w)-|-(?!\w)")



@dataclass(frozen=True)
class ResultStyle:
    """How a turn's results are written: ``profanity`` handling (Azure's default: masked) with
    the list of ``language``, and ``identified``, the ``PrimaryLanguage`` a turn with language
    identification reports (None when identification is off)."""

    profanity: Profanity = Profanity.MASKED
    language: str | None = None
    identified: dict[str, str] | None = None

    @classmethod
    def parse(
        cls, query: dict[str, str], context: Any, language: str | None, fixed: str | None
    ) -> ResultStyle:
        """The style a socket's ``query`` and a turn's ``speech.context`` ask for.

        Profanity: ``phraseDetection.enrichment.profanity`` (the Speech SDKs send it there and
        as the query's ``profanity``), else the query's, else masked; any case; another value
        is :class:`BadRequest`. Identification: the candidates of ``lidEnabled`` or
        ``languageId.languages``. ``language`` is the turn's recognition language, ``fixed``
        the backend's only language (None: it detects and does not say what).
        """
        context = context if isinstance(context, dict) else {}
        asked = _dig(context, "phraseDetection", "enrichment", "profanity")
        profanity = Profanity.parse(asked if asked is not None else query.get("profanity"))
        candidates = identification_candidates(query, context)
        identified = primary_language(candidates, fixed) if candidates else None
        if identified is not None:  # the query's language is only the SDK's default then
            language = identified["Language"] if identified["Language"] != UNKNOWN else None
        return cls(profanity, language or fixed, identified)

    def text(self, text: str) -> str:
        return apply(text, self.profanity, self.language)


#: ``PrimaryLanguage`` of a turn whose language is not known.
UNKNOWN = "Unknown"
#: Azure's defaults: profanity masked (English list), no language identification.
DEFAULT_STYLE = ResultStyle()


def identification_candidates(query: dict[str, str], context: dict[str, Any]) -> tuple[str, ...]:
    """The candidate locales of language identification: ``lidEnabled=en-US,de-DE`` (query) or
    ``languageId.languages`` (``speech.context``); empty when identification is off."""
    listed = _dig(context, "languageId", "languages")
    if isinstance(listed, list) and listed:
        return tuple(str(item) for item in listed if item)
    return tuple(item.strip() for item in query.get("lidEnabled", "").split(",") if item.strip())


def primary_language(candidates: tuple[str, ...], fixed: str | None) -> dict[str, str]:
    """``PrimaryLanguage`` for a turn identified among ``candidates``.

    The backends report no detected language: a backend with one fixed language (the English
    engine) has spoken the candidate in that language; a single candidate is the language;
    otherwise the language is ``Unknown``, as Azure reports a language it could not identify.
    """
    if fixed:
        for candidate in candidates:
            if primary(candidate) == fixed:
                return {"Language": candidate, "Confidence": "High"}
    if len(candidates) == 1:
        return {"Language": candidates[0], "Confidence": "High"}
    return {"Language": UNKNOWN, "Confidence": UNKNOWN}


def _dig(mapping: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(mapping, dict):
            return None
        mapping = mapping.get(key)
    return mapping


def ticks(seconds: float) -> int:
    return max(0, round(seconds * TICKS))


def nbest(
    text: str,
    offset: float,
    duration: float,
    words: tuple[Any, ...] | None,
    style: ResultStyle = DEFAULT_STYLE,
) -> dict[str, Any]:
    """One NBest entry: Lexical (words, numbers spelled out), ITN and MaskedITN (lower case,
    digits kept, no punctuation), Display (as transcribed), each with ``style``'s profanity
    handling, since Azure applies it to every form ("MaskedITN: the ITN form with profanity
    masking applied, if requested"); Words whose text is removed are left out.

    Confidence is 0.0: the Realtime API reports no confidence, so none is invented.
    """
    itn = style.text(" ".join(_ITN_DROP.sub(" ", text.lower()).split()))
    entry: dict[str, Any] = {
        "Confidence": 0.0,
        "Lexical": style.text(" ".join(lexical_words(text))),
        "ITN": itn,
        "MaskedITN": itn,
        "Display": style.text(text),
    }
    if words is not None:
        entry["Words"] = [_word(word, shown) for word in words if (shown := style.text(word.text))]
    return entry


def _word(word: Word, text: str) -> dict[str, Any]:
    return {"Word": text, "Offset": ticks(word.start), "Duration": ticks(word.end - word.start)}
