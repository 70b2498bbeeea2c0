"""A long recording for the phrase path on the real engine: public-domain openings read aloud.

Three passages (Dickens 1859, Austen 1813, Melville 1851), each sentence spoken on its own by
the engine's Piper voice, joined with short pauses inside a passage and 2 s between passages,
as several recordings joined into one upload. No package on the registry ships minutes of real
human speech with transcripts in a wheel small enough for the test extra, so the speech is
synthesized (see the README's test section); what is under test is the service's cutting,
ordering and timing, which do not care whose voice it is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

#: One sentence or two of each of six public-domain openings (Dickens, Austen, Melville, Twain,
#: Bronte, Tolstoy), for the engine's own long-item tests and benchmark.
READINGS = [
    "It was the best of times, it was the worst of times, it was the age of wisdom, it was the age "
    "of foolishness, it was the epoch of belief, it was the epoch of incredulity.",
    "It is a truth universally acknowledged, that a single man in possession of a good fortune, "
    "must be in want of a wife.",
    "Call me Ishmael. Some years ago, never mind how long precisely, having little or no money in my "
    "purse, and nothing particular to interest me on shore, I thought I would sail about a little.",
    "Tom appeared on the sidewalk with a bucket of whitewash and a long handled brush. He surveyed "
    "the fence, and all gladness left him and a deep melancholy settled down upon his spirit.",
    "There was no possibility of taking a walk that day. We had been wandering in the leafless "
    "shrubbery an hour in the morning, but since dinner the cold winter wind had brought clouds.",
    "Happy families are all alike; every unhappy family is unhappy in its own way. Everything was in "
    "confusion in the house, the wife had discovered that the husband was carrying on an intrigue.",
]

PASSAGES = (
    (
        "It was the best of times, it was the worst of times.",
        "It was the age of wisdom, it was the age of foolishness.",
        "It was the epoch of belief, it was the epoch of incredulity.",
        "It was the season of Light, it was the season of Darkness.",
        "It was the spring of hope, it was the winter of despair.",
        "We had everything before us, we had nothing before us.",
        "We were all going direct to Heaven, we were all going direct the other way.",
        "There were a king with a large jaw and a queen with a plain face, on the throne of England.",
        "There were a king with a large jaw and a queen with a fair face, on the throne of France.",
        "In both countries it was clearer than crystal to the lords of the State preserves of loaves "
        "and fishes, that things in general were settled for ever.",
    ),
    (
        "It is a truth universally acknowledged, that a single man in possession of a good fortune, "
        "must be in want of a wife.",
        "However little known the feelings or views of such a man may be on his first entering a "
        "neighbourhood, this truth is so well fixed in the minds of the surrounding families, that "
        "he is considered the rightful property of some one or other of their daughters.",
        "My dear Mr. Bennet, said his lady to him one day, have you heard that Netherfield Park is "
        "let at last?",
        "Mr. Bennet replied that he had not.",
        "But it is, returned she; for Mrs. Long has just been here, and she told me all about it.",
        "Mr. Bennet made no answer.",
        "Do you not want to know who has taken it? cried his wife impatiently.",
        "You want to tell me, and I have no objection to hearing it.",
        "This was invitation enough.",
    ),
    (
        "Call me Ishmael.",
        "Some years ago, never mind how long precisely, having little or no money in my purse, and "
        "nothing particular to interest me on shore, I thought I would sail about a little and see "
        "the watery part of the world.",
        "It is a way I have of driving off the spleen and regulating the circulation.",
        "Whenever I find myself growing grim about the mouth; whenever it is a damp, drizzly "
        "November in my soul, then, I account it high time to get to sea as soon as I can.",
        "This is my substitute for pistol and ball.",
        "With a philosophical flourish Cato throws himself upon his sword; I quietly take to the ship.",
        "There is nothing surprising in this.",
        "If they but knew it, almost all men in their degree, some time or other, cherish very nearly "
        "the same feelings towards the ocean with me.",
    ),
)
RATE = 24000
LEAD, SENTENCE_PAUSES, PASSAGE_PAUSE = 0.5, (0.35, 0.5, 0.7), 2.0


@dataclass(frozen=True)
class Passage:
    text: str
    start: float
    end: float


def speech_bounds(samples: np.ndarray, threshold: float = 0.01) -> tuple[int, int]:
    """First and last sample louder than ``threshold`` (where a clip's speech is)."""
    loud = np.flatnonzero(np.abs(samples) > threshold)
    return int(loud[0]), int(loud[-1]) + 1


def long_recording(
    speak: Callable[[str], np.ndarray], passages: tuple[tuple[str, ...], ...] = PASSAGES
) -> tuple[np.ndarray, list[Passage]]:
    """The passages read sentence by sentence (float samples at 24 kHz) and where each passage's
    speech lies, from its first sentence's first sound to its last sentence's last."""
    parts = [np.zeros(round(LEAD * RATE), dtype=np.float32)]
    position = len(parts[0])
    placed = []
    for sentences in passages:
        first = last = 0
        for index, sentence in enumerate(sentences):
            clip = speak(sentence)
            start, end = speech_bounds(clip)
            if index == 0:
                first = position + start
            last = position + end
            pause = PASSAGE_PAUSE if index == len(sentences) - 1 else SENTENCE_PAUSES[index % 3]
            parts += [clip, np.zeros(round(pause * RATE), dtype=np.float32)]
            position += len(clip) + len(parts[-1])
        placed.append(Passage(" ".join(sentences), first / RATE, last / RATE))
    return np.concatenate(parts), placed
