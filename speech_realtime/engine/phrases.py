"""A long committed item cut into phrases, each shorter than the recognizer's window.

Whisper sees 30 s at a time; faster-whisper's long-form decode of a longer buffer drops words at
the window edges and can skip whole stretches after a pause. So an item longer than one window is
cut here, on the voice activity of its own audio, into phrases of at most
:data:`MAX_PHRASE_SECONDS`, and each phrase is transcribed on its own:

- speech runs are found with Silero's hysteresis (speech from a frame at :data:`THRESHOLD`, over
  once frames stay under :data:`NEG_THRESHOLD` for :data:`MIN_SILENCE_SECONDS`);
- consecutive runs are packed into one phrase while it stays under the bound (every Whisper call
  costs a whole window, so few long phrases are cheaper than many short ones); when the next run
  does not fit, the phrase ends at the longest pause after :data:`MIN_PHRASE_SECONDS`;
- a run of speech longer than the bound (a speaker who never pauses) is cut at its quietest
  point (lowest short-time energy) between :data:`MIN_PHRASE_SECONDS` and the bound;
- each phrase is padded by :data:`PAD_SECONDS` into the silence around it, never past the middle
  of a pause, so a soft word edge the VAD missed is still heard and no audio is heard twice.

Only silence longer than two paddings is left out. The plan is made as the VAD goes
(:func:`phrases`): a phrase is final as soon as the audio examined reaches far enough past it
that more cannot change it, so the first phrase is transcribed after one VAD step, not after the
whole item.
The same runs of speech keep word times
honest: Whisper's alignment tends to stretch a word into the silence around it (a last word
"ending" a second into the pause), so :func:`snap_words` moves word edges that lie in silence to
the edge of the speech they overlap. Everything here is arithmetic on arrays: the probabilities
come from the session's model set (:meth:`~.models.ModelSet.voice_activity`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from .models import ASR_RATE, VAD_FRAME, WHISPER_WINDOW_SECONDS, VoiceActivity, Word

#: An item up to this long is transcribed in one call, as the model sees it whole.
WINDOW_SECONDS = float(WHISPER_WINDOW_SECONDS)
#: Longest phrase, before padding (padded, it stays under the window).
MAX_PHRASE_SECONDS = 25.0
#: A phrase is not ended before this, unless the item's speech ends.
MIN_PHRASE_SECONDS = 8.0
#: Audio kept on each side of a phrase's speech.
PAD_SECONDS = 0.4
#: Silero's speech thresholds, as faster-whisper uses them (start, and stay).
THRESHOLD, NEG_THRESHOLD = 0.5, 0.35
#: A pause must last this long to end a run of speech.
MIN_SILENCE_SECONDS = 0.1
#: Audio examined by the VAD per step of a session's job.
VAD_STEP_SECONDS = 60.0

FRAME_SECONDS = VAD_FRAME / ASR_RATE


@dataclass(frozen=True)
class Phrase:
    """A phrase's ``[start, end)`` samples, and the runs of speech in it in seconds (item timeline)."""

    start: int
    end: int
    speech: list[tuple[float, float]]


def phrases(samples: np.ndarray, vad: VoiceActivity) -> Iterator[Phrase | None]:
    """The phrases of ``samples`` in order, each as soon as it is final; ``None`` after a VAD step.

    An item up to one window is one phrase. Otherwise the plan is remade on the audio after the
    last phrase each time, and its first phrase is taken once the VAD has examined enough past
    its start (two longest phrases) that more audio cannot change it, or all of the item: the
    phrases are those :func:`plan_phrases` gives for the whole item.
    """
    chunks = speech_probabilities(samples, vad)
    if len(samples) <= WINDOW_SECONDS * ASR_RATE:
        probabilities = np.concatenate(list(chunks)) if len(samples) else np.zeros(0, dtype=np.float32)
        yield Phrase(0, len(samples), _speech_in(probabilities, 0))
        return
    # Frames past a phrase's start after which more audio cannot change it: the runs it may pack
    # end within the longest phrase, and the cuts inside an unbroken run there depend on up to
    # one more longest phrase of that run.
    settled = round((2 * MAX_PHRASE_SECONDS + PAD_SECONDS + MIN_SILENCE_SECONDS) / FRAME_SECONDS) + 2
    probabilities, position, done = np.zeros(0, dtype=np.float32), 0, False
    while position < len(samples):
        first = position // VAD_FRAME
        horizon = len(probabilities)
        spans = plan_phrases(samples[first * VAD_FRAME : horizon * VAD_FRAME], probabilities[first:])
        if spans and (done or spans[0][0] // VAD_FRAME + settled <= horizon - first):
            for start, end in spans if done else spans[:1]:
                start, end = max(position, start + first * VAD_FRAME), end + first * VAD_FRAME
                yield Phrase(
                    start,
                    end,
                    _speech_in(probabilities[start // VAD_FRAME : -(-end // VAD_FRAME)], start // VAD_FRAME),
                )
                position = end
            if done:
                return
            continue
        if done:
            return
        if not spans:  # no speech since the last phrase: keep only the padding's worth
            position = max(position, horizon * VAD_FRAME - round(PAD_SECONDS * ASR_RATE))
        chunk = next(chunks, None)
        if chunk is None:
            done = True
            continue
        probabilities = np.concatenate([probabilities, chunk])
        yield None


def _speech_in(probabilities: np.ndarray, first_frame: int) -> list[tuple[float, float]]:
    """Runs of speech in ``probabilities`` (from frame ``first_frame``), in seconds."""
    return [
        ((first_frame + a) * FRAME_SECONDS, (first_frame + b) * FRAME_SECONDS)
        for a, b in speech_runs(probabilities)
    ]


def speech_probabilities(samples: np.ndarray, vad: VoiceActivity) -> Iterator[np.ndarray]:
    """Silero's probability for each frame of ``samples``, :data:`VAD_STEP_SECONDS` at a time.

    The last partial frame is padded with zeros, so every sample belongs to a frame.
    """
    frames = -(-len(samples) // VAD_FRAME)
    padded = np.zeros(frames * VAD_FRAME, dtype=np.float32)
    padded[: len(samples)] = samples
    step = int(VAD_STEP_SECONDS / FRAME_SECONDS)
    for start in range(0, frames, step):
        stop = min(frames, start + step)
        yield vad.push(padded[start * VAD_FRAME : stop * VAD_FRAME].reshape(-1, VAD_FRAME))


def speech_runs(probabilities: np.ndarray) -> list[tuple[int, int]]:
    """``(first, end)`` frames of each run of speech (hysteresis, short dips bridged)."""
    runs: list[tuple[int, int]] = []
    min_silence = max(1, round(MIN_SILENCE_SECONDS / FRAME_SECONDS))
    start, quiet = None, 0
    for index, probability in enumerate(probabilities):
        if start is None:
            if probability >= THRESHOLD:
                start, quiet = index, 0
        elif probability < NEG_THRESHOLD:
            quiet += 1
            if quiet >= min_silence:
                runs.append((start, index - quiet + 1))
                start = None
        else:
            quiet = 0
    if start is not None:
        runs.append((start, len(probabilities) - quiet))
    return runs


def plan_phrases(samples: np.ndarray, probabilities: np.ndarray) -> list[tuple[int, int]]:
    """``(first, end)`` samples of each phrase of ``samples``, in order, not overlapping."""
    if not len(probabilities):
        return []
    longest = round(MAX_PHRASE_SECONDS / FRAME_SECONDS)
    shortest = round(MIN_PHRASE_SECONDS / FRAME_SECONDS)
    energy = _frame_energy(samples, len(probabilities))
    runs = _cut_long_runs(speech_runs(probabilities), energy, longest, shortest)
    spans = _pack(runs, longest, shortest)
    return _padded([(s * VAD_FRAME, min(e * VAD_FRAME, len(samples))) for s, e in spans], len(samples))


def _frame_energy(samples: np.ndarray, frames: int) -> np.ndarray:
    """Short-time energy per frame, smoothed over about 160 ms (the gap between two words)."""
    padded = np.zeros(frames * VAD_FRAME, dtype=np.float32)
    padded[: len(samples)] = samples[: len(padded)]
    energy = np.mean(padded.reshape(frames, VAD_FRAME).astype(np.float64) ** 2, axis=1)
    return np.convolve(energy, np.ones(5) / 5, mode="same")


def _cut_long_runs(
    runs: list[tuple[int, int]], energy: np.ndarray, longest: int, shortest: int
) -> list[tuple[int, int]]:
    """Runs longer than ``longest`` frames cut at their quietest frame after ``shortest``."""
    out: list[tuple[int, int]] = []
    for start, end in runs:
        while end - start > longest:
            cut = start + shortest + int(np.argmin(energy[start + shortest : start + longest]))
            out.append((start, cut))
            start = cut
        out.append((start, end))
    return out


def _pack(runs: list[tuple[int, int]], longest: int, shortest: int) -> list[tuple[int, int]]:
    """Consecutive runs packed into phrases of at most ``longest`` frames, cut at long pauses."""
    spans: list[tuple[int, int]] = []
    first = 0
    while first < len(runs):
        start, last = runs[first][0], first
        while last + 1 < len(runs) and runs[last + 1][1] - start <= longest:
            last += 1
        if last + 1 < len(runs):  # the next run does not fit: end at the longest pause
            candidates = [k for k in range(first, last + 1) if runs[k][1] - start >= shortest] or [last]
            last = max(candidates, key=lambda k: (runs[k + 1][0] - runs[k][1], k))
        spans.append((start, runs[last][1]))
        first = last + 1
    return spans


def _padded(spans: list[tuple[int, int]], total: int) -> list[tuple[int, int]]:
    """Each span widened by the padding, never past the middle of the pause to its neighbour."""
    pad = round(PAD_SECONDS * ASR_RATE)
    out: list[tuple[int, int]] = []
    for index, (start, end) in enumerate(spans):
        low = (spans[index - 1][1] + start) // 2 if index else 0
        high = (end + spans[index + 1][0]) // 2 if index + 1 < len(spans) else total
        out.append((max(low, start - pad), min(high, end + pad)))
    return out


def snap_words(words: list[Word], speech: list[tuple[float, float]]) -> list[Word]:
    """Each word's edges moved out of silence onto the speech it overlaps; a word with no speech
    under it (Whisper's alignment can put a phrase's last word in the pause after it) is moved
    onto the nearest edge of speech, keeping its length where the speech allows."""
    snapped = []
    for word in words:
        overlapping = [(start, end) for start, end in speech if start < word.end and end > word.start]
        if overlapping:
            start, end = max(word.start, overlapping[0][0]), min(word.end, overlapping[-1][1])
        elif speech:
            run_start, run_end = min(speech, key=lambda run: _distance(run, word))
            length = word.end - word.start
            if run_end <= word.start:
                start, end = max(run_start, run_end - length), run_end
            else:
                start, end = run_start, min(run_end, run_start + length)
        else:
            start, end = word.start, word.end
        snapped.append(Word(word.text, round(start, 3), round(max(start, end), 3)))
    return snapped


def _distance(run: tuple[float, float], word: Word) -> float:
    """Seconds between a speech run and a word that lies outside it."""
    return word.start - run[1] if run[1] <= word.start else run[0] - word.end
