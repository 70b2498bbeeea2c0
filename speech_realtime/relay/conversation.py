"""The relay's state machine: seed-004 frames and Realtime server events in, effects out.

:class:`RelayMachine` owns everything a relay connection knows (no sockets, no threads, no
clock: the caller passes ``now``). Effects: :class:`ToClient` (a text or binary frame),
:class:`ToUpstream` (a Realtime client event), :class:`Renew` (replace the upstream session by a
fresh one, then call :meth:`RelayMachine.renewed`) and :class:`Close`.

**Barge-in.** When the upstream's server VAD reports ``input_audio_buffer.speech_started`` while
a reply is generating or may still be playing, the machine, in this order: sends
``response.cancel`` for a reply still generating; stops forwarding that reply (every later
delta of the response is dropped); sends ``conversation.item.truncate`` for the reply's item at
the played position as far as the relay knows it; and tells the client ``speech_started`` so it
stops playback. The played position is that of a client that plays each frame as it arrives,
in real time, after what it still holds (and at once if it ran dry): the audio sent less what
is still queued. The seed protocol has no playback report, so a client that buffers longer has
heard less than this: it is an upper bound, never more than was sent.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from ..config import Dialect, Settings
from ..realtime.events import Kind, ServerEvent
from . import messages, upstream
from .messages import BYTES_PER_SECOND, Audio, FrameError, UserMessage

#: Turns of text carried into a renewed upstream session.
HISTORY_TURNS = 20
#: Upstream error codes caused by a race the relay expects (cancelling a reply that just ended).
QUIET_ERRORS = frozenset({"response_cancel_not_active"})
TEXT_DONE = frozenset(
    {
        "response.output_audio_transcript.done",
        "response.audio_transcript.done",
        "response.output_text.done",
        "response.text.done",
    }
)


@dataclass(frozen=True)
class ToClient:
    frame: str | bytes


@dataclass(frozen=True)
class ToUpstream:
    event: dict[str, Any]


@dataclass(frozen=True)
class Renew:
    """Open a fresh upstream session in place of the current one."""


@dataclass(frozen=True)
class Close:
    code: int
    reason: str


Effect = ToClient | ToUpstream | Renew | Close


@dataclass(frozen=True)
class RelayLimits:
    """A relay connection's limits, in seconds and bytes (``SPEECH_RELAY_*``)."""

    max_seconds: float = 3600.0
    idle: float = 300.0
    max_message_bytes: int = 256 * 1024
    max_audio_seconds: float = 1800.0
    max_text_chars: int = 4096
    renew_after: float = 1500.0
    connect: float = 10.0  # the upstream must confirm the session within this

    @classmethod
    def from_settings(cls, settings: Settings) -> RelayLimits:
        return cls(
            settings.relay_max_seconds,
            settings.relay_idle_timeout,
            settings.relay_max_message_bytes,
            settings.relay_max_audio_seconds,
            settings.max_text_chars,
            settings.relay_renew_after,
            settings.connect_timeout,
        )


@dataclass
class Reply:
    """The assistant reply the relay knows of: generating upstream, or sent and maybe playing."""

    response_id: str
    item_id: str | None = None
    sent_ms: float = 0.0
    plays_until: float | None = None  # when the client has played all it was sent
    generating: bool = True
    dropped: bool = False  # barged in: nothing more of it reaches the client
    text: str = ""
    text_done: bool = False

    def sent(self, pcm_bytes: int, now: float) -> None:
        """Audio went to the client now: it plays after what it holds, or now if it ran dry."""
        seconds = pcm_bytes / BYTES_PER_SECOND
        self.sent_ms += seconds * 1000
        self.plays_until = max(self.plays_until or now, now) + seconds

    def played_ms(self, now: float) -> int:
        """How much of it the client can have played (see the module's docstring)."""
        if self.plays_until is None:
            return 0
        return int(max(0.0, self.sent_ms - max(0.0, self.plays_until - now) * 1000))

    def playing(self, now: float) -> bool:
        return self.generating or (self.plays_until is not None and now < self.plays_until)


class RelayMachine:
    """One relay connection's protocol state (see the module's docstring)."""

    def __init__(
        self,
        dialect: Dialect,
        limits: RelayLimits,
        *,
        instructions: str,
        voice: str,
        transcribe_model: str,
        greeting: str | None,
        now: float,
    ) -> None:
        self.dialect = dialect
        self.limits = limits
        self.instructions, self.voice, self.transcribe_model = instructions, voice, transcribe_model
        self.greeting = greeting
        self.started = self.heard = self.upstream_since = now
        self.connected = False  # the client was told
        self.confirmed = False  # the upstream session (the current one) confirmed its configuration
        self.reply: Reply | None = None
        self.pending_reply = False  # a typed message waits for the reply in progress to end
        self.user_speaking = False
        self.audio_bytes = 0
        self.barge_ins = 0
        self.renewals = 0
        self.history: deque[tuple[str, str]] = deque(maxlen=HISTORY_TURNS)

    # -- the session ------------------------------------------------------------------------

    def start(self) -> list[Effect]:
        """The opening events of an upstream session."""
        update = upstream.session_update(
            self.dialect,
            instructions=self.instructions,
            voice=self.voice,
            transcribe_model=self.transcribe_model,
        )
        return [ToUpstream(update)]

    def renewed(self, now: float) -> list[Effect]:
        """A fresh upstream session replaced the old one: configure it as the old one was and
        carry the conversation's text (typed messages, transcripts, replies heard whole)."""
        self.upstream_since = now
        self.renewals += 1
        self.reply, self.pending_reply, self.user_speaking = None, False, False
        self.confirmed = False
        effects = self.start()
        for role, text in self.history:
            event = (
                upstream.user_text(text)[0] if role == "user" else upstream.assistant_text(self.dialect, text)
            )
            effects.append(ToUpstream(event))
        return effects

    # -- the client's frames ----------------------------------------------------------------

    def client_frame(self, frame: str | bytes, now: float) -> list[Effect]:
        self.heard = now
        try:
            parsed = messages.parse_frame(
                frame, max_bytes=self.limits.max_message_bytes, max_text_chars=self.limits.max_text_chars
            )
        except FrameError as exc:
            return [ToClient(messages.error(exc.code, exc.message, exc.message_id))]
        if isinstance(parsed, Audio):
            return self._audio(parsed)
        return self._user_message(parsed)

    def _audio(self, audio: Audio) -> list[Effect]:
        if not audio.pcm:
            return []
        self.audio_bytes += len(audio.pcm)
        if self.audio_bytes / BYTES_PER_SECOND > self.limits.max_audio_seconds:
            reason = f"the connection sent more than {self.limits.max_audio_seconds:g} s of audio"
            return [ToClient(messages.error("audio_limit", reason)), Close(1008, "audio limit reached")]
        return [ToUpstream(upstream.audio(audio.pcm))]

    def _user_message(self, message: UserMessage) -> list[Effect]:
        self.history.append(("user", message.text))
        effects: list[Effect] = [ToUpstream(event) for event in upstream.user_text(message.text)]
        if self.reply is not None and self.reply.generating:
            self.pending_reply = True  # one response at a time: asked for when this one ends
        else:
            effects.append(ToUpstream(upstream.reply()))
        return effects

    # -- the upstream's events --------------------------------------------------------------

    def upstream_event(self, event: ServerEvent, now: float) -> list[Effect]:
        kind = event.kind
        if kind == Kind.SESSION_UPDATED:
            self.confirmed = True
            if not self.connected:
                self.connected = True
                return [ToClient(messages.connected(self.greeting))]
        if kind == Kind.SPEECH_STARTED:
            self.user_speaking = True
            return [*self._barge_in(now), ToClient(messages.control("speech_started"))]
        if kind == Kind.SPEECH_STOPPED:
            self.user_speaking = False
        elif kind == Kind.TRANSCRIPTION_COMPLETED:
            return self._transcribed(event)
        elif kind == Kind.TRANSCRIPTION_FAILED:
            message = "the user's speech could not be transcribed"
            return [ToClient(messages.error("transcription_failed", message, event.text("item_id") or None))]
        elif kind == Kind.RESPONSE_CREATED:
            response = event.data.get("response")
            response_id = response.get("id") if isinstance(response, dict) else None
            self.reply = Reply(response_id if isinstance(response_id, str) else "")
        elif kind == Kind.AUDIO_DELTA:
            return self._audio_delta(event, now)
        elif kind in (Kind.TRANSCRIPT_DELTA, Kind.TEXT_DELTA):
            return self._text_delta(event)
        elif event.type in TEXT_DONE:
            return self._text_done(event)
        elif kind == Kind.RESPONSE_DONE:
            return self._response_done(event)
        elif kind == Kind.ERROR:
            return self._error(event)
        return []

    def _current(self, event: ServerEvent) -> Reply | None:
        """The reply an event belongs to, unless it was barged in (then its rest is dropped)."""
        reply = self.reply
        if reply is None or reply.dropped:
            return None
        response_id = event.text("response_id")
        if response_id and reply.response_id and response_id != reply.response_id:
            return None
        if reply.item_id is None:
            reply.item_id = event.text("item_id") or None
        return reply

    def _audio_delta(self, event: ServerEvent, now: float) -> list[Effect]:
        reply = self._current(event)
        if reply is None:
            return []
        pcm = event.audio()
        if not pcm:
            return []
        reply.sent(len(pcm), now)
        return [ToClient(pcm)]

    def _text_delta(self, event: ServerEvent) -> list[Effect]:
        reply = self._current(event)
        delta = event.text("delta")
        if reply is None or not delta or reply.item_id is None:
            return []
        reply.text += delta
        return [ToClient(messages.text_delta(reply.item_id, delta))]

    def _text_done(self, event: ServerEvent) -> list[Effect]:
        reply = self._current(event)
        if reply is None or reply.item_id is None or reply.text_done:
            return []
        reply.text_done = True
        return [ToClient(messages.control("text_done", reply.item_id))]

    def _transcribed(self, event: ServerEvent) -> list[Effect]:
        text = event.text("transcript")
        if text.strip():
            self.history.append(("user", text))
        return [ToClient(messages.transcription(event.text("item_id"), text))]

    def _response_done(self, event: ServerEvent) -> list[Effect]:
        effects: list[Effect] = []
        response = event.data.get("response")
        response = response if isinstance(response, dict) else {}
        status, response_id = response.get("status"), response.get("id")
        reply = self.reply
        if reply is not None and response_id not in (None, "", reply.response_id) and reply.response_id:
            reply = None  # an earlier response's end: the reply in progress is another
        if reply is not None:
            reply.generating = False
            if reply.item_id is not None and not reply.text_done:  # a barged-in reply ends too
                reply.text_done = True
                effects.append(ToClient(messages.control("text_done", reply.item_id)))
            if reply.dropped:
                self.reply = None
            elif reply.text.strip():
                self.history.append(("assistant", reply.text))
        if status == "failed":
            effects.append(ToClient(messages.error("response_failed", "the model failed to reply")))
        if self.pending_reply:
            self.pending_reply = False
            effects.append(ToUpstream(upstream.reply()))
        return effects

    def _error(self, event: ServerEvent) -> list[Effect]:
        error = event.data.get("error")
        error = error if isinstance(error, dict) else {}
        code = error.get("code") if isinstance(error.get("code"), str) else "upstream_error"
        if code in QUIET_ERRORS:
            return []
        message = (
            error.get("message")
            if isinstance(error.get("message"), str)
            else "the upstream reported an error"
        )
        return [ToClient(messages.error(code, message[:500]))]

    def _barge_in(self, now: float) -> list[Effect]:
        reply = self.reply
        if reply is None or reply.dropped or not reply.playing(now):
            return []
        effects: list[Effect] = []
        if reply.generating and reply.response_id:
            effects.append(ToUpstream(upstream.cancel(reply.response_id)))
        if reply.item_id is not None:
            effects.append(ToUpstream(upstream.truncate(reply.item_id, reply.played_ms(now))))
        reply.dropped = True
        self.barge_ins += 1
        if not reply.generating:
            self.reply = None
        return effects

    # -- time -------------------------------------------------------------------------------

    def tick(self, now: float) -> list[Effect]:
        """Effects due by time: the session's confirmation, the connection's length and idle
        limits, the renewal."""
        if not self.confirmed and now - self.upstream_since >= self.limits.connect:
            reason = f"the upstream did not confirm the session within {self.limits.connect:g} s"
            return [ToClient(messages.error("upstream_timeout", reason)), Close(1011, "upstream timeout")]
        if now - self.started >= self.limits.max_seconds:
            reason = f"the connection reached its limit of {self.limits.max_seconds:g} s"
            return [ToClient(messages.error("session_expired", reason)), Close(1000, "session length limit")]
        if now - self.heard >= self.limits.idle and not self._busy(now):
            reason = f"no frame from the client for {self.limits.idle:g} s"
            return [ToClient(messages.error("idle_timeout", reason)), Close(1000, "idle")]
        if now - self.upstream_since >= self.limits.renew_after and not self._busy(now):
            return [Renew()]
        return []

    def _busy(self, now: float) -> bool:
        """A turn is under way: the user speaking, a reply generating or playing, one asked for."""
        playing = self.reply is not None and not self.reply.dropped and self.reply.playing(now)
        return self.user_speaking or self.pending_reply or playing

    def deadline(self, now: float) -> float:
        """When :meth:`tick` next has something to do (checked again after every event)."""
        due = min(
            self.upstream_since + self.limits.connect if not self.confirmed else float("inf"),
            self.started + self.limits.max_seconds,
            self.heard + self.limits.idle,
            self.upstream_since + self.limits.renew_after,
        )
        return max(due, now + 1.0) if due <= now else due
