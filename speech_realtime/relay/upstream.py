"""The Realtime client events the relay sends upstream, in the dialect of the endpoint.

The relay's session: PCM16 24 kHz in and out, audio replies, input transcription, and server
VAD that ends the user's turns and starts the replies (``create_response``) but does **not**
interrupt them (``interrupt_response: false``): the relay cancels and truncates a reply itself
when the user starts speaking, so what the conversation keeps is decided in one place.
"""

from __future__ import annotations

from typing import Any

from ..config import Dialect
from ..realtime.events import append_audio, create_item, create_response, user_message

#: What the model is told when ``SPEECH_RELAY_INSTRUCTIONS`` is not set.
DEFAULT_INSTRUCTIONS = (
    "You are a helpful voice assistant. Answer briefly and conversationally, in the language the user speaks."
)
#: Server VAD for a conversation: turns start replies; barge-in is the relay's (see above).
CONVERSATION_VAD = {"type": "server_vad", "create_response": True, "interrupt_response": False}
_PCM = {"type": "audio/pcm", "rate": 24000}


def session_update(
    dialect: Dialect, *, instructions: str, voice: str, transcribe_model: str
) -> dict[str, Any]:
    """Configure a relay session (see the module's docstring)."""
    transcription = {"model": transcribe_model}
    if dialect == Dialect.GA:
        session: dict[str, Any] = {
            "type": "realtime",
            "output_modalities": ["audio"],
            "instructions": instructions,
            "audio": {
                "input": {
                    "format": _PCM,
                    "transcription": transcription,
                    "turn_detection": dict(CONVERSATION_VAD),
                },
                "output": {"format": _PCM, "voice": voice},
            },
        }
    else:
        session = {
            "modalities": ["text", "audio"],
            "instructions": instructions,
            "voice": voice,
            "input_audio_format": "pcm16",
            "output_audio_format": "pcm16",
            "input_audio_transcription": transcription,
            "turn_detection": dict(CONVERSATION_VAD),
        }
    return {"type": "session.update", "session": session}


def user_text(text: str) -> list[dict[str, Any]]:
    """A typed user message, as an item of the conversation."""
    return [create_item(user_message(text))]


def reply() -> dict[str, Any]:
    return create_response()


def audio(pcm: bytes) -> dict[str, Any]:
    return append_audio(pcm)


def cancel(response_id: str) -> dict[str, Any]:
    return {"type": "response.cancel", "response_id": response_id}


def truncate(item_id: str, audio_end_ms: int) -> dict[str, Any]:
    """Keep only the first ``audio_end_ms`` of an assistant item's audio (and its transcript)."""
    return {
        "type": "conversation.item.truncate",
        "item_id": item_id,
        "content_index": 0,
        "audio_end_ms": audio_end_ms,
    }


def assistant_text(dialect: Dialect, text: str) -> dict[str, Any]:
    """An assistant message of earlier text, carried into a renewed session."""
    kind = "output_text" if dialect == Dialect.GA else "text"
    return create_item({"type": "message", "role": "assistant", "content": [{"type": kind, "text": text}]})
