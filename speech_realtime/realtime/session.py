"""Sans-I/O state machines for one STT or TTS turn over a Realtime session.

A machine gives the client events to send (:meth:`start`, then whatever :meth:`feed` returns),
takes the server events that arrive, and exposes its result when :attr:`done`. It never touches
a socket, so the protocol is tested by feeding scripted event sequences. Failures are raised as
the service's exceptions the moment the event that shows them arrives.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

from ..audio import WIRE_FORMATS
from ..options import Segment, TokenLogprob, WordTiming, spread_words
from ..text import is_clear_mismatch
from .events import (
    APPEND_CHUNK_B64,
    Dialect,
    Kind,
    ServerEvent,
    append_audio_events,
    commit_audio,
    create_item,
    create_out_of_band_response,
    create_response,
    error_from_event,
    error_from_failure,
    error_from_response,
    stt_session_update,
    tts_session_update,
    user_message,
)
from .transcription import TranscriptionSession, token_logprobs

ClientEvent = dict[str, Any]


class Turn(Protocol):
    """What the service's driver needs from a state machine."""

    done: bool
    #: True for a turn that runs on a transcription session (a transcription-only deployment).
    transcription_session: bool

    def start(self) -> Iterable[ClientEvent]: ...

    def feed(self, event: ServerEvent) -> list[ClientEvent]: ...


class Check:
    """A health check: configure a session and wait for the server to confirm it (with
    ``transcription``: a transcription session of that deployment).

    ``connected_at`` is when :meth:`start` ran (the session was open), ``finished_at`` when
    ``session.updated`` arrived, both by ``clock``.
    """

    def __init__(
        self,
        dialect: Dialect,
        *,
        clock: Callable[[], float] = time.monotonic,
        transcription: TranscriptionSession | None = None,
    ) -> None:
        self._dialect = dialect
        self._clock = clock
        self._transcription = transcription
        #: a check of the transcription deployment's session rather than the realtime one
        self.transcription_session = transcription is not None
        self.done = False
        self.session_created = False
        self.connected_at = 0.0
        self.finished_at = 0.0

    def start(self) -> list[ClientEvent]:
        self.connected_at = self._clock()
        if self._transcription is not None:
            model = self._transcription.model
            return [
                stt_session_update(
                    self._dialect, audio_format="pcm16", transcribe_model=model, session=self._transcription
                )
            ]
        return [tts_session_update(self._dialect, voice="alloy", audio_format="pcm16")]

    def feed(self, event: ServerEvent) -> list[ClientEvent]:
        if event.kind is Kind.ERROR:
            raise error_from_event(event)
        if event.kind is Kind.SESSION_CREATED:
            self.session_created = True
        elif event.kind is Kind.SESSION_UPDATED:
            self.finished_at = self._clock()
            self.done = True
        return []


class Transcription:
    """STT: configure, append the audio, commit, wait for the transcription of that item.

    No ``response.create`` is sent: only the input transcription is wanted. The result is one
    segment over the whole audio (no VAD runs), its words spread in proportion to length.
    """

    def __init__(
        self,
        dialect: Dialect,
        audio: bytes,
        *,
        transcribe_model: str,
        audio_format: str = "pcm16",
        language: str | None = None,
        prompt: str | None = None,
        max_append_b64: int = APPEND_CHUNK_B64,
        keywords: tuple[str, ...] = (),
        logprobs: bool = False,
        session: TranscriptionSession | None = None,
    ) -> None:
        if not audio:
            raise ValueError("no audio to transcribe")
        self._dialect = dialect
        self._audio = audio
        self._format = WIRE_FORMATS[audio_format]
        self._model = transcribe_model
        self._language = language
        self._prompt = prompt
        self._max_append_b64 = max_append_b64
        self._keywords = keywords
        self._logprobs = logprobs
        self._session = session
        self.transcription_session = session is not None
        self._item_id: str | None = None
        self.done = False
        self.text = ""
        self.usage: dict[str, Any] | None = None
        #: the transcription's token log probabilities, when asked for and given
        self.logprobs: tuple[TokenLogprob, ...] | None = None

    @property
    def segments(self) -> tuple[Segment, ...]:
        if not self.text:
            return ()
        end = self._format.duration(self._audio)
        return (Segment(self.text, 0.0, end, spread_words(self.text, 0.0, end)),)

    def start(self) -> Iterator[ClientEvent]:
        """The session update, the audio's appends and the commit, each append built only as
        the caller takes it: one append's base64 exists at a time, however long the audio."""
        update = stt_session_update(
            self._dialect,
            audio_format=self._format.name,
            transcribe_model=self._model,
            language=self._language,
            prompt=self._prompt,
            keywords=self._keywords,
            logprobs=self._logprobs,
            session=self._session,
        )
        appends = append_audio_events(self._audio, self._format.sample_width, self._max_append_b64)
        return itertools.chain([update], appends, [commit_audio()])

    def feed(self, event: ServerEvent) -> list[ClientEvent]:
        if event.kind is Kind.ERROR:
            raise error_from_event(event)
        if event.kind is Kind.INPUT_COMMITTED:
            self._item_id = event.text("item_id") or None
        elif event.kind is Kind.TRANSCRIPTION_FAILED and self._is_ours(event):
            raise error_from_failure(event)
        elif event.kind is Kind.TRANSCRIPTION_COMPLETED and self._is_ours(event):
            self.text = event.text("transcript").strip()
            usage = event.data.get("usage")
            self.usage = usage if isinstance(usage, dict) else None
            self.logprobs = token_logprobs(event.data.get("logprobs"))
            self.done = True
        return []

    def _is_ours(self, event: ServerEvent) -> bool:
        return self._item_id is None or event.text("item_id") == self._item_id


class Synthesis:
    """TTS: configure, add the text as a user message, ask for a response, collect its audio.

    Only ``response.done`` with status ``completed`` is success. When the response's audio
    transcript is clearly not the requested text (the model answered instead of reading) and
    ``retry`` is allowed, one out-of-band response with stricter instructions replaces it; the
    audio of the first attempt is dropped. Streaming callers take audio as it arrives with
    :meth:`take_audio` and so cannot retry.

    Word timings (:meth:`take_words`) come from the audio transcript deltas: the words of a
    delta are taken to describe the audio received since the previous delta that followed new
    audio, and share that span in proportion to their length. A word split across deltas is
    completed first; words still pending at ``response.done`` share the rest of the audio.

    ``usage`` is the token usage of the last completed response, as the server reported it.
    """

    transcription_session = False

    def __init__(
        self,
        dialect: Dialect,
        text: str,
        voice: str,
        *,
        audio_format: str = "pcm16",
        retry: bool = True,
        speed: float = 1.0,
        instructions: str | None = None,
    ) -> None:
        if not text.strip():
            raise ValueError("no text to synthesize")
        self._dialect = dialect
        self._text = text
        self._voice = voice
        self._format = WIRE_FORMATS[audio_format]
        self._retry = retry
        self._speed = speed
        self._style = instructions
        self._chunks: list[bytes] = []
        self._transcript_parts: list[str] = []
        self._transcript_done: str | None = None
        self._audio_bytes = 0
        self._anchor = 0.0
        self._pending_text = ""
        self._words: list[WordTiming] = []
        self.attempts = 1
        self.done = False
        self.transcript = ""
        self.verbatim: bool | None = None
        self.first_transcript = ""
        self.usage: dict[str, Any] | None = None

    def start(self) -> list[ClientEvent]:
        update = tts_session_update(
            self._dialect,
            voice=self._voice,
            audio_format=self._format.name,
            speed=self._speed,
            instructions=self._style,
        )
        return [update, create_item(user_message(self._text)), create_response()]

    def feed(self, event: ServerEvent) -> list[ClientEvent]:
        kind = event.kind
        if kind is Kind.ERROR:
            raise error_from_event(event)
        if kind is Kind.AUDIO_DELTA:
            chunk = event.audio()
            if chunk:
                self._chunks.append(chunk)
                self._audio_bytes += len(chunk)
        elif kind is Kind.TRANSCRIPT_DELTA:
            self._transcript_parts.append(event.text("delta"))
            self._time_words(event.text("delta"), final=False)
        elif kind is Kind.TRANSCRIPT_DONE:
            self._transcript_done = event.text("transcript")
        elif kind is Kind.RESPONSE_DONE:
            return self._finish(event.data.get("response"))
        return []

    def take_audio(self) -> bytes:
        """The audio received since the last call (all of it, for a non-streaming caller)."""
        audio = b"".join(self._chunks)
        self._chunks.clear()
        return audio

    def take_words(self) -> list[WordTiming]:
        """The word timings known since the last call."""
        words, self._words = self._words, []
        return words

    @property
    def audio_seconds(self) -> float:
        """Seconds of audio received in this attempt."""
        return self._audio_bytes / self._format.bytes_per_second

    def _time_words(self, delta: str, *, final: bool) -> None:
        self._pending_text += delta
        position = self.audio_seconds
        if position <= self._anchor and not final:
            return
        text = self._pending_text
        held = ""
        if not final and text and not text[-1].isspace():
            text, _, held = text.rpartition(" ")
            if not text.strip():
                return
        for word in spread_words(text, self._anchor, position):
            self._words.append(WordTiming(word.text, word.start, round(word.end - word.start, 3)))
        self._pending_text = held
        self._anchor = position

    def _finish(self, response: object) -> list[ClientEvent]:
        response = response if isinstance(response, dict) else {}
        if response.get("status") != "completed":
            raise error_from_response(response)
        usage = response.get("usage")
        self.usage = usage if isinstance(usage, dict) else None
        self._time_words("", final=True)
        heard = self._transcript_done
        if heard is None:
            heard = "".join(self._transcript_parts)
        self.transcript = heard.strip()
        self.verbatim = None if not self.transcript else not is_clear_mismatch(self._text, heard)
        if self.verbatim is False and self._retry and self.attempts == 1:
            self.first_transcript = self.transcript
            self.attempts = 2
            self._chunks.clear()
            self._transcript_parts.clear()
            self._transcript_done = None
            self._audio_bytes = 0
            self._anchor = 0.0
            self._pending_text = ""
            self._words.clear()
            return [create_out_of_band_response(self._text, self._style)]
        self.done = True
        return []
