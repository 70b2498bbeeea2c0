"""Subtitles from timed segments: SubRip (SRT) and WebVTT, as speech APIs return them.

Pure text functions on anything with ``text``, ``start`` and ``end`` (seconds), so every front
end (the OpenAI audio API's ``srt``/``vtt`` response formats, a CLI) renders cues the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Protocol

_WHITESPACE = re.compile(r"\s+")


class Timed(Protocol):
    """A stretch of text with its place in the audio, in seconds."""

    @property
    def text(self) -> str: ...

    @property
    def start(self) -> float: ...

    @property
    def end(self) -> float: ...


def timestamp(seconds: float, separator: str = ".") -> str:
    """``HH:MM:SS.mmm`` (``separator`` ``,`` for SRT); negative times clamp to zero."""
    millis = max(0, round(seconds * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def _cues(segments: Iterable[Timed]) -> list[tuple[float, float, str]]:
    """Non-empty cues with one-line text and times that never run backwards.

    A blank line ends a cue in both formats, so line breaks inside a segment become spaces; an
    end before its start (a backend rounding quirk) is raised to the start.
    """
    cues = []
    for segment in segments:
        text = _WHITESPACE.sub(" ", segment.text).strip()
        if text:
            start = max(0.0, segment.start)
            cues.append((start, max(start, segment.end), text))
    return cues


def srt(segments: Iterable[Timed]) -> str:
    """SubRip text: numbered cues, ``HH:MM:SS,mmm --> HH:MM:SS,mmm``, a blank line after each."""
    return "".join(
        f"{index}\n{timestamp(start, ',')} --> {timestamp(end, ',')}\n{text.replace('-->', '->')}\n\n"
        for index, (start, end, text) in enumerate(_cues(segments), 1)
    )


def _vtt_text(text: str) -> str:
    """Cue text with WebVTT's markup characters escaped (``-->`` cannot survive ``&gt;``)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def vtt(segments: Iterable[Timed]) -> str:
    """WebVTT text: the ``WEBVTT`` header, then ``HH:MM:SS.mmm --> HH:MM:SS.mmm`` cues."""
    cues = "".join(
        f"{timestamp(start)} --> {timestamp(end)}\n{_vtt_text(text)}\n\n"
        for start, end, text in _cues(segments)
    )
    return f"WEBVTT\n\n{cues}"
