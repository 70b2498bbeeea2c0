"""Committed items transcribed together when several are waiting: one Whisper window, many items.

Every Whisper call costs a whole 30 s window (the encoder pads to it), so audio pushed faster
than real time (an upload streamed), which server VAD commits as several items at once, cost one
window per item: four phrases, four windows, against one for the same audio whole. When items
are already queued, they are laid out in one window, :data:`GAP_SECONDS` of silence apart, and
transcribed in one call; each word goes back to the item whose speech it lies on (the items'
own voice activity, run here), so no word crosses from one item into another.

A word is placed only where it is sure: one that lies :data:`FAR_SECONDS` or more from every
item's speech (deep in a gap), or an item with speech that got no word at all (the decoder
stopped early), makes the items concerned go back to being transcribed alone, so batching never
loses a word nor moves one; it only saves windows. Which items are batched is decided only from
what is queued (:func:`batch_size`): nothing waits for more audio, so live audio, which arrives
at the pace it is spoken, keeps its latency.

Measured on 16 sentences of the engine's voice in groups of four with 2 s gaps: every word went
to its own item, one word lay in a gap (0.15 s from its item's speech).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .models import ASR_RATE, WHISPER_WINDOW_SECONDS, Heard, ModelSet, Word
from .phrases import phrases, snap_words
from .state import Item

#: Silence between two items in the shared window.
GAP_SECONDS = 2.0
#: Audio one batch may hold, gaps included (under the window, so it stays one window).
BATCH_SECONDS = WHISPER_WINDOW_SECONDS - 1.0
#: A word this far from any item's speech is not placed: its items are transcribed alone.
FAR_SECONDS = 0.75
#: An item with this much speech and no word in the batch is transcribed alone.
SPEECH_NEEDING_WORDS = 0.3


@dataclass(frozen=True)
class Queued:
    """An item's audio (float32 at :data:`ASR_RATE`) and its runs of speech in seconds."""

    samples: np.ndarray
    speech: list[tuple[float, float]]

    @property
    def seconds(self) -> float:
        return len(self.samples) / ASR_RATE


def batch_size(seconds: Sequence[float], limit: float = BATCH_SECONDS, gap: float = GAP_SECONDS) -> int:
    """How many of the queued items (their lengths, oldest first) go in the oldest one's window:
    as many as fit, in order, with ``gap`` between; 1 means the oldest is transcribed alone."""
    used, count = 0.0, 0
    for length in seconds:
        needed = length + (gap if count else 0.0)
        if used + needed > limit:
            break
        used, count = used + needed, count + 1
    return max(1, count)


def may_share(item: Item) -> bool:
    """Whether ``item`` waits for the recognizer and leaves room in its window for another."""
    if item.samples is None or item.parts[0].get("transcript") is not None:
        return False
    return len(item.samples) / ASR_RATE + GAP_SECONDS < BATCH_SECONDS


def queued(samples: np.ndarray, models: ModelSet) -> Queued:
    """An item as the batch needs it: its speech found by its own voice activity."""
    speech = [run for phrase in phrases(samples, models.voice_activity()) if phrase for run in phrase.speech]
    return Queued(samples, speech)


def transcribe_queued(
    waiting: Sequence[np.ndarray], models: ModelSet, language: str | None
) -> list[Heard | None]:
    """What was said in the oldest waiting item and in as many of the next as share its window
    (:func:`batch_size`), from one call: one result per item of that batch, ``None`` for an item
    to transcribe alone (no speech, or words that could not all be placed); an empty list when
    no call was made (nothing shares the window, or the oldest has no speech)."""
    count = batch_size([len(samples) / ASR_RATE for samples in waiting])
    if count < 2:
        return []
    entries = [queued(samples, models) for samples in waiting[:count]]
    spoken = [index for index, entry in enumerate(entries) if entry.speech]
    if len(spoken) < 2 or spoken[0] != 0:
        return []
    results: list[Heard | None] = [None] * count
    together = transcribe_together([entries[index] for index in spoken], models, language)
    for index, heard in zip(spoken, together, strict=True):
        results[index] = heard
    return results


def transcribe_together(
    items: Sequence[Queued], models: ModelSet, language: str | None
) -> list[Heard | None]:
    """What was said in each item, from one Whisper call over all of them; ``None`` for an item
    whose words could not all be placed with certainty (it must be transcribed alone)."""
    gap = np.zeros(round(GAP_SECONDS * ASR_RATE), dtype=np.float32)
    offsets, parts, position = [], [], 0
    for index, item in enumerate(items):
        if index:
            parts.append(gap)
            position += len(gap)
        offsets.append(position / ASR_RATE)
        parts.append(np.asarray(item.samples, dtype=np.float32))
        position += len(item.samples)
    heard = models.transcribe(np.concatenate(parts), language)
    words: list[list[Word]] = [[] for _ in items]
    uncertain: set[int] = set()
    for word in heard.words:
        owner, distance = _nearest_item(word, items, offsets)
        if any(words[later] for later in range(owner + 1, len(items))):  # out of order: unsure of all
            return [None] * len(items)
        if distance >= FAR_SECONDS:  # the items on both sides of the gap it lies in
            after = bool(items[owner].speech) and word.start >= offsets[owner] + items[owner].speech[-1][1]
            uncertain.update({owner, owner + 1 if after else owner - 1})
        offset = offsets[owner]
        words[owner].append(Word(word.text, round(word.start - offset, 3), round(word.end - offset, 3)))
    texts = _texts(heard, [len(item_words) for item_words in words])
    results: list[Heard | None] = []
    for index, item in enumerate(items):
        spoken = sum(end - start for start, end in item.speech)
        if index in uncertain or (spoken >= SPEECH_NEEDING_WORDS and not words[index]):
            results.append(None)
            continue
        placed = snap_words(words[index], item.speech)
        if placed and placed[0].text[:1].islower():  # each item starts as a transcript of its own
            placed[0] = Word(placed[0].text[:1].upper() + placed[0].text[1:], placed[0].start, placed[0].end)
            texts[index] = texts[index][:1].upper() + texts[index][1:]
        results.append(Heard(texts[index], tuple(placed)))
    return results


def _texts(heard: Heard, counts: list[int]) -> list[str]:
    """The transcript cut into the items' texts, ``counts[k]`` words each, as the recognizer
    wrote it ("10.30", not the words joined: "10 .30"); the words joined if a word is not found."""
    spans, position = [], 0
    for word in heard.words:
        start = heard.text.find(word.text, position)
        if start < 0:
            break
        position = start + len(word.text)
        spans.append((start, position))
    texts, first = [], 0
    for count in counts:
        if len(spans) == len(heard.words):
            texts.append(heard.text[spans[first][0] : spans[first + count - 1][1]] if count else "")
        else:
            texts.append(" ".join(word.text for word in heard.words[first : first + count]))
        first += count
    return texts


def _nearest_item(word: Word, items: Sequence[Queued], offsets: list[float]) -> tuple[int, float]:
    """The item whose speech ``word`` overlaps most, else lies nearest to (0 when overlapping),
    with the distance in seconds; an item with no speech is never chosen unless all have none."""
    best, best_key = 0, (float("inf"), 0.0)
    for index, (item, offset) in enumerate(zip(items, offsets, strict=True)):
        for start, end in item.speech:
            start, end = start + offset, end + offset
            overlap = min(end, word.end) - max(start, word.start)
            distance = 0.0 if overlap > 0 else max(start - word.end, word.start - end, 0.0)
            key = (distance, -overlap)
            if key < best_key:
                best, best_key = index, key
    return best, best_key[0]
