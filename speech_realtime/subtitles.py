"""Subtitles from timed segments: SubRip (SRT) and WebVTT, as speech APIs return them.

Pure text functions on anything with ``text``, ``start`` and ``end`` (seconds), so every front
end (the OpenAI audio API's ``srt``/``vtt`` response formats, a CLI) renders cues the same way.
A segment can be long (an upload's phrase runs up to 25 s, see :mod:`.audio.phrasing`; a
streamed VAD turn as long as the speaker goes on), so a segment longer than a readable cue is
split between its ``words`` (where it has word times): at most :data:`MAX_CUE_SECONDS` and
:data:`MAX_CUE_CHARS` a cue, ending at a sentence end where there is one late enough.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Protocol

_WHITESPACE = re.compile(r"\s+")
#: The usual subtitle limits: a cue on screen at most 7 s, two lines of 42 characters.
MAX_CUE_SECONDS = 7.0
MAX_CUE_CHARS = 84
#: A sentence end closes a cue once it holds this many characters.
_MIN_SENTENCE_CUE_CHARS = 30
_SENTENCE_END = (".", "?", "!", "…")


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


def _one_line(text: str) -> str:
    return _WHITESPACE.sub(" ", text).strip()


def _split(segment: Timed) -> list[tuple[float, float, str]]:
    """``segment`` as one cue, or as several between its words when it is too long for one."""
    text = _one_line(segment.text)
    words = [word for word in getattr(segment, "words", ()) if _one_line(word.text)]
    if not words or (segment.end - segment.start <= MAX_CUE_SECONDS and len(text) <= MAX_CUE_CHARS):
        return [(segment.start, segment.end, text)]
    groups: list[list[Timed]] = [[]]
    for word in words:
        group = groups[-1]
        if group and (
            len(_joined(group)) + 1 + len(_one_line(word.text)) > MAX_CUE_CHARS
            or word.end - group[0].start > MAX_CUE_SECONDS
        ):
            groups.append(group := [])
        group.append(word)
        if word.text.rstrip().endswith(_SENTENCE_END) and len(_joined(group)) >= _MIN_SENTENCE_CUE_CHARS:
            groups.append([])
    groups = [group for group in groups if group]
    # The first cue starts with the segment and the last ends with it, whatever the word times.
    starts = [segment.start] + [group[0].start for group in groups[1:]]
    ends = [group[-1].end for group in groups[:-1]] + [segment.end]
    return [(start, end, _joined(group)) for start, end, group in zip(starts, ends, groups, strict=True)]


def _joined(words: list[Timed]) -> str:
    return " ".join(_one_line(word.text) for word in words)


def _cues(segments: Iterable[Timed]) -> list[tuple[float, float, str]]:
    """Non-empty cues with one-line text and times that never run backwards.

    A blank line ends a cue in both formats, so line breaks inside a segment become spaces; an
    end before its start (a backend rounding quirk) is raised to the start.
    """
    cues = []
    for segment in segments:
        for start, end, text in _split(segment):
            if text:
                start = max(0.0, start)
                cues.append((start, max(start, end), text))
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
