"""A scripted Realtime server for tests: behaves like Azure in both dialects, on 127.0.0.1:0.

Tests set :attr:`ScriptedRealtimeServer.script` to drive it into a failure mode and read what
it saw (handshakes, client events) afterwards. Every client event is validated against the
``openai`` package's types for the connection's dialect; one that does not validate is answered
with an ``error`` event (as a real server would) and kept in :attr:`invalid_events`.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, request
from flask_sock import ConnectionClosed, Sock
from openai_types import validate_client_event
from pydantic import ValidationError
from werkzeug.serving import make_server

#: The token usage of every completed TTS response (as Azure reports it, details left out).
USAGE = {"total_tokens": 57, "input_tokens": 25, "output_tokens": 32}

GA_NAMES = {
    "audio.delta": "response.output_audio.delta",
    "audio.done": "response.output_audio.done",
    "transcript.delta": "response.output_audio_transcript.delta",
    "transcript.done": "response.output_audio_transcript.done",
    "item.added": "conversation.item.added",
}
PREVIEW_NAMES = {
    "audio.delta": "response.audio.delta",
    "audio.done": "response.audio.done",
    "transcript.delta": "response.audio_transcript.delta",
    "transcript.done": "response.audio_transcript.done",
    "item.added": "conversation.item.created",
}


@dataclass
class ItemReply:
    """How the server answers one committed item (see :attr:`Script.items`).

    ``transcript``: its text (one delta per word, then ``.completed``); ``delay``: seconds to
    wait first; ``fail``: a ``.failed`` event instead; ``stall``: nothing, for this item and
    every later one (the session goes quiet); ``segments``: ``x_segments`` for ``.completed``.
    """

    transcript: str = ""
    delay: float = 0.0
    fail: bool = False
    stall: bool = False
    segments: list[dict[str, Any]] | None = None


@dataclass
class Script:
    """How the server behaves for the next connections.

    mode: ``ok``, ``error_event``, ``rate_limit_event``, ``transcription_failed``,
    ``close_before_done``, ``silence``, ``content_filter``, ``failed``, ``malformed``,
    ``answer_once`` (answers instead of reading on the first response), ``answer_always``,
    ``close_after_update`` (closes with ``close_code``/``close_reason`` after ``session.updated``).

    When a session asks for server VAD, 20 ms frames of PCM16 louder than ``vad_threshold``
    (RMS) are speech; ``vad_silence_ms`` of quiet ends an utterance, which is committed and
    transcribed (``transcripts`` in turn, then ``transcript``), with a delta per word.
    """

    mode: str = "ok"
    handshake_status: int | None = None
    retry_after: str | None = None
    transcript: str = "hello from the scripted server"
    chunks: int = 4
    chunk_delay: float = 0.0
    transcripts: tuple[str, ...] = ()
    vad_threshold: int = 500
    vad_silence_ms: int = 200
    close_code: int = 1000
    close_reason: str = ""
    #: Per committed item: (its 0-based index, its audio) -> the :class:`ItemReply` to give.
    items: Callable[[int, bytes], ItemReply] | None = None
    usage: dict[str, Any] | None = None  # response.done's usage (default: USAGE)
    #: How many connections (the first ones) the mode and handshake status apply to; later
    #: ones behave as ``ok``. None: every connection.
    fail_sessions: int | None = None
    #: The message of the ``error`` events of ``error_event`` and ``rate_limit_event``.
    error_message: str | None = None
    transcription_usage: dict[str, Any] | None = None  # a transcription's usage (default: duration)


def _id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def audio_for(text: str, chunks: int, width: int) -> list[bytes]:
    """The deterministic audio the server 'speaks' for ``text``, split in ``chunks``."""
    samples = max(chunks, len(text)) * 240
    data = bytes((i * 7 + len(text)) % 256 for i in range(samples * width))
    step = -(-len(data) // chunks)
    return [data[i : i + step] for i in range(0, len(data), step)]


class _Session:
    """One WebSocket connection's conversation state."""

    def __init__(self, server: ScriptedRealtimeServer, ws: Any, dialect: str) -> None:
        self.server = server
        self.ws = ws
        self.dialect = dialect
        self.names = GA_NAMES if dialect == "ga" else PREVIEW_NAMES
        self.config: dict[str, Any] = {}
        self.audio = bytearray()
        self.last_text = ""
        self.responses = 0
        self.committed = 0
        self.utterances = 0
        self.vad_position = 0
        self.speech_item: str | None = None
        self.quiet_ms = 0
        self.index = server.connections - 1  # this connection's place among the handshakes
        self.item_audio = b""
        self.items_heard = 0
        self.stalled = False

    def send(self, event: dict[str, Any]) -> None:
        event.setdefault("event_id", _id("event"))
        self.ws.send(json.dumps(event))

    def run(self) -> None:
        self.send({"type": "session.created", "session": {"id": _id("sess"), "object": "realtime.session"}})
        while True:
            try:
                message = self.ws.receive(timeout=0.2)
            except ConnectionClosed:
                return
            if message is None:
                if self.server.stopping.is_set():
                    return
                continue
            event = json.loads(message)
            self.server.events.append((self.dialect, event))
            problem = self.invalid(event)
            if problem:
                self.send(
                    {
                        "type": "error",
                        "error": {
                            "type": "invalid_request_error",
                            "code": "invalid_event",
                            "message": problem,
                        },
                    }
                )
                continue
            if self.handle(event) == "close":
                return

    def invalid(self, event: dict[str, Any]) -> str | None:
        """Why ``event`` is not a client event of this dialect per the openai package's types
        (a real server refuses such events too), or None."""
        try:
            validate_client_event(self.dialect, event)
        except (AssertionError, ValidationError) as exc:
            self.server.invalid_events.append((self.dialect, event))
            return str(exc).splitlines()[0]
        return None

    @property
    def script(self) -> Script:
        return self.server.script_for(self.index)

    def handle(self, event: dict[str, Any]) -> str | None:
        kind = event["type"]
        if kind == "session.update":
            self.config.update(event["session"])
            self.send({"type": "session.updated", "session": self.config})
            if self.script.mode == "close_after_update":
                self.ws.close(reason=self.script.close_code, message=self.script.close_reason)
                return "close"
        elif kind == "input_audio_buffer.append":
            self.audio += base64.b64decode(event["audio"])
            if self.server_vad():
                self.detect_speech()
        elif kind == "input_audio_buffer.commit":
            if self.server_vad() and len(self.audio) - self.committed < 4800:
                error = {"type": "invalid_request_error", "code": "input_audio_buffer_commit_empty"}
                self.send({"type": "error", "error": {**error, "message": "buffer too small"}})
                return None
            heard = (
                not self.server_vad()
                or self.speech_item is not None
                or self.loud(self.audio[self.committed :])
            )
            self.item_audio = bytes(self.audio[self.committed :])
            self.committed = len(self.audio)
            return self.transcribe(self.speech_item, heard=heard)
        elif kind == "conversation.item.create":
            self.last_text = event["item"]["content"][0]["text"]
            self.send({"type": self.names["item.added"], "item": {**event["item"], "id": _id("item")}})
        elif kind == "response.create":
            return self.respond()
        return None

    def server_vad(self) -> bool:
        if self.dialect == "ga":
            detection = self.config.get("audio", {}).get("input", {}).get("turn_detection")
        else:
            detection = self.config.get("turn_detection")
        return isinstance(detection, dict) and detection.get("type") == "server_vad"

    def loud(self, pcm: bytes | bytearray) -> bool:
        samples = memoryview(bytes(pcm[: len(pcm) - len(pcm) % 2])).cast("h")
        return (
            bool(samples) and (sum(x * x for x in samples) / len(samples)) ** 0.5 > self.script.vad_threshold
        )

    def detect_speech(self) -> None:
        """Energy VAD over whole 20 ms frames of PCM16 24 kHz not yet examined."""
        frame = 960
        while self.vad_position + frame <= len(self.audio):
            loud = self.loud(self.audio[self.vad_position : self.vad_position + frame])
            self.vad_position += frame
            now_ms = self.vad_position // 48
            if loud and self.speech_item is None:
                self.speech_item = _id("item")
                self.send(
                    {
                        "type": "input_audio_buffer.speech_started",
                        "audio_start_ms": now_ms - 20,
                        "item_id": self.speech_item,
                    }
                )
            if loud:
                self.quiet_ms = 0
            elif self.speech_item is not None:
                self.quiet_ms += 20
                if self.quiet_ms >= self.script.vad_silence_ms:
                    item_id, self.speech_item = self.speech_item, None
                    self.send(
                        {
                            "type": "input_audio_buffer.speech_stopped",
                            "audio_end_ms": now_ms,
                            "item_id": item_id,
                        }
                    )
                    self.committed = self.vad_position
                    self.transcribe(item_id)

    def next_transcript(self) -> str:
        self.utterances += 1
        if self.utterances <= len(self.script.transcripts):
            return self.script.transcripts[self.utterances - 1]
        return self.script.transcript

    def transcribe(self, item_id: str | None = None, *, heard: bool = True) -> str | None:
        """Commit and transcribe; audio with no speech in it (``heard``) transcribes to ''."""
        mode = self.script.mode
        if mode == "silence" or self.stalled:
            return None
        item_id = item_id or _id("item")
        self.speech_item = None
        self.send({"type": "input_audio_buffer.committed", "item_id": item_id, "previous_item_id": None})
        self.send({"type": self.names["item.added"], "item": {"id": item_id, "type": "message"}})
        if mode == "error_event":
            error = {"type": "server_error", "code": "oops", "message": self.script.error_message or "boom"}
            self.send({"type": "error", "error": error})
        elif mode == "malformed":
            self.ws.send("this is not json")
        elif mode == "close_before_done":
            return "close"
        elif self.script.items is not None:
            self.reply(item_id, self.script.items(self.items_heard, self.item_audio))
            self.items_heard += 1
        elif mode == "transcription_failed":
            self.send(
                {
                    "type": "conversation.item.input_audio_transcription.failed",
                    "item_id": item_id,
                    "content_index": 0,
                    "error": {"type": "transcription_error", "message": "audio unintelligible"},
                }
            )
        else:
            transcript = self.next_transcript() if heard else ""
            for word in transcript.split(" ") if transcript else ():
                self.send(
                    {
                        "type": "conversation.item.input_audio_transcription.delta",
                        "item_id": item_id,
                        "content_index": 0,
                        "delta": word + " ",
                    }
                )
            self.send(
                {
                    "type": "conversation.item.input_audio_transcription.completed",
                    "item_id": item_id,
                    "content_index": 0,
                    "transcript": transcript,
                    "usage": self.script.transcription_usage
                    or {"type": "duration", "seconds": len(self.audio) / 48000},
                }
            )
        return None

    def reply(self, item_id: str, reply: ItemReply) -> None:
        """The scripted answer for one committed item."""
        if reply.stall:
            self.stalled = True
            return
        if reply.delay:
            time.sleep(reply.delay)
        if reply.fail:
            self.send(
                {
                    "type": "conversation.item.input_audio_transcription.failed",
                    "item_id": item_id,
                    "content_index": 0,
                    "error": {"type": "transcription_error", "message": f"item {self.items_heard} failed"},
                }
            )
            return
        for word in reply.transcript.split():
            self.send(
                {
                    "type": "conversation.item.input_audio_transcription.delta",
                    "item_id": item_id,
                    "content_index": 0,
                    "delta": word + " ",
                }
            )
        completed: dict[str, Any] = {
            "type": "conversation.item.input_audio_transcription.completed",
            "item_id": item_id,
            "content_index": 0,
            "transcript": reply.transcript,
            "usage": {"type": "duration", "seconds": len(self.item_audio) / 48000},
        }
        if reply.segments is not None:
            completed["x_segments"] = reply.segments
        self.send(completed)

    def respond(self) -> str | None:
        script = self.script
        self.responses += 1
        response_id = _id("resp")
        if script.mode == "silence":
            return None
        if script.mode == "malformed":
            self.ws.send("{not json")
            return None
        if script.mode in ("error_event", "rate_limit_event"):
            code = "rate_limit_exceeded" if script.mode == "rate_limit_event" else "server_error"
            error = {"type": "invalid_request_error", "code": code, "message": script.error_message or "no"}
            self.send({"type": "error", "error": error})
            return None
        self.send({"type": "response.created", "response": {"id": response_id, "status": "in_progress"}})
        if script.mode in ("content_filter", "failed"):
            details = (
                {"type": "incomplete", "reason": "content_filter"}
                if script.mode == "content_filter"
                else {"type": "failed", "error": {"type": "server_error", "message": "model failed"}}
            )
            status = "incomplete" if script.mode == "content_filter" else "failed"
            self.send(
                {
                    "type": "response.done",
                    "response": {"id": response_id, "status": status, "status_details": details},
                }
            )
            return None
        answering = script.mode == "answer_always" or (script.mode == "answer_once" and self.responses == 1)
        spoken = "Sure, I would be glad to help you with that today." if answering else self.last_text
        width = 1 if self._output_format() in ("g711_ulaw", "g711_alaw", "audio/pcmu", "audio/pcma") else 2
        chunks = audio_for(spoken, script.chunks, width)
        words = spoken.split(" ")
        for index, chunk in enumerate(chunks):
            if script.chunk_delay:
                time.sleep(script.chunk_delay)
            self.send(
                {
                    "type": self.names["audio.delta"],
                    "response_id": response_id,
                    "delta": base64.b64encode(chunk).decode(),
                }
            )
            part = " ".join(
                words[index * len(words) // len(chunks) : (index + 1) * len(words) // len(chunks)]
            )
            self.send(
                {"type": self.names["transcript.delta"], "response_id": response_id, "delta": part + " "}
            )
            if script.mode == "close_before_done" and index == 1:
                return "close"
        self.send({"type": self.names["audio.done"], "response_id": response_id})
        self.send({"type": self.names["transcript.done"], "response_id": response_id, "transcript": spoken})
        self.send(
            {
                "type": "response.done",
                "response": {"id": response_id, "status": "completed", "usage": script.usage or USAGE},
            }
        )
        return None

    def _output_format(self) -> str:
        if self.dialect == "ga":
            fmt = self.config.get("audio", {}).get("output", {}).get("format", {})
            return fmt.get("type", "audio/pcm")
        return self.config.get("output_audio_format", "pcm16")


class ScriptedRealtimeServer:
    """The server, running on a background thread until :meth:`stop`."""

    def __init__(self) -> None:
        self.script = Script()
        self.events: list[tuple[str, dict[str, Any]]] = []
        #: client events that did not validate against the openai package's types
        self.invalid_events: list[tuple[str, dict[str, Any]]] = []
        self.handshakes: list[dict[str, str]] = []
        self.stopping = threading.Event()
        app = Flask(__name__)
        sock = Sock(app)

        @app.before_request
        def handshake() -> Response | None:
            self.handshakes.append({"path": request.full_path, **dict(request.headers)})
            status = self.script_for(self.connections - 1).handshake_status
            if status is None:
                return None
            headers = {"Retry-After": self.script.retry_after} if self.script.retry_after else {}
            return Response(json.dumps({"error": {"code": str(status)}}), status=status, headers=headers)

        for path, dialect in (
            ("/openai/v1/realtime", "ga"),
            ("/v1/realtime", "ga"),
            ("/openai/realtime", "preview"),
        ):
            sock.route(path, endpoint=f"ws_{dialect}_{path}")(self._handler(dialect))
        self._http = make_server("127.0.0.1", 0, app, threaded=True)
        self.port = self._http.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    def _handler(self, dialect: str) -> Any:
        def handler(ws: Any) -> None:
            from transcription_server import session_class  # transcription sessions (intent=transcription)

            session_class(request.args)(self, ws, dialect).run()

        return handler

    def script_for(self, index: int) -> Script:
        """The script for the connection at ``index``: ``ok`` past ``fail_sessions``."""
        script = self.script
        if script.fail_sessions is None or index < script.fail_sessions:
            return script
        return dataclasses.replace(script, mode="ok", handshake_status=None, fail_sessions=None)

    @property
    def connections(self) -> int:
        return len(self.handshakes)

    def reset(self, **script: Any) -> None:
        self.script = Script(**script)
        self.events.clear()
        self.invalid_events.clear()
        self.handshakes.clear()

    def client_events(self, kind: str | None = None) -> list[dict[str, Any]]:
        return [event for _, event in self.events if kind is None or event["type"] == kind]

    def start(self) -> ScriptedRealtimeServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._http.shutdown()
