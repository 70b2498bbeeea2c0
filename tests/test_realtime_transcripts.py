"""Per-item results of a recognition sent in pieces: order, timings, the engine's x_segments."""

from __future__ import annotations

import json
from typing import Any

import pytest

from speech_realtime.audio.phrasing import Piece
from speech_realtime.options import Segment, Word
from speech_realtime.realtime.events import parse_server_event
from speech_realtime.realtime.transcripts import PieceResults, share_words, spread_over_runs

PIECES = (Piece(0.3, 2.7, ((0.5, 2.5),)), Piece(4.8, 9.2, ((5.0, 6.0), (8.0, 9.0))))


def completed(item_id: str, transcript: str, **fields: Any):
    return parse_server_event(
        json.dumps(
            {
                "type": "conversation.item.input_audio_transcription.completed",
                "item_id": item_id,
                "transcript": transcript,
                **fields,
            }
        )
    )


def test_items_are_matched_in_commit_order_and_read_in_audio_order() -> None:
    results = PieceResults(PIECES)
    results.committed("a")
    results.committed("b")
    results.completed(completed("b", " second part ", usage={"type": "duration", "seconds": 4.4}))
    assert not results.done
    results.completed(completed("a", "First.", usage={"type": "duration", "seconds": 2.4}))
    assert results.done
    assert results.text == "First. second part"
    assert [s.text for s in results.segments] == ["First.", "second part"]
    assert results.usage == {"type": "duration", "seconds": pytest.approx(6.8)}


def test_estimated_segments_span_the_speech_and_leave_pauses_without_words() -> None:
    results = PieceResults(PIECES)
    results.committed("a")
    results.committed("b")
    results.completed(completed("a", ""))
    results.completed(completed("b", "abcd efgh"))
    (segment,) = results.segments  # an empty transcript gives no segment
    assert (segment.start, segment.end) == (5.0, 9.0)
    assert segment.words == (Word("abcd", 5.0, 6.0), Word("efgh", 8.0, 9.0))


def test_words_are_spread_over_the_speech_runs_only() -> None:
    words = spread_over_runs("aa bb cc dd", ((1.0, 2.0), (5.0, 6.0)))
    assert [(w.start, w.end) for w in words] == [(1.0, 1.5), (1.5, 2.0), (5.0, 5.5), (5.5, 6.0)]


def test_the_engine_s_x_segments_are_placed_from_the_start_of_the_item_s_audio() -> None:
    results = PieceResults(PIECES[1:])
    results.committed("b")
    x_segments = [
        {"text": " One. ", "start": 0.2, "end": 1.2, "words": [{"word": " One.", "start": 0.25, "end": 1.1}]},
        {"text": "Two.", "start": 3.2, "end": 4.2, "words": []},
    ]
    results.completed(completed("b", "One. Two.", x_segments=x_segments))
    assert results.segments == (
        Segment("One.", 5.0, 6.0, (Word("One.", 5.05, 5.9),)),
        Segment("Two.", 8.0, 9.0),
    )


def test_malformed_x_segments_fall_back_to_the_estimate() -> None:
    for bad in (
        "no",
        [{"text": "x", "start": -1, "end": 1}],
        [{"text": "x", "start": 0, "end": 1, "words": [1]}],
    ):
        results = PieceResults(PIECES[:1])
        results.committed("a")
        results.completed(completed("a", "Hello there.", x_segments=bad))
        (segment,) = results.segments
        assert (segment.start, segment.end) == (0.5, 2.5)


def test_events_about_other_items_are_not_ours() -> None:
    results = PieceResults(PIECES[:1])
    results.committed("a")
    assert results.owns(completed("a", "x"))
    assert not results.owns(completed("z", "x"))


def test_a_packed_piece_gives_a_segment_per_phrase_cut_where_the_transcript_pauses() -> None:
    runs = ((0.5, 2.5), (3.0, 3.8), (4.4, 9.0))
    piece = Piece(0.3, 9.2, runs, phrases=runs)
    results = PieceResults((piece,))
    results.committed("a")
    results.completed(
        completed("a", "One, two, three and four. Five six. Seven eight nine ten eleven twelve.")
    )
    assert [(s.text, s.start, s.end) for s in results.segments] == [
        ("One, two, three and four.", 0.5, 2.5),
        ("Five six.", 3.0, 3.8),
        ("Seven eight nine ten eleven twelve.", 4.4, 9.0),
    ]
    assert all(s.start <= w.start <= w.end <= s.end for s in results.segments for w in s.words)


def test_without_punctuation_the_words_are_shared_by_speech_time() -> None:
    piece = Piece(0.0, 4.0, ((0.0, 1.0), (2.0, 4.0)), phrases=((0.0, 1.0), (2.0, 4.0)))
    assert share_words("aa bb cc dd ee ff", piece) == [["aa", "bb"], ["cc", "dd", "ee", "ff"]]
    assert share_words("", piece) == [[], []]
