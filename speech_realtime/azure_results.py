"""Azure Speech result shapes both Azure front ends share: 100-ns ticks and NBest entries.

The REST short-audio answer (``web/azure_speech.py``) and the SDK protocol's ``speech.phrase``
(``usp/results.py``) build their recognition results from these, so neither front end depends on
the other's package.
"""

from __future__ import annotations

import re
from typing import Any

from .text import words as lexical_words

TICKS = 10_000_000

_ITN_DROP = re.compile(r"[^\w\s'.:%$-]|(?<!\d)[.:](?!\d)|(?<!\w)-|-(?!\w)")


def ticks(seconds: float) -> int:
    return max(0, round(seconds * TICKS))


def nbest(text: str, offset: float, duration: float, words: tuple[Any, ...] | None) -> dict[str, Any]:
    """One NBest entry: Lexical (words, numbers spelled out), ITN and MaskedITN (lower case,
    digits kept, no punctuation; nothing is masked), Display (as transcribed).

    Confidence is 0.0: the Realtime API reports no confidence, so none is invented.
    """
    itn = " ".join(_ITN_DROP.sub(" ", text.lower()).split())
    entry: dict[str, Any] = {
        "Confidence": 0.0,
        "Lexical": " ".join(lexical_words(text)),
        "ITN": itn,
        "MaskedITN": itn,
        "Display": text,
    }
    if words is not None:
        entry["Words"] = [
            {"Word": word.text, "Offset": ticks(word.start), "Duration": ticks(word.end - word.start)}
            for word in words
        ]
    return entry
