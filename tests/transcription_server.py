"""Transcription sessions on the scripted Realtime server, as a transcription-only deployment
serves them.

A connection with ``intent=transcription`` in its query is a transcription session: GA
configures it with ``session.update`` whose ``session.type`` is ``transcription``, preview with
``transcription_session.update`` (answered by ``transcription_session.updated``). As the real
services do, a transcription session refuses realtime session updates and ``response.create``,
and a realtime session refuses transcription session updates. When ``include`` asks for
``item.input_audio_transcription.logprobs``, every completed transcription carries a
``logprobs`` entry per word (unless the script's mode is ``no_logprobs``: a model that gives none).
"""

from __future__ import annotations

from typing import Any

from realtime_server import _Session

LOGPROBS_INCLUDE = "item.input_audio_transcription.logprobs"
#: The log probability the server gives every word it 'hears'.
WORD_LOGPROB = -0.25


def word_logprobs(transcript: str) -> list[dict[str, Any]]:
    """The ``logprobs`` the server reports for ``transcript``: one token per word."""
    return [
        {"token": word, "logprob": WORD_LOGPROB, "bytes": list(word.encode())} for word in transcript.split()
    ]


class _Logprobs(_Session):
    """Completed transcriptions carry ``logprobs`` when the session's ``include`` asks for them."""

    def send(self, event: dict[str, Any]) -> None:
        if event["type"] == "conversation.item.input_audio_transcription.completed" and self.logprobs:
            event = {**event, "logprobs": word_logprobs(event["transcript"])}
        super().send(event)

    @property
    def logprobs(self) -> bool:
        asked = LOGPROBS_INCLUDE in (self.config.get("include") or [])
        return asked and self.script.mode != "no_logprobs"

    def refuse(self, message: str) -> None:
        error = {"type": "invalid_request_error", "code": "invalid_parameter", "message": message}
        self.send({"type": "error", "error": error})


class RealtimeSession(_Logprobs):
    """A connection without ``intent=transcription``: transcription session updates refused."""

    def handle(self, event: dict[str, Any]) -> str | None:
        kind = event["type"]
        if kind == "transcription_session.update" or (
            kind == "session.update" and event["session"].get("type") == "transcription"
        ):
            self.refuse("Passing a transcription session update event to a realtime session is not allowed.")
            return None
        return super().handle(event)


class TranscriptionSession(_Logprobs):
    """A connection opened with ``intent=transcription``."""

    def handle(self, event: dict[str, Any]) -> str | None:
        kind = event["type"]
        if kind == "session.update" and event["session"].get("type") != "transcription":
            self.refuse("Passing a realtime session update event to a transcription session is not allowed.")
            return None
        if kind in ("response.create", "conversation.item.create"):
            self.refuse(f"{kind} is not supported in a transcription session.")
            return None
        if kind == "transcription_session.update":
            self.config.update(event["session"])
            self.send({"type": "transcription_session.updated", "session": self.config})
            return None
        return super().handle(event)


def session_class(query: dict[str, str]) -> type[_Session]:
    """The session a connection with ``query`` gets."""
    return TranscriptionSession if query.get("intent") == "transcription" else RealtimeSession
