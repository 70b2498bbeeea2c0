"""SRT and WebVTT rendering: exact text for known segments, and a strict parse of any segments."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from hypothesis import given
from hypothesis import strategies as st

from speech_realtime.options import Segment, spread_words
from speech_realtime.subtitles import MAX_CUE_CHARS, MAX_CUE_SECONDS, srt, timestamp, vtt


@dataclass(frozen=True)
class Cue:
    text: str
    start: float
    end: float


SRT_CUE = re.compile(r"(\d+)\n(\d\d):(\d\d):(\d\d),(\d{3}) --> (\d\d):(\d\d):(\d\d),(\d{3})\n([^\n]+)\n\n")
VTT_CUE = re.compile(r"(\d\d):(\d\d):(\d\d)\.(\d{3}) --> (\d\d):(\d\d):(\d\d)\.(\d{3})\n([^\n]+)\n\n")


def _seconds(h: str, m: str, s: str, ms: str) -> float:
    return int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000


def parse_srt(text: str) -> list[Cue]:
    """A strict SubRip parser: the whole text must be well-formed cues numbered from 1."""
    cues, position = [], 0
    while position < len(text):
        match = SRT_CUE.match(text, position)
        assert match, f"malformed SRT at {position}: {text[position : position + 80]!r}"
        assert int(match.group(1)) == len(cues) + 1
        cues.append(
            Cue(match.group(10), _seconds(*match.group(2, 3, 4, 5)), _seconds(*match.group(6, 7, 8, 9)))
        )
        position = match.end()
    return cues


def parse_vtt(text: str) -> list[Cue]:
    """A strict WebVTT parser for header-plus-cues files, unescaping the three entities."""
    assert text.startswith("WEBVTT\n\n")
    cues, position = [], len("WEBVTT\n\n")
    while position < len(text):
        match = VTT_CUE.match(text, position)
        assert match, f"malformed WebVTT at {position}: {text[position : position + 80]!r}"
        body = match.group(9)
        assert "<" not in body and "-->" not in body
        body = body.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
        cues.append(Cue(body, _seconds(*match.group(1, 2, 3, 4)), _seconds(*match.group(5, 6, 7, 8))))
        position = match.end()
    return cues


SEGMENTS = [Cue("Hello there.", 0.0, 1.25), Cue(" General\nKenobi! ", 1.25, 3661.5)]


def test_srt_exact() -> None:
    assert srt(SEGMENTS) == (
        "1\n00:00:00,000 --> 00:00:01,250\nHello there.\n\n"
        "2\n00:00:01,250 --> 01:01:01,500\nGeneral Kenobi!\n\n"
    )


def test_vtt_exact() -> None:
    assert vtt(SEGMENTS) == (
        "WEBVTT\n\n"
        "00:00:00.000 --> 00:00:01.250\nHello there.\n\n"
        "00:00:01.250 --> 01:01:01.500\nGeneral Kenobi!\n\n"
    )


def test_empty_transcript() -> None:
    assert srt([]) == ""
    assert vtt([Cue("  ", 0, 1)]) == "WEBVTT\n\n"


def test_markup_and_arrows_cannot_break_cues() -> None:
    segments = [Cue("a --> b <i>&", 0, 1)]
    assert parse_vtt(vtt(segments)) == [Cue("a --> b <i>&", 0, 1)]
    assert "-->" not in parse_srt(srt(segments))[0].text


def test_times_clamp() -> None:
    assert timestamp(-1) == "00:00:00.000"
    assert timestamp(59.9996, ",") == "00:01:00,000"
    assert parse_srt(srt([Cue("x", 2.0, 1.0)])) == [Cue("x", 2.0, 2.0)]


words = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=30)
segments = st.lists(
    st.tuples(words, st.floats(0, 50_000, allow_nan=False), st.floats(0, 100, allow_nan=False)).map(
        lambda t: Cue(t[0], t[1], t[1] + t[2])
    ),
    max_size=8,
)


@given(segments)
def test_any_segments_parse_back(cues: list[Cue]) -> None:
    kept = [cue for cue in cues if cue.text.strip()]
    for parsed in (parse_srt(srt(cues)), parse_vtt(vtt(cues))):
        assert len(parsed) == len(kept)
        for got, want in zip(parsed, kept, strict=True):
            assert abs(got.start - want.start) <= 0.0005 and abs(got.end - want.end) <= 0.0005
            assert got.text.split() == want.text.split() or "->" in got.text


LONG = (
    "This is the first sentence of a long recording. " * 3
    + "And then it goes on without any stop for quite a while, longer than one cue can hold on screen"
)


def test_a_long_segment_is_split_between_its_words() -> None:
    segment = Segment(LONG, 0.0, 30.0, spread_words(LONG, 0.0, 30.0))
    cues = parse_srt(srt([segment]))
    assert len(cues) >= 5
    assert " ".join(cue.text for cue in cues).split() == LONG.split()
    assert cues[0].text == "This is the first sentence of a long recording."
    assert all(len(cue.text) <= MAX_CUE_CHARS and cue.end - cue.start <= MAX_CUE_SECONDS for cue in cues)
    assert (cues[0].start, cues[-1].end) == (0.0, 30.0)
    assert all(a.end <= b.start for a, b in itertools.pairwise(cues))
    assert parse_vtt(vtt([segment])) == cues


def test_a_long_segment_without_word_times_stays_one_cue() -> None:
    assert len(parse_srt(srt([Segment(LONG, 0.0, 30.0)]))) == 1


@given(words, st.floats(0, 100, allow_nan=False), st.floats(0, 600, allow_nan=False))
def test_split_cues_respect_the_limits(text: str, start: float, length: float) -> None:
    text = " ".join([text] * 12)
    segment = Segment(text, start, start + length, spread_words(text, start, start + length))
    cues = parse_vtt(vtt([segment]))
    assert " ".join(cue.text for cue in cues).split() == text.split()
    for cue in cues:
        assert len(cue.text.split()) == 1 or len(cue.text) <= MAX_CUE_CHARS
        assert len(cue.text.split()) == 1 or cue.end - cue.start <= MAX_CUE_SECONDS + 0.002
