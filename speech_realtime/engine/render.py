"""Server events in the session's dialect: the one place that knows GA and preview names and shapes."""

from __future__ import annotations

from typing import Any

from ..audio import PCM16, WireFormat
from ..realtime.events import Dialect
from .parsing import GA_FORMATS
from .state import Config, Item, TurnDetection, new_id

Event = dict[str, Any]

_GA_FORMAT_OF = {wire: ga for ga, wire in GA_FORMATS.items()}

_NAMES = {
    Dialect.GA: {
        "audio.delta": "response.output_audio.delta",
        "audio.done": "response.output_audio.done",
        "transcript.delta": "response.output_audio_transcript.delta",
        "transcript.done": "response.output_audio_transcript.done",
        "text.delta": "response.output_text.delta",
        "text.done": "response.output_text.done",
    },
    Dialect.PREVIEW: {
        "audio.delta": "response.audio.delta",
        "audio.done": "response.audio.done",
        "transcript.delta": "response.audio_transcript.delta",
        "transcript.done": "response.audio_transcript.done",
        "text.delta": "response.text.delta",
        "text.done": "response.text.done",
    },
}


def event(type_: str, **fields: Any) -> Event:
    """A server event with a fresh ``event_id``."""
    return {"type": type_, "event_id": new_id("event"), **fields}


def error(code: str, message: str, param: str | None = None, event_id: str | None = None) -> Event:
    kind = "server_error" if code == "server_error" else "invalid_request_error"
    return event(
        "error", error={"type": kind, "code": code, "message": message, "param": param, "event_id": event_id}
    )


def _ga_format(fmt: WireFormat) -> dict[str, Any]:
    rendered: dict[str, Any] = {"type": _GA_FORMAT_OF[fmt.name]}
    if fmt is PCM16:
        rendered["rate"] = fmt.sample_rate
    return rendered


def _turn_detection(vad: TurnDetection | None) -> dict[str, Any] | None:
    if vad is None:
        return None
    responses = {"create_response": vad.create_response, "interrupt_response": vad.interrupt_response}
    if vad.semantic:
        return {"type": "semantic_vad", "eagerness": vad.eagerness, **responses}
    timing = {k: getattr(vad, k) for k in ("threshold", "prefix_padding_ms", "silence_duration_ms")}
    return {"type": "server_vad", **timing, **responses}


class Renderer:
    """Renders session state and response events for one session in one dialect."""

    def __init__(
        self, dialect: Dialect, session_id: str, model: str, expires_at: int, *, transcription: bool = False
    ) -> None:
        self.ga = dialect == Dialect.GA
        self.names = _NAMES[dialect]
        self._session_id, self._model, self._expires_at = session_id, model, expires_at
        #: a transcription session (``intent=transcription``)
        self.transcription = transcription

    def session_event(self, kind: str, c: Config) -> Event:
        """``session.created`` / ``session.updated`` (``kind``); a preview transcription session's
        are ``transcription_session.created`` / ``.updated``."""
        prefix = "transcription_session" if self.transcription and not self.ga else "session"
        return event(f"{prefix}.{kind}", session=self.session(c))

    def session(self, c: Config) -> dict[str, Any]:
        transcription = (
            None if c.transcription is None else {k: v for k, v in vars(c.transcription).items() if v}
        )
        if self.transcription:
            return self._transcription_session(c, transcription)
        common = {"object": "realtime.session", "id": self._session_id, "expires_at": self._expires_at}
        if self.ga:
            return {
                "type": "realtime",
                "model": self._model,
                **common,
                "output_modalities": ["audio"] if c.audio_out else ["text"],
                "instructions": c.instructions,
                "tools": [],
                "tool_choice": "auto",
                "max_output_tokens": "inf",
                "audio": {
                    "input": {
                        "format": _ga_format(c.input_format),
                        "transcription": transcription,
                        "noise_reduction": None,
                        "turn_detection": _turn_detection(c.turn_detection),
                    },
                    "output": {"format": _ga_format(c.output_format), "voice": c.voice, "speed": c.speed},
                },
            }
        return {
            **common,
            "modalities": ["text", "audio"] if c.audio_out else ["text"],
            "instructions": c.instructions,
            "voice": c.voice,
            "speed": c.speed,
            "input_audio_format": c.input_format.name,
            "output_audio_format": c.output_format.name,
            "input_audio_transcription": transcription,
            "turn_detection": _turn_detection(c.turn_detection),
            "tools": [],
            "tool_choice": "auto",
            "temperature": 0.8,
            "max_response_output_tokens": "inf",
        }

    def _transcription_session(self, c: Config, transcription: dict[str, Any] | None) -> dict[str, Any]:
        """A transcription session: GA ``type: "transcription"``, preview the beta
        ``TranscriptionSession`` (whose ``client_secret`` the engine has none of: empty)."""
        vad = _turn_detection(c.turn_detection)
        if vad is not None:
            vad = {k: v for k, v in vad.items() if k not in ("create_response", "interrupt_response")}
        if self.ga:
            audio_in = {
                "format": _ga_format(c.input_format),
                "transcription": transcription,
                "turn_detection": vad,
            }
            return {
                "type": "transcription",
                "object": "realtime.transcription_session",
                "id": self._session_id,
                "expires_at": self._expires_at,
                "audio": {"input": audio_in},
            }
        return {
            "client_secret": {"value": "", "expires_at": self._expires_at},
            "modalities": ["text"],
            "input_audio_format": c.input_format.name,
            "input_audio_transcription": transcription,
            "turn_detection": vad,
        }

    def item(self, item: Item) -> dict[str, Any]:
        parts = [dict(p) for p in item.parts]
        if not self.ga:
            renames = {"output_audio": "audio", "output_text": "text"}
            for part in parts:
                part["type"] = renames.get(part["type"], part["type"])
        return {
            "id": item.id,
            "object": "realtime.item",
            "type": item.type,
            "role": item.role,
            "status": item.status,
            "content": parts,
        }

    def item_added(self, item: Item, previous: str | None, *, finished: bool = True) -> list[Event]:
        """GA: ``conversation.item.added`` (and ``.done`` when finished); preview: ``.created``."""
        rendered = self.item(item)
        if not self.ga:
            return [event("conversation.item.created", previous_item_id=previous, item=rendered)]
        events = [event("conversation.item.added", previous_item_id=previous, item=rendered)]
        if finished:
            events.append(event("conversation.item.done", previous_item_id=previous, item=rendered))
        return events

    def item_finished(self, item: Item) -> list[Event]:
        """GA only: an assistant item the response has finished."""
        return [event("conversation.item.done", item=self.item(item))] if self.ga else []

    def response(self, name: str, **fields: Any) -> Event:
        """A response event by its dialect-neutral name (``audio.delta``, ``text.done``, ...)."""
        return event(self.names[name], **fields)
