"""The first sentence voiced clause first: where it is cut, how the chunks are cut, how the
clauses are joined (no models: tones stand in for the voice)."""

from __future__ import annotations

import numpy as np
import pytest

from speech_realtime.engine.piper_stream import (
    FIRST_CHUNK_FRAMES,
    KNEE,
    MAX_CHUNK_FRAMES,
    chunk_bounds,
    soft_limit,
)
from speech_realtime.engine.sentences import MIN_FIRST_CLAUSE_CHARS, first_clause
from speech_realtime.engine.voicing import CLAUSE_PAUSE_SECONDS, SILENCE_LEVEL, join_clauses

RATE = 1000


@pytest.mark.parametrize(
    ("sentence", "pieces"),
    [
        (
            "When the old keeper finally retired after forty years, the villagers gathered on the pier.",
            ["When the old keeper finally retired after forty years,", "the villagers gathered on the pier."],
        ),
        # a too short first clause is passed over for the next mark
        (
            "Yes, I think the lighthouse keeper retired, and the villagers gathered on the pier.",
            ["Yes, I think the lighthouse keeper retired,", "and the villagers gathered on the pier."],
        ),
        # a comma inside a number is no clause mark, and a too short rest is not cut off
        ("We paid 3,000 dollars for the lighthouse and its lamp, and more.", None),
        ("They counted 3,000,000 stars over the harbour that one cold night.", None),
        # the comma after an abbreviation is part of the clause
        (
            "Bring something warm for the night, e.g., a coat or a thick woollen blanket.",
            ["Bring something warm for the night,", "e.g., a coat or a thick woollen blanket."],
        ),
        (
            "Bring something warm e.g., a coat or a thick woollen blanket for the night.",
            None,
        ),
        (
            "The old lighthouse by the sea -- built in 1850 and never rebuilt -- still stands.",
            ["The old lighthouse by the sea --", "built in 1850 and never rebuilt -- still stands."],
        ),
        ("A well-known keeper of the light retired after forty years on the rock.", None),
        ("Short, and sweet.", None),
    ],
)
def test_the_first_clause_is_cut_at_a_clause_mark_never_inside_a_word_or_number(sentence, pieces) -> None:
    got = first_clause(sentence)
    assert got == (pieces or [sentence])
    assert " ".join(got) == sentence
    if len(got) == 2:
        assert all(len(piece) >= MIN_FIRST_CLAUSE_CHARS for piece in got)
        assert sentence.split() == got[0].split() + got[1].split()  # whole words on each side


def test_chunks_start_small_and_grow_covering_every_frame_once() -> None:
    for frames in (0, 1, FIRST_CHUNK_FRAMES, 37, 1000, 5000):
        bounds = chunk_bounds(frames)
        assert [start for start, _ in bounds] == [0, *(end for _, end in bounds[:-1])][: len(bounds)]
        assert (bounds[-1][1] if bounds else 0) == frames
        assert all(end - start <= 2 * MAX_CHUNK_FRAMES for start, end in bounds)
    assert chunk_bounds(1000)[0] == (0, FIRST_CHUNK_FRAMES)


def test_the_soft_limit_never_clips_and_leaves_normal_levels_linear() -> None:
    audio = np.linspace(-2, 2, 4001, dtype=np.float32)
    limited = soft_limit(audio.copy())
    assert np.abs(limited).max() <= 1.0
    assert np.all(np.diff(limited) >= 0)  # monotonic: no folding
    quiet = np.array([0.1, -0.3], dtype=np.float32)
    assert np.allclose(soft_limit(quiet.copy()), quiet * 1.8)
    assert np.abs(soft_limit(np.array([KNEE / 1.8], dtype=np.float32)))[0] == pytest.approx(KNEE)


def _utterance(sound: float, lead: float = 0.05, tail: float = 0.3) -> np.ndarray:
    """A clause as the voice makes it alone: a little silence, a tone, a trailing silence."""
    t = np.arange(int(sound * RATE)) / RATE
    return np.concatenate(
        [np.zeros(int(lead * RATE)), 0.1 * np.sin(2 * np.pi * 50 * t) + 0.6, np.zeros(int(tail * RATE))]
    ).astype(np.float32)


def _in_chunks(audio: np.ndarray, size: int = 97):
    return lambda ids: (audio[start : start + size] for start in range(0, len(audio), size))


def _silences(audio: np.ndarray) -> list[int]:
    """Lengths of the runs of silence in ``audio``, in samples."""
    edges = np.diff(np.concatenate([[0], (np.abs(audio) <= SILENCE_LEVEL).astype(int), [0]]))
    return list(np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1))


def test_clauses_are_joined_by_the_sentences_own_pause() -> None:
    first, second = _utterance(1.0, tail=0.35), _utterance(0.8, lead=0.06, tail=0.25)
    renders = iter([_in_chunks(first), _in_chunks(second)])
    chunks = list(
        join_clauses([("First clause,", [[1]]), ("second one.", [[2]])], lambda ids: next(renders)(ids), RATE)
    )
    texts = [text for text, _ in chunks]
    assert (
        texts[0] == "First clause," and texts.count("second one.") == 1 and texts.count("") == len(texts) - 2
    )
    audio = np.concatenate([a for _, a in chunks])
    # the join's silence is the clause pause (give or take the fades), the end keeps its own tail
    inner = _silences(audio[int(0.1 * RATE) :])
    assert abs(inner[0] - CLAUSE_PAUSE_SECONDS * RATE) <= 12, inner
    assert inner[-1] == int(0.25 * RATE)
    # all the sound is there, in order
    assert np.count_nonzero(np.abs(audio) > 0.5) == np.count_nonzero(np.abs(first) > 0.5) + np.count_nonzero(
        np.abs(second) > 0.5
    )


def test_the_first_chunk_of_sound_is_not_held_back() -> None:
    audio = _utterance(2.0)
    chunks = join_clauses([("Only clause.", [[1]])], _in_chunks(audio, 200), RATE)
    text, first = next(chunks)
    assert text == "Only clause." and len(first) == 200
    assert np.array_equal(np.concatenate([first] + [a for _, a in chunks]), audio)


def test_a_slower_speed_pauses_longer() -> None:
    renders = iter([_in_chunks(_utterance(0.5)), _in_chunks(_utterance(0.5))])
    chunks = join_clauses([("a,", [[1]]), ("b.", [[2]])], lambda ids: next(renders)(ids), RATE, speed=0.5)
    audio = np.concatenate([a for _, a in chunks])
    assert abs(_silences(audio[int(0.1 * RATE) :])[0] - 2 * CLAUSE_PAUSE_SECONDS * RATE) <= 12
