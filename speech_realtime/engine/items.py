"""Conversation items from client events (``conversation.item.create``, ``response.create`` input)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..audio import WireFormat, decode_wire, resample
from .models import ASR_RATE
from .parsing import audio_bytes, invalid, reject_unknown, string
from .state import Item, new_id


def parse_item(raw: Any, input_format: WireFormat, param: str = "item") -> Item:
    """A conversation item (messages only: the echo model has no tools).

    ``input_audio`` content is decoded in the session's input format.
    """
    if not isinstance(raw, dict):
        raise invalid(param, raw, "an object")
    if raw.get("type", "message") != "message":
        raise invalid(f"{param}.type", raw.get("type"), "'message'")
    reject_unknown(raw, {"id", "type", "object", "role", "status", "content"}, param)
    role = raw.get("role")
    if role not in ("user", "assistant", "system"):
        raise invalid(f"{param}.role", role, "user, assistant or system")
    content = raw.get("content")
    if not isinstance(content, list) or not content:
        raise invalid(f"{param}.content", content, "a non-empty array of content parts")
    item_id = raw.get("id", None)
    if item_id is not None and not (isinstance(item_id, str) and 0 < len(item_id) <= 64):
        raise invalid(f"{param}.id", item_id, "a string of at most 64 characters")
    parts: list[dict[str, Any]] = []
    samples = None
    for index, part in enumerate(content):
        where = f"{param}.content[{index}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in ("input_text", "text", "output_text"):
            text = string(part.get("text"), f"{where}.text")
            parts.append({"type": "input_text" if role != "assistant" else "output_text", "text": text})
        elif kind == "input_audio" and role == "user":
            audio = audio_bytes(part.get("audio"), input_format, f"{where}.audio")
            samples = asr_samples(audio, input_format)
            transcript = part.get("transcript")
            if transcript is not None:
                string(transcript, f"{where}.transcript")
            parts.append({"type": "input_audio", "transcript": transcript})
        else:
            raise invalid(f"{where}.type", kind, "input_text, or input_audio in a user message")
    return Item(item_id or new_id("item"), role, parts, samples=samples)


def asr_samples(audio: bytes, fmt: WireFormat) -> np.ndarray:
    """Wire audio as float32 at the ASR rate (whole, not streamed)."""
    return resample(decode_wire(audio, fmt), fmt.sample_rate, ASR_RATE)
