"""Where the speech in a recording is: pauses, phrases, and the pieces a long upload is sent in.

Pure numpy on wire audio, no I/O. A recognition of a whole upload is sent upstream as pieces cut
at pauses, each shorter than a transcription model's window (Whisper's is 30 s), so that no
backend ever decodes past a window edge or drops speech in a long decode. The same cut runs on
every backend, since it looks only at the audio the service holds.

How speech is found: the audio's level in 20 ms frames, against a threshold set between the
recording's own noise floor and its loud frames (so a quiet recording and a loud one are cut
alike). A frame above it is speech; a run of quiet frames at least ``silence`` long is a pause
and may end a phrase. A recording with no contrast between loud and quiet (silence, steady
noise, a tone) is taken as speech throughout: nothing is ever skipped for lack of a pause.

Phrases longer than ``max_phrase`` (at most :data:`MAX_PHRASE_SECONDS`) are cut at their quietest
moment in the second half of the allowed length, for speakers who never pause. With the default
segmentation, consecutive phrases are then packed into one piece (see :data:`PACK_SECONDS`),
so a backend that pays one model window per item does not pay one per short phrase; the
piece keeps the phrases' bounds, which stay the segments. An explicit ``silence`` asks for
phrase-level items and packs nothing.

Each piece is committed with a little of the quiet around its speech (:data:`PAD_SECONDS`, never
past the middle of a pause) so no soft consonant is cut; silence between pieces is not sent.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from .pcm import MIN_COMMIT_SECONDS, WireFormat, decode_wire

FRAME_SECONDS = 0.02
#: The longest phrase sent as one item: under Whisper's 30 s window with room for the padding.
MAX_PHRASE_SECONDS = 25.0
#: The pause that may end a phrase when the caller sets none.
DEFAULT_SILENCE_SECONDS = 0.3
#: Short phrases are packed into one piece up to this span: the engine's Whisper pays one 30 s
#: window per item whatever its length (1.2 s for 19 s of speech, 1.3 s for 4.6 s on the 2-core
#: machine) and transcribes better with the context of neighbouring sentences. The phrases
#: stay the transcript's segments (see :mod:`..realtime.transcripts`) ...
PACK_SECONDS = 20.0
#: ... but never across a pause this long (a new paragraph, a new speaker, a new recording).
PACK_MAX_PAUSE = 1.0
#: Quiet kept around each piece's speech (halved where two pieces share a shorter pause).
PAD_SECONDS = 0.2
#: Speech runs closer than this are one run (a word's stop consonant, not a pause).
RUN_GAP_SECONDS = 0.1
#: Below this spread between quiet and loud frames the recording has no pauses to find.
MIN_CONTRAST_DB = 10.0
_FLOOR_DB = -100.0
_MIN_PIECE_SECONDS = MIN_COMMIT_SECONDS + 0.02
_BLOCK_FRAMES = 500


@dataclass(frozen=True)
class Piece:
    """A stretch of the audio transcribed on its own (seconds from the start of the audio).

    ``start``..``end`` is the audio sent (speech plus padding); ``speech`` the runs of speech in
    it, so ``speech[0][0]``..``speech[-1][1]`` are its trimmed bounds; ``phrases`` the bounds
    of the pause-separated phrases it packs.
    """

    start: float
    end: float
    speech: tuple[tuple[float, float], ...]
    phrases: tuple[tuple[float, float], ...] = ()

    @property
    def phrase_bounds(self) -> tuple[tuple[float, float], ...]:
        """The bounds of the phrases packed into the piece (its speech bounds when it has one)."""
        return self.phrases or ((self.speech_start, self.speech_end),)

    @property
    def speech_start(self) -> float:
        return self.speech[0][0]

    @property
    def speech_end(self) -> float:
        return self.speech[-1][1]


def frame_levels(data: bytes, fmt: WireFormat, frame_seconds: float = FRAME_SECONDS) -> np.ndarray:
    """The level (dBFS, RMS) of each whole frame of ``data``, decoded a block at a time."""
    frame_bytes = round(fmt.sample_rate * frame_seconds) * fmt.sample_width
    block = frame_bytes * _BLOCK_FRAMES
    levels = []
    for start in range(0, len(data) - len(data) % frame_bytes, block):
        samples = decode_wire(data[start : start + block], fmt).astype(np.float64)
        frames = samples[: len(samples) - len(samples) % (frame_bytes // fmt.sample_width)]
        power = np.mean(frames.reshape(-1, frame_bytes // fmt.sample_width) ** 2, axis=1)
        levels.append(10 * np.log10(np.maximum(power, 10 ** (_FLOOR_DB / 10))))
    return np.concatenate(levels) if levels else np.zeros(0)


def speech_frames(levels: np.ndarray) -> np.ndarray:
    """Which frames are speech: above a threshold a quarter of the way from the recording's
    noise floor (its quietest 5 %) to its loud frames, at least 6 dB over the floor; all of them when the
    recording has no contrast."""
    if not len(levels):
        return np.zeros(0, dtype=bool)
    floor, loud = np.percentile(levels, 5), np.percentile(levels, 99)
    if loud - floor < MIN_CONTRAST_DB:
        return np.ones(len(levels), dtype=bool)
    return levels > floor + max(6.0, 0.25 * (loud - floor))


def _runs(mask: np.ndarray, gap: int) -> list[list[int]]:
    """[start, end) frame runs of True, joined across gaps shorter than ``gap`` frames."""
    edges = np.flatnonzero(np.diff(np.concatenate(([0], mask.astype(np.int8), [0]))))
    runs: list[list[int]] = []
    for start, end in zip(edges[::2], edges[1::2], strict=True):
        if runs and start - runs[-1][1] < gap:
            runs[-1][1] = int(end)
        else:
            runs.append([int(start), int(end)])
    return runs


def _quietest(levels: np.ndarray, low: int, high: int) -> int:
    """The frame in [low, high) at the middle of the quietest 100 ms."""
    window = np.convolve(levels[low:high], np.ones(5) / 5, mode="same")
    return low + int(np.argmin(window))


def _limit(phrase: list[list[int]], levels: np.ndarray, longest: int) -> list[list[list[int]]]:
    """``phrase`` (its speech runs) cut at quiet moments into parts of at most ``longest`` frames."""
    parts: list[list[list[int]]] = []
    runs = [list(run) for run in phrase]
    while runs[-1][1] - runs[0][0] > longest:
        start = runs[0][0]
        cut = _quietest(levels, start + max(1, longest // 2), start + longest)
        head = [[a, min(b, cut)] for a, b in runs if a < cut]
        runs = [[max(a, cut), b] for a, b in runs if b > cut]
        parts.append(head)
    parts.append(runs)
    return parts


def _pack(phrases: list[list[list[int]]], longest: int, pause: int) -> list[list[list[list[int]]]]:
    """Consecutive phrases grouped while the group's span stays within ``longest`` and no pause
    between them reaches ``pause`` frames."""
    packed: list[list[list[list[int]]]] = []
    for runs in phrases:
        last = packed[-1] if packed else None
        if last and runs[0][0] - last[-1][-1][1] < pause and runs[-1][1] - last[0][0][0] <= longest:
            last.append(runs)
        else:
            packed.append([runs])
    return packed


def find_pieces(
    data: bytes,
    fmt: WireFormat,
    *,
    silence_ms: int | None = None,
    max_phrase_ms: int | None = None,
) -> tuple[Piece, ...]:
    """The pieces to transcribe ``data`` in, in order; together they hold all of its speech.

    ``silence_ms``: the shortest pause that ends a phrase (default 300 ms, and then short
    phrases are packed up to :data:`PACK_SECONDS`); ``max_phrase_ms``: the longest phrase
    (never more than :data:`MAX_PHRASE_SECONDS`).
    """
    levels = frame_levels(data, fmt)
    total = len(data) / fmt.bytes_per_second
    if not len(levels):
        return (Piece(0.0, total, ((0.0, total),)),)
    frames = round(1 / FRAME_SECONDS)
    silence = DEFAULT_SILENCE_SECONDS if silence_ms is None else silence_ms / 1000
    longest_s = MAX_PHRASE_SECONDS if max_phrase_ms is None else min(max_phrase_ms / 1000, MAX_PHRASE_SECONDS)
    longest = max(1, round(longest_s * frames))
    mask = speech_frames(levels)
    runs = _runs(mask, max(1, round(RUN_GAP_SECONDS * frames)))
    if not runs:
        runs = [[0, len(levels)]]
    phrases: list[list[list[int]]] = [[runs[0]]]
    for run in runs[1:]:
        if run[0] - phrases[-1][-1][1] < max(1, round(silence * frames)):
            phrases[-1].append(run)
        else:
            phrases.append([run])
    limited = [part for phrase in phrases for part in _limit(phrase, levels, longest)]
    if silence_ms is None:
        return _padded(
            _pack(limited, min(longest, round(PACK_SECONDS * frames)), round(PACK_MAX_PAUSE * frames)), total
        )
    return _padded([[part] for part in limited], total)


def _padded(groups: list[list[list[list[int]]]], total: float) -> tuple[Piece, ...]:
    """Pieces in seconds from groups of phrases (each a list of speech runs in frames), each
    piece with up to :data:`PAD_SECONDS` of the quiet around it (at most half of a pause shared
    with the next piece)."""

    def seconds(frame: int) -> float:
        return round(min(total, frame * FRAME_SECONDS), 3)

    runs = [[(seconds(a), seconds(b)) for phrase in group for a, b in phrase] for group in groups]
    bounds = [0.0]
    bounds += [(left[-1][1] + right[0][0]) / 2 for left, right in itertools.pairwise(runs)]
    bounds.append(total)
    pieces = []
    for index, (group, speech) in enumerate(zip(groups, runs, strict=True)):
        start = max(bounds[index], speech[0][0] - PAD_SECONDS)
        end = min(bounds[index + 1], speech[-1][1] + PAD_SECONDS)
        if end - start < _MIN_PIECE_SECONDS:  # a click at the very edge: widen it to a valid commit
            start = max(0.0, min(start, end - _MIN_PIECE_SECONDS))
            end = min(total, start + _MIN_PIECE_SECONDS)
        phrases = tuple((seconds(phrase[0][0]), seconds(phrase[-1][1])) for phrase in group)
        pieces.append(
            Piece(round(start, 3), round(end, 3), tuple(speech), phrases if len(phrases) > 1 else ())
        )
    return tuple(pieces)
