"""One Realtime session of the local engine, sans I/O: a client message in, server events out.

:meth:`EngineSession.handle` takes one client message and returns the events it causes at
once; long work (transcription, responses) is queued as generators (see :mod:`.responder`) that
:meth:`EngineSession.step` advances one step at a time. The caller, one thread per connection
(:mod:`.server`), alternates between the two, so every piece of session state has one owner,
nothing is locked, and ``response.cancel`` or new audio are handled between two sentences.
Nothing here touches a socket; the protocol tests drive it directly with a fake model set.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np

from ..audio import MIN_COMMIT_SECONDS
from ..realtime.events import Dialect
from . import responder
from .items import parse_item
from .models import ASR_RATE, ModelSet
from .parsing import ClientEventError, audio_bytes, invalid, parse_message, required
from .render import Event, Renderer, error, event
from .response_create import ResponseOptions, parse_response
from .session_update import TRANSCRIPTION_IN_REALTIME, apply_session_update
from .state import Config, Conversation, Item, ResponsePlan, new_id
from .transcription_queue import TranscriptionQueue
from .transcription_session import apply_transcription_update, refused, transcription_config
from .truncate import AudioLedger
from .turns import InputBuffer, SpeechStarted, TurnDetector, ends_sentence

log = logging.getLogger(__name__)

#: How long a session lives, as announced in ``expires_at``.
SESSION_SECONDS = 30 * 60
#: Most audio a session holds in all (about 58 MB at 16 kHz float32): the input buffer, user
#: items' audio and audio queued for transcription (see :meth:`EngineSession._held_seconds`).
MAX_BUFFER_SECONDS = 15 * 60


class EngineSession:
    """The protocol state of one connection, in the dialect of the path it was opened on."""

    def __init__(
        self,
        dialect: Dialect | str,
        models: ModelSet,
        *,
        model: str = "local-echo",
        transcription: bool = False,
    ) -> None:
        self.dialect = Dialect(dialect)
        self.models = models
        self.id = new_id("sess")
        #: a transcription session (``intent=transcription``): see :mod:`.transcription_session`
        self.transcription = transcription
        expires_at = int(time.time()) + SESSION_SECONDS
        self.render = Renderer(self.dialect, self.id, model, expires_at, transcription=transcription)
        self.config = transcription_config() if transcription else Config()
        self.conversation = Conversation()
        self.buffer = InputBuffer()
        self._buffer_item_id = new_id("item")
        self._detector = self._new_detector()
        self._jobs: deque[responder.Job] = deque()
        #: User items that may hold audio, and those of them whose transcription is queued.
        self._audio_items: list[Item] = []
        #: A client message was handled since the last step: more may be waiting to be read.
        self._fresh_input = False
        self._transcriptions = TranscriptionQueue(models, self._input_came)
        self._response: ResponsePlan | None = None
        self._spoken = AudioLedger()
        self._handlers: dict[str, Callable[[dict[str, Any]], list[Event]]] = {
            "session.update": self._session_update,
            "transcription_session.update": self._session_update,
            "input_audio_buffer.append": self._append,
            "input_audio_buffer.commit": self._commit,
            "input_audio_buffer.clear": self._clear,
            "conversation.item.create": self._item_create,
            "conversation.item.delete": self._item_delete,
            "conversation.item.truncate": self._item_truncate,
            "response.create": self._response_create,
            "response.cancel": self._response_cancel,
        }

    # -- the driver's interface -----------------------------------------------------------------

    def open(self) -> list[Event]:
        return [self.render.session_event("created", self.config)]

    def handle(self, message: str | bytes) -> list[Event]:
        """The events one client message causes now; a bad message gets an ``error`` event."""
        event_id = None
        self._fresh_input = True
        try:
            parsed = parse_message(message)
            event_id = parsed.get("event_id") if isinstance(parsed.get("event_id"), str) else None
            handler = self._handlers.get(parsed["type"])
            if handler is None:
                raise invalid("type", parsed["type"], f"one of {', '.join(self._handlers)}")
            return handler(parsed)
        except ClientEventError as exc:
            return [error(exc.code, exc.message, exc.param, event_id)]
        except Exception:  # a defect here must not cost the client its session
            log.exception("engine: handling a client event failed")
            return [error("server_error", "The engine failed to process the event.", None, event_id)]

    @property
    def busy(self) -> bool:
        """Whether queued work waits for :meth:`step`."""
        return bool(self._jobs)

    def step(self) -> list[Event]:
        """Advance the oldest queued job by one step."""
        job = self._jobs[0]
        try:
            return next(job)
        except StopIteration:
            self._jobs.popleft()
            return []
        except Exception:
            log.exception("engine job failed")
            self._jobs.popleft()
            return [error("server_error", "The engine failed to process the request.")]

    def close(self) -> None:
        """Stop all work quietly (the client has gone)."""
        while self._jobs:
            self._jobs.popleft().close()

    # -- session --------------------------------------------------------------------------------

    def _session_update(self, message: dict[str, Any]) -> list[Event]:
        session = required(message, "session", dict)
        if self.transcription:
            config = apply_transcription_update(self.config, message["type"], session, self.dialect)
        elif message["type"] == "transcription_session.update":
            raise refused(TRANSCRIPTION_IN_REALTIME)
        else:
            config = apply_session_update(self.config, session, self.dialect)
        changed = config.turn_detection != self.config.turn_detection
        self.config = config
        if changed:
            self._detector = self._new_detector()
        return [self.render.session_event("updated", config)]

    def _new_detector(self) -> TurnDetector | None:
        vad = self.config.turn_detection
        if vad is None:
            return None
        detector = TurnDetector(vad, self.models.voice_activity(), self._ends_sentence)
        detector.reset(self.buffer.end)
        return detector

    def _ends_sentence(self, samples: np.ndarray) -> bool:
        """Semantic VAD's check at a pause: does the turn so far, transcribed, end a sentence?
        A failed transcription says no (the long pause then ends the turn)."""
        language = self.config.transcription.language if self.config.transcription else None
        try:
            return ends_sentence(self.models.transcribe(samples, language).text)
        except Exception:
            log.debug("engine: the semantic VAD's transcription failed", exc_info=True)
            return False

    # -- input audio ----------------------------------------------------------------------------

    def _append(self, message: dict[str, Any]) -> list[Event]:
        fmt = self.config.input_format
        audio = audio_bytes(required(message, "audio", str), fmt, "audio")
        if self._held_seconds() + fmt.duration(audio) > MAX_BUFFER_SECONDS:
            raise ClientEventError(
                "input_audio_buffer_full",
                f"A session holds at most {MAX_BUFFER_SECONDS} seconds of audio (the input buffer, "
                "and committed audio not yet transcribed or answered): commit or clear the buffer, "
                "or let a transcription or a response use the audio first.",
                "audio",
            )
        self.buffer.append(audio, fmt)
        if self._detector is None:
            return []
        events: list[Event] = []
        for turn in self._detector.push(self.buffer):
            if isinstance(turn, SpeechStarted):
                events.append(
                    event(
                        "input_audio_buffer.speech_started",
                        audio_start_ms=turn.audio_start_ms,
                        item_id=self._buffer_item_id,
                    )
                )
                if self._detector.settings.interrupt_response and self._response is not None:
                    self._response.cancelled = True
                continue
            events.append(
                event(
                    "input_audio_buffer.speech_stopped",
                    audio_end_ms=turn.audio_end_ms,
                    item_id=self._buffer_item_id,
                )
            )
            events += self._commit_samples(turn.samples)
            if self._detector.settings.create_response and self._response is None:
                self._start_response(self._plan(parse_response(None, self.config, self.dialect)))
        return events

    def _commit(self, message: dict[str, Any]) -> list[Event]:
        seconds = self.buffer.received_seconds
        if seconds < MIN_COMMIT_SECONDS:
            raise ClientEventError(
                "input_audio_buffer_commit_empty",
                "Error committing input audio buffer: buffer too small. Expected at least "
                f"{MIN_COMMIT_SECONDS * 1000:.0f}ms of audio, "
                f"but buffer only has {seconds * 1000:.2f}ms of audio.",
            )
        samples = self.buffer.take()
        # Under server VAD, audio in which no speech started is silence: its transcript is empty
        # (a recognizer given silence may hallucinate words).
        silent = self._detector is not None and not self._detector.speaking
        if self._detector is not None:
            self._detector.reset(self.buffer.end)
        return self._commit_samples(samples, "" if silent else None)

    def _clear(self, message: dict[str, Any]) -> list[Event]:
        self.buffer.clear()
        if self._detector is not None:
            self._detector.reset(self.buffer.end)
        return [event("input_audio_buffer.cleared")]

    def _commit_samples(self, samples: np.ndarray, transcript: str | None = None) -> list[Event]:
        """Commit audio as a user item; queue its transcription when the session asks for one."""
        part = {"type": "input_audio", "transcript": transcript}
        item = Item(self._buffer_item_id, "user", [part], samples=samples)
        self._buffer_item_id = new_id("item")
        previous = self.conversation.last_id
        self.conversation.insert(item, previous)
        events = [event("input_audio_buffer.committed", item_id=item.id, previous_item_id=previous)]
        events += self.render.item_added(item, previous)
        self._audio_items.append(item)
        if self.config.transcription is not None:
            self._jobs.append(self._transcriptions.add(item, self.config.transcription.language))
        self._held_seconds()  # lets go of older items' audio
        return events

    def _input_came(self) -> bool:
        """Whether a client message was handled since this was last asked."""
        came, self._fresh_input = self._fresh_input, False
        return came

    def _held_seconds(self, *, let_go: bool = True) -> float:
        """Seconds of audio the session holds: the one place it is counted.

        A user item's audio is in use while its transcription is queued, or while it is the
        message the echo model would read (the conversation's last user message, or the active
        response's). Other items' audio can no longer be used; ``let_go`` drops it first.
        """
        in_use = dict(self._transcriptions.items)
        for items in (self.conversation.items, self._response.source if self._response else []):
            last = responder.last_user_message(items)
            if last is not None:
                in_use[id(last)] = last
        kept = [item for item in self._audio_items if item.samples is not None and id(item) in in_use]
        if let_go:
            for item in self._audio_items:
                if id(item) not in in_use:
                    item.samples = None
            self._audio_items = kept
        return self.buffer.seconds + sum(len(item.samples) for item in kept) / ASR_RATE

    # -- conversation ---------------------------------------------------------------------------

    def _item_create(self, message: dict[str, Any]) -> list[Event]:
        item = parse_item(required(message, "item", dict), self.config.input_format)
        previous = message.get("previous_item_id")
        if previous is not None and previous not in self.conversation:
            raise invalid("previous_item_id", previous, "the id of an item in the conversation")
        if item.id in self.conversation:
            raise invalid("item.id", item.id, "an id not already in the conversation")
        previous = previous if previous is not None else self.conversation.last_id
        self.conversation.insert(item, previous)
        if item.samples is not None:
            self._audio_items.append(item)
            if self._held_seconds(let_go=False) > MAX_BUFFER_SECONDS:
                self.conversation.delete(item.id)
                self._audio_items.pop()
                raise ClientEventError(
                    "conversation_audio_full",
                    f"A session holds at most {MAX_BUFFER_SECONDS} seconds of audio (the input "
                    "buffer, and audio items not yet transcribed or answered).",
                    "item",
                )
            self._held_seconds()  # lets go of older items' audio
        return self.render.item_added(item, previous)

    def _item_delete(self, message: dict[str, Any]) -> list[Event]:
        item_id = required(message, "item_id", str)
        if item_id not in self.conversation:
            raise ClientEventError(
                "item_delete_invalid_item_id",
                f"Error deleting item: the item with id '{item_id[:64]}' does not exist.",
                "item_id",
            )
        self.conversation.delete(item_id)
        return [event("conversation.item.deleted", item_id=item_id)]

    def _item_truncate(self, message: dict[str, Any]) -> list[Event]:
        return self._spoken.truncate(message, self.conversation)

    # -- responses ------------------------------------------------------------------------------

    def _response_create(self, message: dict[str, Any]) -> list[Event]:
        if self.transcription:
            raise ClientEventError(
                "unsupported_event", "response.create is not supported in a transcription session.", "type"
            )
        plan = self._plan(parse_response(message.get("response"), self.config, self.dialect))
        if self._response is not None:
            raise ClientEventError(
                "conversation_already_has_active_response",
                f"Conversation already has an active response in progress: {self._response.id}.",
            )
        self._start_response(plan)
        return []

    def _plan(self, options: ResponseOptions) -> ResponsePlan:
        source = options.inputs if options.inputs is not None else list(self.conversation.items)
        return ResponsePlan(
            id=new_id("resp"),
            voice=options.voice,
            output_format=options.output_format,
            audio_out=options.audio_out,
            speed=self.config.speed,
            source=source,
            in_conversation=options.in_conversation,
        )

    def _start_response(self, plan: ResponsePlan) -> None:
        self._response = plan
        self._jobs.append(self._run_response(plan))

    def _run_response(self, plan: ResponsePlan) -> responder.Job:
        """The response's steps; it stops being the active one as ``response.done`` goes out."""
        try:
            for batch in responder.response(plan, self.conversation, self.models, self.render):
                self._spoken.observe(batch, plan.output_format)
                if batch and batch[-1]["type"] == "response.done":
                    self._response = None
                    self._keep_truncation(batch)
                yield batch
        finally:
            if self._response is plan:
                self._response = None

    def _keep_truncation(self, batch: list[Event]) -> None:
        """A reply truncated while it was still being voiced keeps its truncation when it ends."""
        for item_id in {sent["item_id"] for sent in batch if "item_id" in sent}:
            item = next((i for i in self.conversation.items if i.id == item_id), None)
            if item is not None:
                self._spoken.reapply(item)

    def _response_cancel(self, message: dict[str, Any]) -> list[Event]:
        if self._response is None:
            raise ClientEventError(
                "response_cancel_not_active", "Cancellation failed: no active response found."
            )
        self._response.cancelled = True
        return []
