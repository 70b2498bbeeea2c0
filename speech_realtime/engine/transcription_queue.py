"""The session's queue of user items waiting for the recognizer, and their batching.

Each committed item's transcription is a job (:mod:`.responder`). Before its Whisper call a job
lets the session read the client messages already waiting (an empty step each): audio pushed
faster than real time commits its later items, which are then transcribed in the same call
(:mod:`.batching`), each transcript kept for its own job. Live audio finds nothing waiting, so
it waits for nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from . import batching, responder
from .models import Heard, ModelSet
from .state import Item

log = logging.getLogger(__name__)


class TranscriptionQueue:
    """The items whose transcription is queued, by ``id``; ``input_came()`` says (and forgets)
    whether a client message was handled since it was last asked."""

    def __init__(self, models: ModelSet, input_came: Callable[[], bool]) -> None:
        self.models = models
        self._input_came = input_came
        #: Items queued for the recognizer: their audio is in use until their job is done.
        self.items: dict[int, Item] = {}
        #: Transcripts made with an earlier item's, until their own job sends them.
        self._heard: dict[int, Heard] = {}
        self._alone: set[int] = set()  # items a batch could not place: transcribed one by one

    def add(self, item: Item, language: str | None) -> responder.Job:
        """Queue ``item``; the job that transcribes it."""
        self.items[id(item)] = item
        return self._transcribe(item, language)

    def _transcribe(self, item: Item, language: str | None) -> responder.Job:
        try:
            heard = self._heard.pop(id(item), None)
            if heard is None and batching.may_share(item):
                while self._input_came():
                    yield []
                heard = self._heard.pop(id(item), None) or self._batched(item, language)
            yield from responder.transcription(item, self.models, language, heard)
        finally:
            self.items.pop(id(item), None)
            self._heard.pop(id(item), None)
            self._alone.discard(id(item))

    def _batched(self, item: Item, language: str | None) -> Heard | None:
        """``item``'s transcript made in one call with the items queued after it, each of their
        transcripts kept for its own job; ``None`` when ``item`` is to be transcribed alone."""
        waiting = [
            other
            for other in self.items.values()
            if other is not item
            and other.samples is not None
            and other.parts[0].get("transcript") is None
            and id(other) not in self._heard
            and id(other) not in self._alone
        ]
        if item.samples is None or id(item) in self._alone:
            return None
        try:
            samples = [item.samples, *(other.samples for other in waiting if other.samples is not None)]
            results = batching.transcribe_queued(samples, self.models, language)
        except Exception as exc:  # each item is then transcribed alone, and fails on its own
            log.warning("engine: transcribing items together failed: %s", exc)
            return None
        for other, heard in zip([item, *waiting], results, strict=False):
            if heard is None:
                self._alone.add(id(other))
            elif other is not item:
                self._heard[id(other)] = heard
        return results[0] if results else None
