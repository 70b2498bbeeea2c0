"""The bodies of recognition results: ``speech.phrase`` in its simple and detailed (NBest) forms,
``speech.hypothesis``, and the RecognitionStatus of a failure, in the turn's
:class:`~speech_realtime.azure_results.ResultStyle` (ticks, NBest entries and the style come from
:mod:`speech_realtime.azure_results`, which the REST front end shares)."""

from __future__ import annotations

from typing import Any

from ..azure_results import DEFAULT_STYLE, ResultStyle, nbest, ticks
from ..errors import RateLimited, Saturated, SpeechError, UpstreamAuth
from ..options import Phrase, spread_words


def recognition_status(error: SpeechError) -> str:
    """The RecognitionStatus whose SDK error matches ``error`` (none of them is retried)."""
    if isinstance(error, (RateLimited, Saturated)):
        return "TooManyRequests"
    if isinstance(error, UpstreamAuth):
        return "Forbidden"
    if 400 <= error.status < 500 and error.status != 408:
        return "BadRequest"
    return "Error"


def offset_body(seconds: float) -> dict[str, Any]:
    """The body of ``speech.startDetected`` and ``speech.endDetected``."""
    return {"Offset": ticks(seconds)}


def hypothesis_body(
    text: str, offset: float, duration: float, style: ResultStyle = DEFAULT_STYLE
) -> dict[str, Any]:
    """A ``speech.hypothesis``: the text so far in ``style``, with its ``PrimaryLanguage``."""
    body = {"Text": style.text(text), "Offset": ticks(offset), "Duration": ticks(duration)}
    return with_language(body, style)


def recognized_body(
    phrase: Phrase, text: str, detailed: bool, word_times: bool, style: ResultStyle = DEFAULT_STYLE
) -> dict[str, Any]:
    """A ``speech.phrase`` with RecognitionStatus ``Success`` for ``phrase`` (``text`` stripped)
    in ``style``; ``detailed`` adds NBest, ``word_times`` its Words (the service's, else spread
    evenly)."""
    body: dict[str, Any] = {
        "RecognitionStatus": "Success",
        "DisplayText": style.text(text),
        "Offset": ticks(phrase.offset),
        "Duration": ticks(phrase.duration),
        "Channel": 0,
    }
    if detailed:
        words = None
        if word_times:
            words = phrase.words or spread_words(text, phrase.offset, phrase.offset + phrase.duration)
        body["NBest"] = [nbest(text, phrase.offset, phrase.duration, words, style)]
    return with_language(body, style)


def with_language(body: dict[str, Any], style: ResultStyle) -> dict[str, Any]:
    """``body`` with ``PrimaryLanguage`` when the turn identifies its language, as Azure sends
    it on hypotheses and phrases then (the SDK's ``AutoDetectSourceLanguageResult`` reads it)."""
    if style.identified is not None:
        body["PrimaryLanguage"] = dict(style.identified)
    return body


def status_body(status: str, duration: float, offset: float = 0.0) -> dict[str, Any]:
    """A ``speech.phrase`` without text: ``NoMatch``, ``InitialSilenceTimeout``."""
    return {"RecognitionStatus": status, "Offset": ticks(offset), "Duration": ticks(duration), "Channel": 0}


def failure_body(error: SpeechError) -> dict[str, Any]:
    """A ``speech.phrase`` ending a turn the upstream failed."""
    return {
        "RecognitionStatus": recognition_status(error),
        "Offset": 0,
        "Duration": 0,
        "Channel": 0,
        "Message": error.message,
    }
