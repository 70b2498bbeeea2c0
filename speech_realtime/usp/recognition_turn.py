"""A recognition turn's record, and the settings it takes from the socket's query and its
``speech.context``: language, output form, profanity and language identification, the phrase
list, segmentation and silence.

Every setting is checked as the turn begins: one the service cannot take raises
:class:`BadRequest` naming it, which the machine turns into a 1007 close before any upstream
session.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..azure_results import DEFAULT_STYLE, ResultStyle
from ..errors import BadRequest
from ..options import RecognitionOptions, Segmentation
from .effects import Send
from .frames import text_frame
from .recognition_config import (
    QuerySettings,
    TurnContext,
    phrase_list,
    segmentation_query,
    turn_segmentation,
)
from .results import status_body


@dataclass(frozen=True)
class SocketSettings:
    """What a recognition socket's query fixes for each of its turns; ``fixed_language`` is the
    only language the backend transcribes (ISO-639-1), if it has one."""

    query: QuerySettings
    raw: dict[str, str]
    segmentation: dict[str, str]
    fixed_language: str | None = None

    @classmethod
    def parse(cls, query: dict[str, str], fixed_language: str | None = None) -> SocketSettings:
        return cls(QuerySettings.parse(query), query, segmentation_query(query), fixed_language)


@dataclass
class RecognitionTurn:
    """One recognition turn: its settings, and what its audio and results have done so far."""

    request_id: str
    language: str | None
    detailed: bool
    word_times: bool
    rate: int = 16000
    channels: int = 1
    audio_bytes: int = 0
    carry: bytes = b""
    phrases: int = 0
    heard_speech: bool = False
    speaking: bool = False
    end_pending: bool = False
    silent_at: float | None = None
    style: ResultStyle = DEFAULT_STYLE
    keywords: tuple[str, ...] = ()
    segmentation: Segmentation = field(default_factory=Segmentation)

    @property
    def seconds(self) -> float:
        return self.audio_bytes / (2 * self.channels * self.rate)

    def send(self, path: str, body: dict[str, Any]) -> Send:
        """Send the text frame ``path`` with ``body`` for this turn."""
        return Send(text_frame(path, self.request_id, body))

    def silence(self, status: str, duration: float, offset: float = 0.0) -> Send:
        """A ``speech.phrase`` without text (``NoMatch``, ``InitialSilenceTimeout``)."""
        return self.send("speech.phrase", status_body(status, duration, offset))

    @classmethod
    def begin(cls, request_id: str, context: dict[str, Any], socket: SocketSettings) -> RecognitionTurn:
        """A turn with the settings of ``context`` (``speech.context``; empty when the audio came
        first), else the query's. :class:`BadRequest` for a setting the service cannot take."""
        asked, query = TurnContext.parse(context), socket.query
        language = asked.language or query.language
        style = ResultStyle.parse(socket.raw, context or None, language, socket.fixed_language)
        return cls(
            request_id,
            language,
            query.detailed or asked.detailed,
            query.word_times,
            style=style,
            keywords=_keywords(context),
            segmentation=turn_segmentation(context, socket.segmentation),
        )


def _keywords(context: dict[str, Any]) -> tuple[str, ...]:
    """The phrase list of ``speech.context``, checked (too many or too long: refused, naming it)."""
    try:
        return RecognitionOptions(keywords=phrase_list(context)).keywords
    except BadRequest as exc:
        raise BadRequest(f"phrase list: {exc.message}", code="invalid_field", param="keywords") from None
