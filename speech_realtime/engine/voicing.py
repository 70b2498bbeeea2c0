"""Clauses of one sentence voiced one after the other, joined as the whole sentence would pause.

The first sentence of a text is voiced clause first (:func:`.sentences.first_clause`), so its
first audio leaves once the first clause is made. Voiced alone, a clause ends in the silence the
voice puts after an utterance (0.18 to 0.37 s measured) and the next starts after 40 to 60 ms of
silence; voiced in its sentence, the voice pauses 0.38 to 0.49 s at the same comma. So at a join
the silence is trimmed on both sides to the sound, and :data:`CLAUSE_PAUSE_SECONDS` of silence
(divided by the speed) put between, with short fades at the cuts so no cut clicks. A clause that
ends a sentence keeps its own silence, as a whole sentence does.

Silence is held back until the next sound shows it is not the end of a clause, never sound, so
this costs the first audio nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import numpy as np

#: The pause at a comma inside a sentence, at speed 1 (what the voice makes there, measured).
CLAUSE_PAUSE_SECONDS = 0.42
#: Level under which a sample is silence (the voice's silence is under 0.002).
SILENCE_LEVEL = 0.01
#: Length of the fade at a cut in silence.
FADE_SECONDS = 0.005

#: A clause's text and its phoneme ids (one list per sentence the phonemizer found in it).
Clause = tuple[str, list[list[int]]]


def join_clauses(
    clauses: list[Clause],
    render: Callable[[list[int]], Iterable[np.ndarray]],
    rate: int,
    speed: float = 1.0,
) -> Iterator[tuple[str, np.ndarray]]:
    """``(text, audio)`` chunks of ``clauses`` voiced in turn by ``render`` (phoneme ids to audio
    chunks at ``rate``); ``text`` is a clause's text on the first chunk of its audio, else ``""``."""
    pause = round(CLAUSE_PAUSE_SECONDS / speed * rate)
    fade = max(1, round(FADE_SECONDS * rate))
    held = np.zeros(0, dtype=np.float32)  # trailing silence not yet sent
    for number, (text, sentences) in enumerate(clauses):
        said, joining = text, number > 0
        for ids in sentences:
            for audio in render(ids):
                if joining:
                    start = _first_sound(audio)
                    if start is None:
                        continue
                    gap = np.zeros(max(0, pause - len(held)), dtype=np.float32)
                    audio = np.concatenate(
                        [
                            _fade(held, fade, out=True),
                            gap,
                            _fade(audio[max(0, start - fade) :], fade, out=False),
                        ]
                    )
                    held, joining = np.zeros(0, dtype=np.float32), False
                audio = np.concatenate([held, audio])
                end = _last_sound_end(audio)
                audio, held = audio[:end], audio[end:]
                if len(audio):
                    yield said, audio
                    said = ""
        if number + 1 == len(clauses):
            if len(held) or said:
                yield said, held
        else:
            held = held[:fade]
            if said:  # a clause with no sound at all still reports its text
                yield said, np.zeros(0, dtype=np.float32)


def _first_sound(audio: np.ndarray) -> int | None:
    loud = np.flatnonzero(np.abs(audio) > SILENCE_LEVEL)
    return int(loud[0]) if len(loud) else None


def _last_sound_end(audio: np.ndarray) -> int:
    loud = np.flatnonzero(np.abs(audio) > SILENCE_LEVEL)
    return int(loud[-1]) + 1 if len(loud) else 0


def _fade(audio: np.ndarray, length: int, *, out: bool) -> np.ndarray:
    """``audio`` with a linear fade over its last (``out``) or first ``length`` samples."""
    audio = audio.astype(np.float32, copy=True)
    length = min(length, len(audio))
    if length:
        ramp = np.linspace(0.0, 1.0, length, dtype=np.float32)
        if out:
            audio[-length:] *= ramp[::-1]
        else:
            audio[:length] *= ramp
    return audio
