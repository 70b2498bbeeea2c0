"""Sans-I/O state machines for one STT or TTS turn over a Realtime session.

A machine gives the client events to send (:meth:`start`, then whatever :meth:`feed` returns),
takes the server events that arrive, and exposes its result when :attr:`done`. It never touches
a socket, so the protocol is tested by feeding scripted event sequences. Failures are raised as
the service's exceptions the moment the event that shows them arrives.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol

from ..audio import WIRE_FORMATS
from ..audio.phrasing import Piece
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
    stt_session_update,
    tts_session_update,
    user_message,
)
from .transcription import TranscriptionSession
from .transcripts import PieceResults
from .upstream_errors import error_from_event, error_from_failure, error_from_response

ClientEvent = dict[str, Any]


#: A slow reading pace (characters a second at speed 1): what a synthesis turn's budget assumes.
READING_CHARS_PER_SECOND = 10.0


class Turn(Protocol):
    """What the service's driver needs from a state machine.

    ``budget``: seconds of audio the turn sends or expects back; the runner lets a turn that
    keeps making progress run for the request timeout plus its budget (see
    :meth:`~.runner.SessionRunner.run`).
    """

    done: bool
    #: True for a turn that runs on a transcription session (a transcription-only deployment).
    transcription_session: bool
    budget: float

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
        self.budget = 0.0
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
    """STT: configure, then append and commit each piece of the audio, back to back, and wait
    for the transcription of every item.

    No ``response.create`` is sent: only the input transcriptions are wanted. ``pieces`` (see
    :mod:`..audio.phrasing`) are the stretches to send, each committed as its own item; the
    silence between them is not sent. Without them the whole audio is one item. The text is
    the items' transcriptions joined in audio order; the segments are the pieces' places in the
    audio (see :mod:`.transcripts`).

    ``budget`` is the seconds of audio sent: the runner's bound on the whole turn grows with it.
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
        pieces: Sequence[Piece] = (),
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
        whole = self._format.duration(audio)
        self._pieces = tuple(pieces) or (Piece(0.0, whole, ((0.0, whole),)),)
        self._results = PieceResults(self._pieces)
        self.budget = sum(piece.end - piece.start for piece in self._pieces)
        self.done = False

    @property
    def text(self) -> str:
        return self._results.text

    @property
    def logprobs(self) -> tuple[TokenLogprob, ...] | None:
        """The transcription's token log probabilities in audio order, when asked for and given."""
        return self._results.logprobs

    @property
    def segments(self) -> tuple[Segment, ...]:
        return self._results.segments

    @property
    def usage(self) -> dict[str, Any] | None:
        return self._results.usage

    def start(self) -> Iterator[ClientEvent]:
        """The session update, then each piece's appends and its commit, each append built only
        as the caller takes it: one append's base64 exists at a time, however long the audio."""
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
        return itertools.chain([update], *(self._send(piece) for piece in self._pieces))

    def _send(self, piece: Piece) -> Iterator[ClientEvent]:
        width, rate = self._format.sample_width, self._format.sample_rate
        first = min(len(self._audio), round(piece.start * rate) * width)
        last = min(len(self._audio), round(piece.end * rate) * width)
        yield from append_audio_events(self._audio, width, self._max_append_b64, start=first, end=last)
        yield commit_audio()

    def feed(self, event: ServerEvent) -> list[ClientEvent]:
        if event.kind is Kind.ERROR:
            raise error_from_event(event)
        if event.kind is Kind.INPUT_COMMITTED:
            self._results.committed(event.text("item_id"))
        elif event.kind is Kind.TRANSCRIPTION_FAILED and self._results.owns(event):
            raise error_from_failure(event)
        elif event.kind is Kind.TRANSCRIPTION_COMPLETED and self._results.owns(event):
            self._results.completed(event)
            self.done = self._results.done
        return []


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
    ``budget`` is the reading's expected length at a slow pace (:data:`READING_CHARS_PER_SECOND`
    divided by the speed), twice over when a retry may read it again.
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
        self.budget = len(text) / (READING_CHARS_PER_SECOND * speed) * (2 if retry else 1)
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

    def take_chunks(self) -> list[bytes]:
        """The audio received since the last call, as it came (a whole reading is not copied)."""
        chunks, self._chunks = self._chunks, []
        return chunks

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
