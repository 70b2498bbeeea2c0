"""One Realtime session of the local engine: client events in, server events out.

The session speaks the dialect of the path it was opened on (``ga`` or ``preview``) and keeps
the state the real service keeps: the session configuration, the input audio buffer, the
conversation, and at most one active response. Long work (transcription, synthesis) runs on the
session's own worker thread in arrival order, so ``response.cancel`` and new audio are handled
while a response is being voiced.

Its "model" is an **echo model**: a response reads back the last user message, its text or the
transcript of its audio. That is what a speech service needs from it (TTS reads the text it is
given; STT needs only the input transcription) and it is deterministic to test.
"""

from __future__ import annotations

import base64
import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..audio import (
    MIN_COMMIT_SECONDS,
    PCM16,
    StreamResampler,
    WireFormat,
    decode_wire,
    encode_wire,
)
from ..realtime.events import GA
from ..voices import voices_for
from .models import ASR_RATE, ENGINE_RATE, Models
from .parsing import (
    ClientEventError,
    Config,
    Item,
    apply_ga_session,
    apply_preview_session,
    decode_base64,
    ga_wire_format,
    invalid,
    new_id,
    parse_item,
    render_ga_format,
    required,
    to_ms,
    wire_format,
)

log = logging.getLogger(__name__)

Send = Callable[[dict[str, Any]], None]

#: Largest audio delta the engine sends, in seconds of audio.
DELTA_SECONDS = 0.5
#: How much new audio server VAD waits for before looking again, in seconds.
VAD_STEP_SECONDS = 0.1
#: Server VAD looks at no more than this much of the most recent audio, in seconds.
VAD_WINDOW_SECONDS = 30

_NAMES = {
    GA: {
        "audio.delta": "response.output_audio.delta",
        "audio.done": "response.output_audio.done",
        "transcript.delta": "response.output_audio_transcript.delta",
        "transcript.done": "response.output_audio_transcript.done",
        "text.delta": "response.output_text.delta",
        "text.done": "response.output_text.done",
    },
    "preview": {
        "audio.delta": "response.audio.delta",
        "audio.done": "response.audio.done",
        "transcript.delta": "response.audio_transcript.delta",
        "transcript.done": "response.audio_transcript.done",
        "text.delta": "response.text.delta",
        "text.done": "response.text.done",
    },
}


class InputBuffer:
    """The input audio buffer, kept at the ASR rate; ``offset`` counts every sample ever added."""

    def __init__(self) -> None:
        self.offset = 0
        self.reset(PCM16)

    def reset(self, fmt: WireFormat) -> None:
        self._format = fmt
        self._resampler = StreamResampler(fmt.sample_rate, ASR_RATE)
        self._pieces: list[np.ndarray] = []
        self.received_seconds = 0.0
        self.start = self.offset

    def append(self, data: bytes, fmt: WireFormat) -> None:
        if fmt is not self._format:
            pending = self.take()
            self.reset(fmt)
            if len(pending):
                self._pieces.append(pending)
        self.received_seconds += fmt.duration(data)
        samples = self._resampler.push(decode_wire(data, fmt))
        self._pieces.append(samples)
        self.offset += len(samples)

    def samples(self) -> np.ndarray:
        if len(self._pieces) > 1:
            self._pieces = [np.concatenate(self._pieces)]
        return self._pieces[0] if self._pieces else np.zeros(0, dtype=np.float32)

    def take(self) -> np.ndarray:
        """Everything buffered (the resampler's tail included), leaving the buffer empty."""
        tail = self._resampler.push(np.zeros(0, dtype=np.float32), last=True)
        self._pieces.append(tail)
        self.offset += len(tail)
        samples = self.samples()
        self.reset(self._format)
        return samples


@dataclass
class Response:
    id: str
    cancelled: threading.Event = field(default_factory=threading.Event)


class EngineSession:
    """The protocol state of one connection. ``send`` must be safe to call from two threads."""

    def __init__(self, dialect: str, models: Models, send: Send, *, model: str = "local-echo") -> None:
        self.dialect = dialect
        self.models = models
        self._send = send
        self.model = model
        self.id = new_id("sess")
        self.expires_at = int(time.time()) + 30 * 60
        self.config = Config()
        self.items: list[Item] = []
        self.buffer = InputBuffer()
        self._buffer_item_id = new_id("item")
        self._speaking = False
        self._vad_checked = 0
        self._response: Response | None = None
        self._response_lock = threading.Lock()
        self._tasks: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self._worker = threading.Thread(target=self._work, name=f"engine-{self.id}", daemon=True)
        self._worker.start()

    # -- connection lifecycle -----------------------------------------------------------------

    def open(self) -> None:
        self.emit("session.created", session=self.render_session())

    def close(self) -> None:
        with self._response_lock:
            if self._response:
                self._response.cancelled.set()
        self._tasks.put(None)

    def _work(self) -> None:
        while (task := self._tasks.get()) is not None:
            try:
                task()
            except Exception:
                log.exception("engine task failed")
                self.emit_error("server_error", "The engine failed to process the request.", None, None)

    def emit(self, type_: str, **fields: Any) -> None:
        self._send({"type": type_, "event_id": new_id("event"), **fields})

    def emit_error(self, code: str, message: str, param: str | None, event_id: str | None) -> None:
        kind = "server_error" if code == "server_error" else "invalid_request_error"
        self.emit(
            "error",
            error={"type": kind, "code": code, "message": message, "param": param, "event_id": event_id},
        )

    # -- client events ------------------------------------------------------------------------

    def handle(self, message: str | bytes) -> None:
        """Process one client message; a bad one is answered with an error event."""
        event_id = None
        try:
            event = self._parse(message)
            event_id = event.get("event_id") if isinstance(event.get("event_id"), str) else None
            handler = self._handlers().get(event["type"])
            if handler is None:
                raise ClientEventError(
                    "invalid_value",
                    f"Invalid value: '{event['type']}'. Supported values are: {', '.join(self._handlers())}.",
                    "type",
                )
            handler(event)
        except ClientEventError as exc:
            self.emit_error(exc.code, exc.message, exc.param, event_id)

    @staticmethod
    def _parse(message: str | bytes) -> dict[str, Any]:
        try:
            event = json.loads(message)
        except (ValueError, UnicodeDecodeError):
            raise ClientEventError("invalid_json", "The client event is not valid JSON.") from None
        if not isinstance(event, dict):
            raise ClientEventError("invalid_type", "A client event must be a JSON object.")
        if not isinstance(event.get("type"), str):
            raise ClientEventError(
                "missing_required_parameter", "Missing required parameter: 'type'.", "type"
            )
        return event

    def _handlers(self) -> dict[str, Callable[[dict[str, Any]], None]]:
        return {
            "session.update": self._session_update,
            "input_audio_buffer.append": self._append,
            "input_audio_buffer.commit": self._commit,
            "input_audio_buffer.clear": self._clear,
            "conversation.item.create": self._item_create,
            "conversation.item.delete": self._item_delete,
            "response.create": self._response_create,
            "response.cancel": self._response_cancel,
        }

    # -- session ------------------------------------------------------------------------------

    def _session_update(self, event: dict[str, Any]) -> None:
        session = required(event, "session", dict)
        config = Config(**vars(self.config))
        if self.dialect == GA:
            apply_ga_session(config, session)
        else:
            apply_preview_session(config, session)
        if config.voice not in voices_for(self.dialect):
            raise invalid("session.voice", config.voice, f"one of {', '.join(voices_for(self.dialect))}")
        self.config = config
        self.emit("session.updated", session=self.render_session())

    def render_session(self) -> dict[str, Any]:
        c = self.config
        common = {
            "object": "realtime.session",
            "id": self.id,
            "expires_at": self.expires_at,
        }
        if self.dialect == GA:
            return {
                "type": "realtime",
                "model": self.model,
                **common,
                "output_modalities": ["audio"] if c.audio_out else ["text"],
                "instructions": c.instructions,
                "tools": [],
                "tool_choice": "auto",
                "max_output_tokens": "inf",
                "audio": {
                    "input": {
                        "format": render_ga_format(c.input_format),
                        "transcription": c.transcription,
                        "noise_reduction": None,
                        "turn_detection": c.turn_detection,
                    },
                    "output": {"format": render_ga_format(c.output_format), "voice": c.voice, "speed": 1.0},
                },
            }
        return {
            **common,
            "modalities": ["text", "audio"] if c.audio_out else ["text"],
            "instructions": c.instructions,
            "voice": c.voice,
            "input_audio_format": c.input_format.name,
            "output_audio_format": c.output_format.name,
            "input_audio_transcription": c.transcription,
            "turn_detection": c.turn_detection,
            "tools": [],
            "tool_choice": "auto",
            "temperature": 0.8,
            "max_response_output_tokens": "inf",
        }

    # -- input audio ---------------------------------------------------------------------------

    def _append(self, event: dict[str, Any]) -> None:
        fmt = self.config.input_format
        audio = decode_base64(required(event, "audio", str), "audio")
        if len(audio) % fmt.sample_width:
            raise invalid("audio", f"{len(audio)} bytes", f"whole {fmt.sample_width}-byte {fmt.name} samples")
        self.buffer.append(audio, fmt)
        if self.config.turn_detection:
            self._detect_turn()

    def _commit(self, event: dict[str, Any]) -> None:
        seconds = self.buffer.received_seconds
        if seconds < MIN_COMMIT_SECONDS:
            raise ClientEventError(
                "input_audio_buffer_commit_empty",
                "Error committing input audio buffer: buffer too small. Expected at least "
                f"{MIN_COMMIT_SECONDS * 1000:.0f}ms of audio, "
                f"but buffer only has {seconds * 1000:.2f}ms of audio.",
            )
        self._commit_buffer()

    def _clear(self, event: dict[str, Any]) -> None:
        self.buffer.take()
        self._speaking = False
        self._vad_checked = 0
        self.emit("input_audio_buffer.cleared")

    def _commit_buffer(self) -> Item:
        samples = self.buffer.take()
        self._speaking = False
        self._vad_checked = 0
        item = Item(
            self._buffer_item_id, "user", [{"type": "input_audio", "transcript": None}], samples=samples
        )
        self._buffer_item_id = new_id("item")
        previous = self.items[-1].id if self.items else None
        self.emit("input_audio_buffer.committed", item_id=item.id, previous_item_id=previous)
        self._add_item(item, previous)
        if self.config.transcription is not None:
            language = self.config.transcription.get("language")
            self._tasks.put(lambda: self._transcribe(item, language))
        return item

    def _transcribe(self, item: Item, language: str | None) -> None:
        text = self._transcript_of(item, language)
        seconds = round(len(item.samples) / ASR_RATE, 3) if item.samples is not None else 0.0
        self.emit(
            "conversation.item.input_audio_transcription.delta", item_id=item.id, content_index=0, delta=text
        )
        self.emit(
            "conversation.item.input_audio_transcription.completed",
            item_id=item.id,
            content_index=0,
            transcript=text,
            usage={"type": "duration", "seconds": seconds},
        )

    def _transcript_of(self, item: Item, language: str | None = None) -> str:
        part = item.parts[0]
        if part.get("transcript") is None:
            samples = item.samples if item.samples is not None else np.zeros(0, dtype=np.float32)
            part["transcript"] = self.models.transcribe(samples, language) if len(samples) else ""
        return part["transcript"]

    def _detect_turn(self) -> None:
        """Server VAD: announce speech start and stop; on stop, commit and maybe respond."""
        samples = self.buffer.samples()
        if len(samples) - self._vad_checked < VAD_STEP_SECONDS * ASR_RATE:
            return
        self._vad_checked = len(samples)
        vad = self.config.turn_detection or {}
        window_start = max(0, len(samples) - VAD_WINDOW_SECONDS * ASR_RATE)
        silence_ms = int(vad.get("silence_duration_ms") or 500)
        segments = self.models.speech(
            samples[window_start:],
            threshold=float(vad.get("threshold") or 0.5),
            silence_ms=silence_ms,
            padding_ms=int(vad.get("prefix_padding_ms") or 300),
        )
        if not segments:
            return
        base = self.buffer.start + window_start
        if not self._speaking:
            self._speaking = True
            self.emit(
                "input_audio_buffer.speech_started",
                audio_start_ms=to_ms(base + segments[0].start),
                item_id=self._buffer_item_id,
            )
            if vad.get("interrupt_response", True):
                self._cancel_active()
        end = segments[-1].end
        if len(samples) - window_start - end >= silence_ms * ASR_RATE // 1000:
            self.emit(
                "input_audio_buffer.speech_stopped",
                audio_end_ms=to_ms(base + end),
                item_id=self._buffer_item_id,
            )
            self._commit_buffer()
            if vad.get("create_response", True):
                self._start_response({}, None)

    # -- conversation --------------------------------------------------------------------------

    def _item_create(self, event: dict[str, Any]) -> None:
        item = parse_item(required(event, "item", dict))
        previous = event.get("previous_item_id")
        if previous is not None and previous not in {i.id for i in self.items}:
            raise invalid("previous_item_id", previous, "the id of an item in the conversation")
        if previous is None and self.items:
            previous = self.items[-1].id
        self._add_item(item, previous)

    def _add_item(self, item: Item, previous: str | None, *, finished: bool = True) -> None:
        index = next((n + 1 for n, i in enumerate(self.items) if i.id == previous), len(self.items))
        self.items.insert(index, item)
        rendered = self.render_item(item)
        if self.dialect == GA:
            self.emit("conversation.item.added", previous_item_id=previous, item=rendered)
            if finished:
                self.emit("conversation.item.done", previous_item_id=previous, item=rendered)
        else:
            self.emit("conversation.item.created", previous_item_id=previous, item=rendered)

    def _item_delete(self, event: dict[str, Any]) -> None:
        item_id = required(event, "item_id", str)
        if item_id not in {i.id for i in self.items}:
            raise ClientEventError(
                "item_delete_invalid_item_id",
                f"Error deleting item: the item with id '{item_id}' does not exist.",
                "item_id",
            )
        self.items = [i for i in self.items if i.id != item_id]
        self.emit("conversation.item.deleted", item_id=item_id)

    def render_item(self, item: Item) -> dict[str, Any]:
        parts = [dict(p) for p in item.parts]
        if self.dialect != GA:
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

    # -- responses -----------------------------------------------------------------------------

    def _response_create(self, event: dict[str, Any]) -> None:
        options = event.get("response") or {}
        if not isinstance(options, dict):
            raise invalid("response", options, "an object")
        inputs = None
        if options.get("input") is not None:
            raw = options["input"]
            if not isinstance(raw, list):
                raise invalid("response.input", raw, "an array of items")
            inputs = [parse_item(i) for i in raw if isinstance(i, dict) and i.get("type") == "message"]
        self._start_response(options, inputs)

    def _start_response(self, options: dict[str, Any], inputs: list[Item] | None) -> None:
        voice, fmt, audio_out = self._response_output(options)
        with self._response_lock:
            if self._response is not None:
                raise ClientEventError(
                    "conversation_already_has_active_response",
                    f"Conversation already has an active response in progress: {self._response.id}.",
                )
            response = self._response = Response(new_id("resp"))
        in_conversation = options.get("conversation", "auto") != "none"
        source = inputs if inputs is not None else list(self.items)
        self._tasks.put(lambda: self._respond(response, source, voice, fmt, audio_out, in_conversation))

    def _response_output(self, options: dict[str, Any]) -> tuple[str, WireFormat, bool]:
        c = self.config
        if self.dialect == GA:
            output = (options.get("audio") or {}).get("output") or {}
            voice = output.get("voice", c.voice)
            fmt = (
                ga_wire_format(output["format"], "response.audio.output.format")
                if "format" in output
                else c.output_format
            )
            modalities = options.get("output_modalities")
        else:
            voice = options.get("voice", c.voice)
            fmt = wire_format(
                options.get("output_audio_format", c.output_format.name), "response.output_audio_format"
            )
            modalities = options.get("modalities")
        if voice not in voices_for(self.dialect):
            raise invalid("response.voice", voice, f"one of {', '.join(voices_for(self.dialect))}")
        audio_out = c.audio_out if modalities is None else "audio" in modalities
        return voice, fmt, audio_out

    def _response_cancel(self, event: dict[str, Any]) -> None:
        if not self._cancel_active():
            raise ClientEventError(
                "response_cancel_not_active", "Cancellation failed: no active response found."
            )

    def _cancel_active(self) -> bool:
        with self._response_lock:
            if self._response is None:
                return False
            self._response.cancelled.set()
            return True

    def _echo_text(self, items: list[Item]) -> str:
        """The echo model: the last user message's text, or the transcript of its audio."""
        for item in reversed(items):
            if item.role != "user" or not item.parts:
                continue
            part = item.parts[-1]
            if part["type"] == "input_text":
                return str(part.get("text") or "")
            if part["type"] == "input_audio":
                return self._transcript_of(item)
        return ""

    def _respond(
        self,
        response: Response,
        items: list[Item],
        voice: str,
        fmt: WireFormat,
        audio_out: bool,
        in_conversation: bool,
    ) -> None:
        names = _NAMES[self.dialect]
        shell = {"object": "realtime.response", "id": response.id, "status": "in_progress", "output": []}
        self.emit("response.created", response=shell)
        item = Item(new_id("item"), "assistant", [], status="in_progress")
        self.emit(
            "response.output_item.added", response_id=response.id, output_index=0, item=self.render_item(item)
        )
        if in_conversation:
            self._add_item(item, self.items[-1].id if self.items else None, finished=False)
        where = {"response_id": response.id, "item_id": item.id, "output_index": 0, "content_index": 0}
        kind, field = ("audio", "transcript") if audio_out else ("text", "text")
        self.emit("response.content_part.added", **where, part={"type": kind, field: ""})
        text = self._echo_text(items)
        if audio_out:
            spoken = self._voice(response, text, fmt, where, names)
            self.emit(names["audio.done"], **where)
            self.emit(names["transcript.done"], **where, transcript=spoken)
        else:
            spoken = self._write(response, text, where, names)
            self.emit(names["text.done"], **where, text=spoken)
        status = "cancelled" if response.cancelled.is_set() else "completed"
        item.parts = [{"type": f"output_{kind}", field: spoken}]
        item.status = "completed" if status == "completed" else "incomplete"
        rendered = self.render_item(item)
        self.emit("response.content_part.done", **where, part={"type": kind, field: spoken})
        self.emit("response.output_item.done", response_id=response.id, output_index=0, item=rendered)
        if in_conversation and self.dialect == GA:
            self.emit("conversation.item.done", item=rendered)
        with self._response_lock:
            self._response = None
        words = len(spoken.split())
        done = {
            **shell,
            "status": status,
            "output": [rendered],
            "usage": {
                "total_tokens": len(text.split()) + words,
                "input_tokens": len(text.split()),
                "output_tokens": words,
            },
        }
        if status == "cancelled":
            done["status_details"] = {"type": "cancelled", "reason": "client_cancelled"}
        self.emit("response.done", response=done)

    def _voice(
        self, response: Response, text: str, fmt: WireFormat, where: dict[str, Any], names: dict[str, str]
    ) -> str:
        """Stream ``text`` as audio deltas sentence by sentence; returns what was spoken."""
        spoken: list[str] = []
        step = int(DELTA_SECONDS * fmt.sample_rate)
        resampler = StreamResampler(ENGINE_RATE, fmt.sample_rate)
        pieces = self.models.synthesize(text)
        for sentence, audio in pieces:
            if response.cancelled.is_set():
                pieces.close()
                break
            samples = resampler.push(audio, last=not sentence)
            for start in range(0, len(samples), step):
                chunk = encode_wire(samples[start : start + step], fmt)
                self.emit(names["audio.delta"], **where, delta=base64.b64encode(chunk).decode("ascii"))
            if sentence:
                self.emit(
                    names["transcript.delta"], **where, delta=sentence if not spoken else " " + sentence
                )
                spoken.append(sentence)
        return " ".join(spoken)

    def _write(self, response: Response, text: str, where: dict[str, Any], names: dict[str, str]) -> str:
        """Send ``text`` as one text delta; returns what was written."""
        if text and not response.cancelled.is_set():
            self.emit(names["text.delta"], **where, delta=text)
            return text
        return ""
