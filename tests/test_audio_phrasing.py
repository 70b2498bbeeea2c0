"""Finding pauses and phrases in wire audio: pieces that hold all the speech, each under the window."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from tone_speech import RATE, tone_recording

from speech_realtime.audio import G711_ULAW, PCM16, float_to_pcm16, pcm16_to_float, ulaw_encode
from speech_realtime.audio.phrasing import (
    MAX_PHRASE_SECONDS,
    PACK_MAX_PAUSE,
    PACK_SECONDS,
    find_pieces,
)


def _holding(pieces, phrase):
    return [p for p in pieces if p.start <= phrase.start and phrase.end <= p.end]


def test_every_phrase_lies_in_one_piece_with_its_speech_bounds_within_a_frame() -> None:
    audio, phrases = tone_recording([(2.0, 2.0), (1.5, 1.5), (3.0, 2.5), (0.4, 1.0)])
    pieces = find_pieces(audio, PCM16)
    assert len(pieces) == len(phrases)  # every pause here is >= 1 s: nothing is packed across it
    for piece, phrase in zip(pieces, phrases, strict=True):
        assert _holding(pieces, phrase) == [piece]
        assert abs(piece.speech_start - phrase.start) <= 0.04
        assert abs(piece.speech_end - phrase.end) <= 0.04
        assert piece.start < piece.speech_start and piece.speech_end < piece.end  # padded


def test_short_phrases_are_packed_up_to_a_cue_and_never_across_a_long_pause() -> None:
    layout = [(1.0, 0.4)] * 12 + [(1.0, PACK_MAX_PAUSE + 0.2)] + [(1.0, 0.4)] * 3
    audio, phrases = tone_recording(layout)
    pieces = find_pieces(audio, PCM16)
    assert len(pieces) < len(phrases) / 2
    for phrase in phrases:
        assert len(_holding(pieces, phrase)) == 1
    assert all(p.speech_end - p.speech_start <= PACK_SECONDS for p in pieces)
    long_pause_at = phrases[12].end
    assert any(p.speech_end == pytest.approx(long_pause_at, abs=0.04) for p in pieces)


def test_an_explicit_silence_ends_a_phrase_at_every_such_pause_and_packs_nothing() -> None:
    audio, _phrases = tone_recording([(1.0, 0.5)] * 6)
    assert len(find_pieces(audio, PCM16, silence_ms=400)) == 6
    joined = find_pieces(audio, PCM16, silence_ms=800)
    assert len(joined) == 1 and len(joined[0].speech) == 6  # the pauses are inside the phrase


def test_a_speaker_who_never_pauses_is_cut_under_the_window_at_the_quietest_moment() -> None:
    t = np.arange(60 * RATE) / RATE
    level = np.where(np.abs(t - 18.0) < 0.1, 0.03, 0.3)  # a softer stretch, not a pause
    audio = float_to_pcm16(level * np.sin(2 * np.pi * 220 * t))
    pieces = find_pieces(audio, PCM16)
    assert all(p.end - p.start <= MAX_PHRASE_SECONDS for p in pieces)
    assert pieces[0].end == pytest.approx(18.0, abs=0.12)
    # Contiguous: not a sample of speech falls between two pieces.
    assert pieces[0].start == 0.0 and pieces[-1].end == 60.0
    assert all(a.end == b.start for a, b in itertools.pairwise(pieces))


def test_max_phrase_ms_shortens_the_pieces() -> None:
    audio, _ = tone_recording([(12.0, 0.5)])
    pieces = find_pieces(audio, PCM16, max_phrase_ms=5000)
    assert len(pieces) >= 3
    assert all(p.speech_end - p.speech_start <= 5.0 for p in pieces)


def test_a_quiet_recording_is_cut_like_a_loud_one() -> None:
    layout = [(1.5, 1.2), (2.0, 1.2), (1.0, 0.8)]
    loud, _ = tone_recording(layout)
    quiet = float_to_pcm16(pcm16_to_float(loud) * 0.02)
    cuts = [bound for p in find_pieces(loud, PCM16) for bound in (p.speech_start, p.speech_end)]
    quiet_cuts = [bound for p in find_pieces(quiet, PCM16) for bound in (p.speech_start, p.speech_end)]
    assert quiet_cuts == pytest.approx(cuts, abs=0.05)


def test_audio_without_pauses_or_speech_is_one_piece_and_g711_is_read_too() -> None:
    (piece,) = find_pieces(bytes(48000), PCM16)
    assert (piece.start, piece.end, piece.speech) == (0.0, 1.0, ((0.0, 1.0),))
    audio, phrases = tone_recording([(1.0, 1.5), (1.0, 1.5)])
    narrow = ulaw_encode(float_to_pcm16(pcm16_to_float(audio)[::3]))
    pieces = find_pieces(narrow, G711_ULAW)
    assert [round(p.speech_start, 1) for p in pieces] == [round(p.start, 1) for p in phrases]


def test_a_click_at_the_edge_still_makes_a_commit_of_at_least_100_ms() -> None:
    samples = np.zeros(RATE)
    samples[:240] = 0.5
    (piece,) = find_pieces(float_to_pcm16(samples), PCM16)
    assert piece.end - piece.start >= 0.1
