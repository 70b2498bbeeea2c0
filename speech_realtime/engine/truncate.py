"""``conversation.item.truncate`` for the engine: how much audio each assistant item was given,
and cutting an item's transcript back to the audio the client says was heard.

The responder voices a reply sentence by sentence: a sentence's audio deltas, then its transcript
delta. :class:`AudioLedger` watches those events as the session sends them (nothing in the
responder changes), so for every assistant item it knows the audio's length and where each
sentence's audio ends. A truncation keeps the sentences heard whole and, of the sentence cut
in the middle, the share of its words that its heard share of audio holds (the engine has no
word times for its own speech); the rest of the transcript is deleted, as on the Realtime API,
so that no text the user did not hear stays in the conversation.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from ..audio import WireFormat
from .parsing import ClientEventError, integer, invalid, required
from .render import Event, event
from .state import Conversation, Item

#: Assistant items whose audio the ledger remembers (older ones can no longer be truncated).
MAX_ITEMS = 64
#: The largest ``audio_end_ms`` accepted (a day; anything longer is no item's length).
MAX_END_MS = 86_400_000


@dataclass
class Spoken:
    """An assistant item's audio: its length and, per sentence, where its audio ends."""

    bytes_per_ms: float
    audio_ms: float = 0.0
    sentences: list[tuple[float, str]] = field(default_factory=list)
    truncated_ms: int | None = None

    def transcript(self, end_ms: int) -> str:
        """The words of the first ``end_ms`` of the audio."""
        kept: list[str] = []
        start = 0.0
        for end, sentence in self.sentences:
            if end <= end_ms:
                kept.append(sentence)
            else:
                if end > start and end_ms > start:
                    words = sentence.split()
                    heard = words[: int(len(words) * (end_ms - start) / (end - start))]
                    if heard:
                        kept.append(sentence[: len(sentence) - len(sentence.lstrip())] + " ".join(heard))
                break
            start = end
        return "".join(kept).strip()


class AudioLedger:
    """The spoken audio of the session's recent assistant items (see the module's docstring)."""

    def __init__(self) -> None:
        self._items: OrderedDict[str, Spoken] = OrderedDict()

    def observe(self, batch: list[Event], fmt: WireFormat) -> None:
        """Note the audio and transcript deltas of one batch of a response's events."""
        for sent in batch:
            kind = sent["type"]
            if kind in ("response.output_audio.delta", "response.audio.delta"):
                spoken = self._spoken(sent["item_id"], fmt)
                spoken.audio_ms += _b64_bytes(sent["delta"]) / spoken.bytes_per_ms
            elif kind in ("response.output_audio_transcript.delta", "response.audio_transcript.delta"):
                spoken = self._spoken(sent["item_id"], fmt)
                spoken.sentences.append((spoken.audio_ms, sent["delta"]))

    def _spoken(self, item_id: str, fmt: WireFormat) -> Spoken:
        spoken = self._items.get(item_id)
        if spoken is None:
            spoken = self._items[item_id] = Spoken(fmt.sample_rate * fmt.sample_width / 1000)
            while len(self._items) > MAX_ITEMS:
                self._items.popitem(last=False)
        return spoken

    def reapply(self, item: Item) -> None:
        """Keep a truncation in force when the response that is writing the item finishes it."""
        spoken = self._items.get(item.id)
        if spoken is not None and spoken.truncated_ms is not None and item.parts:
            item.parts[0]["transcript"] = spoken.transcript(spoken.truncated_ms)

    def truncate(self, message: dict[str, Any], conversation: Conversation) -> list[Event]:
        """Handle ``conversation.item.truncate``: the ``conversation.item.truncated`` event, or a
        :class:`ClientEventError` naming the field at fault."""
        item_id = required(message, "item_id", str)
        index = integer(required_value(message, "content_index"), "content_index", 0, 0)
        end_ms = integer(required_value(message, "audio_end_ms"), "audio_end_ms", 0, MAX_END_MS)
        item = next((i for i in conversation.items if i.id == item_id), None)
        if item is None:
            raise ClientEventError(
                "item_truncate_invalid_item_id",
                f"Error truncating item: the item with id '{item_id[:64]}' does not exist.",
                "item_id",
            )
        spoken = self._items.get(item_id)
        if item.role != "assistant" or spoken is None:
            raise invalid("item_id", item_id, "the id of an assistant message item with audio")
        if end_ms > spoken.audio_ms:
            raise ClientEventError(
                "invalid_value",
                f"Audio content of {spoken.audio_ms:.0f}ms is already shorter than {end_ms}ms.",
                "audio_end_ms",
            )
        spoken.truncated_ms = end_ms
        self.reapply(item)
        return [
            event("conversation.item.truncated", item_id=item_id, content_index=index, audio_end_ms=end_ms)
        ]


def required_value(message: dict[str, Any], name: str) -> Any:
    if name not in message:
        raise ClientEventError("missing_required_parameter", f"Missing required parameter: '{name}'.", name)
    return message[name]


def _b64_bytes(data: str) -> int:
    """Bytes a base64 string decodes to, without decoding it."""
    return len(data) * 3 // 4 - data[-2:].count("=") if data else 0
