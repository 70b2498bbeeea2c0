"""The state a session keeps, independent of dialect: its configuration, items and responses.

Every record here is owned by the one thread that runs the session (see :mod:`.session`), so
nothing is locked.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..audio import PCM16, WireFormat

#: The output speed range the Realtime API allows (``session.audio.output.speed``).
MIN_SPEED, MAX_SPEED = 0.25, 1.5


def new_id(prefix: str) -> str:
    """A fresh identifier in the Realtime API's style (``item_...``, ``resp_...``)."""
    return f"{prefix}_{uuid.uuid4().hex[:20]}"


#: ``semantic_vad``'s eagerness: the pause (ms) that ends a turn whose transcript so far ends a
#: sentence, and the pause that ends it whatever was said.
SEMANTIC_PAUSES = {"high": (300, 600), "medium": (500, 1000), "auto": (500, 1000), "low": (800, 2000)}


@dataclass(frozen=True)
class TurnDetection:
    """Turn detection settings: ``server_vad``, or ``semantic_vad`` when ``semantic`` (whose
    pauses come from ``eagerness``, see :data:`SEMANTIC_PAUSES`, not ``silence_duration_ms``)."""

    threshold: float = 0.5
    prefix_padding_ms: int = 300
    silence_duration_ms: int = 500
    create_response: bool = True
    interrupt_response: bool = True
    semantic: bool = False
    eagerness: str = "auto"


@dataclass(frozen=True)
class Transcription:
    """Input transcription settings; the model name is echoed, the engine has one recognizer."""

    model: str = "whisper-1"
    language: str | None = None
    prompt: str | None = None


@dataclass(frozen=True)
class Config:
    """The effective session configuration. Updates build a new one, so a bad update changes nothing."""

    input_format: WireFormat = PCM16
    output_format: WireFormat = PCM16
    voice: str = "alloy"
    audio_out: bool = True
    instructions: str = ""
    speed: float = 1.0
    transcription: Transcription | None = None
    turn_detection: TurnDetection | None = field(default_factory=TurnDetection)


@dataclass
class Item:
    """A conversation item; ``samples`` holds a user audio message's audio (float32 at ASR_RATE)."""

    id: str
    role: str
    parts: list[dict[str, Any]]
    type: str = "message"
    status: str = "completed"
    samples: np.ndarray | None = None


@dataclass
class ResponsePlan:
    """What one response will do, fixed when it is created; ``cancelled`` is set by the session."""

    id: str
    voice: str
    output_format: WireFormat
    audio_out: bool
    speed: float
    source: list[Item]
    in_conversation: bool
    cancelled: bool = False


class Conversation:
    """The conversation's items in order."""

    def __init__(self) -> None:
        self.items: list[Item] = []

    @property
    def last_id(self) -> str | None:
        return self.items[-1].id if self.items else None

    def __contains__(self, item_id: object) -> bool:
        return any(item.id == item_id for item in self.items)

    def insert(self, item: Item, previous: str | None) -> None:
        """Put ``item`` after the item ``previous`` (at the end when ``None``)."""
        index = next((n + 1 for n, i in enumerate(self.items) if i.id == previous), len(self.items))
        self.items.insert(index, item)

    def delete(self, item_id: str) -> None:
        self.items = [item for item in self.items if item.id != item_id]
