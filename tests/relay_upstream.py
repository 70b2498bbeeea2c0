"""A scripted Realtime server for the relay's tests: the scripted server of
:mod:`realtime_server`, holding conversations.

On top of what :class:`~transcription_server.RealtimeSession` does (every client event validated
against the openai types, server VAD over PCM16 energy, transcription), a session here answers
``response.create`` and, when its server VAD asks for it (``create_response``), each utterance,
by streaming a reply on a thread of its own: ``Script.chunks`` audio deltas of the last text
heard, ``Script.chunk_delay`` seconds apart, each with its transcript delta, so that
``response.cancel`` and ``conversation.item.truncate`` arrive while it runs. It records when
each connection ended (:attr:`ConversationServer.ended`) and can cut every connection
(:meth:`ConversationServer.drop_all`).
"""

from __future__ import annotations

import base64
import threading
import time
import uuid
from typing import Any

from realtime_server import ScriptedRealtimeServer, audio_for
from transcription_server import RealtimeSession


def _id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


class ConversationSession(RealtimeSession):
    def __init__(self, server: ConversationServer, ws: Any, dialect: str) -> None:
        super().__init__(server, ws, dialect)
        self.lock = threading.Lock()
        self.active: str | None = None  # the response streaming now
        self.cancelled: set[str] = set()
        server.sessions.append(self)

    def send(self, event: dict[str, Any]) -> None:
        with self.lock:
            super().send(event)

    def send_unless_cancelled(self, response_id: str, event: dict[str, Any]) -> bool:
        """Send a reply's event unless the reply was cancelled (checked under the send lock)."""
        with self.lock:
            if response_id in self.cancelled:
                return False
            super().send(event)
            return True

    def run(self) -> None:
        try:
            super().run()
        finally:
            self.server.ended.append(time.monotonic())

    def handle(self, event: dict[str, Any]) -> str | None:
        kind = event["type"]
        if kind == "response.create":
            self.start_reply()
            return None
        if kind == "response.cancel":
            if self.active is None or event.get("response_id") not in (None, self.active):
                error = {"type": "invalid_request_error", "code": "response_cancel_not_active"}
                self.send({"type": "error", "error": {**error, "message": "no active response"}})
            else:  # as the real service does: done at once, cancelled
                with self.lock:
                    response_id, self.active = self.active, None
                    self.cancelled.add(response_id)
                    done = {"id": response_id, "status": "cancelled", "output": []}
                    super().send({"type": "response.done", "response": done})
            return None
        if kind == "conversation.item.truncate":
            self.send(
                {
                    **{k: event[k] for k in ("item_id", "content_index", "audio_end_ms")},
                    "type": "conversation.item.truncated",
                }
            )
            return None
        return super().handle(event)

    def next_transcript(self) -> str:
        self.last_text = super().next_transcript()  # the echo model answers what it heard
        return self.last_text

    def transcribe(self, item_id: str | None = None, *, heard: bool = True) -> str | None:
        before = self.utterances
        result = super().transcribe(item_id, heard=heard)
        if self.utterances > before and self.creates_responses():
            self.start_reply()
        return result

    def creates_responses(self) -> bool:
        if self.dialect == "ga":
            detection = self.config.get("audio", {}).get("input", {}).get("turn_detection") or {}
        else:
            detection = self.config.get("turn_detection") or {}
        return bool(detection.get("create_response", True))

    def start_reply(self) -> None:
        if self.active is not None:
            error = {"type": "invalid_request_error", "code": "conversation_already_has_active_response"}
            self.send({"type": "error", "error": {**error, "message": "a response is in progress"}})
            return
        self.active = _id("resp")
        threading.Thread(target=self.reply_stream, args=(self.active, self.last_text), daemon=True).start()

    def reply_stream(self, response_id: str, text: str) -> None:
        """One reply, streamed; ends cancelled as soon as a cancel for it is seen."""
        item_id = _id("item")
        script = self.script
        where = {"response_id": response_id, "item_id": item_id, "output_index": 0, "content_index": 0}
        self.send({"type": "response.created", "response": {"id": response_id, "status": "in_progress"}})
        chunks = audio_for(text, script.chunks, 2)
        words = text.split(" ")
        events = []
        for index, chunk in enumerate(chunks):
            part = " ".join(
                words[index * len(words) // len(chunks) : (index + 1) * len(words) // len(chunks)]
            )
            events.append(
                {"type": self.names["audio.delta"], **where, "delta": base64.b64encode(chunk).decode()}
            )
            events.append({"type": self.names["transcript.delta"], **where, "delta": part + " "})
        events.append({"type": self.names["audio.done"], **where})
        events.append({"type": self.names["transcript.done"], **where, "transcript": text})
        events.append(
            {"type": "response.done", "response": {"id": response_id, "status": "completed", "output": []}}
        )
        try:
            for event in events:
                if not self.send_unless_cancelled(response_id, event):
                    return
                if script.chunk_delay and event["type"] == self.names["transcript.delta"]:
                    time.sleep(script.chunk_delay)
            with self.lock:
                if self.active == response_id:
                    self.active = None
        except Exception:  # the connection went away mid-reply
            pass


class ConversationServer(ScriptedRealtimeServer):
    def __init__(self) -> None:
        self.sessions: list[ConversationSession] = []
        #: monotonic times at which connections ended
        self.ended: list[float] = []
        super().__init__()

    def _handler(self, dialect: str) -> Any:
        def handler(ws: Any) -> None:
            ConversationSession(self, ws, dialect).run()

        return handler

    def reset(self, **script: Any) -> None:
        super().reset(**script)
        self.sessions.clear()
        self.ended.clear()

    def drop_all(self) -> None:
        """Close every open connection from the server's side."""
        for session in list(self.sessions):
            session.ws.close()
