"""The service layer: recognize, synthesize and stream, each on a fresh Realtime session.

Input is validated here, before any connection is opened, so that every caller (the web layer,
the CLI, tests) gets the same checks; the protocol is driven by the sans-I/O machines in
:mod:`.realtime.session` over a :class:`.realtime.transport.Connection`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .audio import MIN_COMMIT_SECONDS, WIRE_FORMATS, WireFormat
from .audio.formats import Encoder, OutputFormat, decode_input, encode_all, output_format, to_wire
from .config import Settings
from .errors import BadRequest, Saturated, SpeechError
from .options import RecognitionOptions, SynthesisOptions, Transcript
from .realtime.auth import auth_for
from .realtime.events import Kind, error_from_event, parse_server_event, tts_session_update
from .realtime.session import Synthesis, Transcription, Turn
from .realtime.transport import Connection, endpoint_for
from .voices import resolve_voice, voices_for

if TYPE_CHECKING:
    from .audio.formats import WireAudio

log = logging.getLogger(__name__)

DEFAULT_OUTPUT = output_format("pcm")
DEFAULT_SYNTHESIS = SynthesisOptions()
DEFAULT_RECOGNITION = RecognitionOptions()


@dataclass(frozen=True)
class _Wire:
    """Wire audio, until the audio layer's ``input_to_wire`` gives a ``WireAudio``."""

    data: bytes
    format: WireFormat
    duration: float


@dataclass(frozen=True)
class Speech:
    """Synthesized audio and what the service knows about how faithfully it reads the text."""

    audio: bytes
    output: OutputFormat
    voice: str
    transcript: str
    verbatim: bool | None
    attempts: int


class Counters:
    """Thread-safe event counts (stream aborts, TTS retries, mismatches)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def add(self, name: str) -> None:
        with self._lock:
            self._counts[name] += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)


class SpeechService:
    """STT and TTS over the configured Realtime backend, at most ``max_sessions`` at a time."""

    def __init__(self, settings: Settings, *, engine_url: str | None = None, credential: Any = None) -> None:
        self.settings = settings
        self.endpoint = endpoint_for(settings, engine_url)
        self.auth = auth_for(settings, credential)
        self.counters = Counters()
        self._slots = threading.BoundedSemaphore(settings.max_sessions)

    @property
    def voices(self) -> tuple[str, ...]:
        return voices_for(self.endpoint.dialect)

    # -- validation -------------------------------------------------------------------------

    def check_text(self, text: object) -> str:
        if not isinstance(text, str):
            raise BadRequest("'text' must be a string", code="invalid_text")
        if not text.strip():
            raise BadRequest("'text' is empty", code="empty_text")
        limit = self.settings.max_text_chars
        if len(text) > limit:
            raise BadRequest(f"'text' has {len(text)} characters; the limit is {limit}", code="text_too_long")
        return text

    @staticmethod
    def check_audio(audio: bytes, audio_format: str) -> WireFormat:
        fmt = WIRE_FORMATS.get(audio_format)
        if fmt is None:
            valid = ", ".join(WIRE_FORMATS)
            raise BadRequest(f"unknown audio format {audio_format!r}; valid: {valid}", code="invalid_format")
        if len(audio) % fmt.sample_width:
            raise BadRequest(
                f"{fmt.name} audio must be whole {fmt.sample_width}-byte samples; got {len(audio)} bytes",
                code="invalid_audio",
            )
        if fmt.duration(audio) < MIN_COMMIT_SECONDS:
            raise BadRequest(
                f"audio is {fmt.duration(audio) * 1000:.0f} ms long; at least "
                f"{MIN_COMMIT_SECONDS * 1000:.0f} ms is needed",
                code="audio_too_short",
            )
        return fmt

    # -- operations -------------------------------------------------------------------------

    def recognize(self, audio: WireAudio, options: RecognitionOptions = DEFAULT_RECOGNITION) -> Transcript:
        """The transcript of ``audio`` (samples already in one of the Realtime wire formats)."""
        fmt = self.check_audio(audio.data, audio.format.name)
        turn = Transcription(
            self.endpoint.dialect,
            audio.data,
            transcribe_model=self.settings.transcribe_model,
            audio_format=fmt.name,
            language=options.language,
        )
        for _ in self._drive(turn):
            pass
        return Transcript(turn.text, fmt.duration(audio.data), options.language, usage=turn.usage)

    def recognize_media(
        self,
        data: bytes,
        label: str | None = None,
        *,
        rate: int | None = None,
        channels: int = 1,
        options: RecognitionOptions = DEFAULT_RECOGNITION,
    ) -> Transcript:
        """The transcript of audio in any input format (WAV, MP3, Ogg, FLAC, raw, ...).

        The content decides the format; ``label`` (a format name) is needed only for raw samples.
        Audio that already is a wire format goes upstream untouched, the rest as PCM16 24 kHz.
        """
        wire, fmt = to_wire(decode_input(data, label, rate=rate, channels=channels))
        return self.recognize(_Wire(wire, fmt, fmt.duration(wire)), options)

    def synthesize(self, text: str, options: SynthesisOptions = DEFAULT_SYNTHESIS) -> Speech:
        """The whole reading of ``text``; retried once if the model clearly did not read it."""
        output = options.output or DEFAULT_OUTPUT
        turn, voice_id = self._synthesis(text, options.voice, output, retry=True)
        for _ in self._drive(turn):
            pass
        self._note_reading(turn)
        audio = encode_all(output, output.upstream, turn.take_audio())
        return Speech(audio, output, voice_id, turn.transcript, turn.verbatim, turn.attempts)

    def synthesize_stream(self, text: str, options: SynthesisOptions = DEFAULT_SYNTHESIS) -> Iterator[bytes]:
        """The reading of ``text`` in the output format, chunk by chunk as the audio arrives.

        Input is checked now; the connection opens when iteration starts. A failure after the
        first chunk raises from the iterator and is counted as ``streams_aborted``.
        """
        output = options.output or DEFAULT_OUTPUT
        turn, _ = self._synthesis(text, options.voice, output, retry=False)
        return self._stream(turn, Encoder(output, output.upstream, streaming=True))

    def check(self) -> dict[str, Any]:
        """Open a session, configure it, and time the handshake and the session round trip."""
        deadline = time.monotonic() + self.settings.request_timeout
        started = time.monotonic()
        with self._connect(deadline) as conn:
            connected = time.monotonic()
            conn.send(tts_session_update(self.endpoint.dialect, voice="alloy", audio_format="pcm16"))
            seen: set[Kind] = set()
            while Kind.SESSION_UPDATED not in seen:
                event = parse_server_event(conn.receive(deadline, self.settings.receive_timeout))
                if event.kind is Kind.ERROR:
                    raise error_from_event(event)
                seen.add(event.kind)
            finished = time.monotonic()
        return {
            "backend": self.endpoint.backend,
            "protocol": self.endpoint.dialect,
            "model": self.endpoint.model,
            "host": self.endpoint.host,
            "auth": self.auth.mode,
            "sessionCreated": Kind.SESSION_CREATED in seen,
            "handshakeMs": round((connected - started) * 1000, 1),
            "sessionMs": round((finished - connected) * 1000, 1),
        }

    # -- internals --------------------------------------------------------------------------

    def _synthesis(
        self, text: str, voice: str | None, output: OutputFormat, *, retry: bool
    ) -> tuple[Synthesis, str]:
        text = self.check_text(text)
        voice_id = resolve_voice(voice, self.endpoint.dialect)
        turn = Synthesis(
            self.endpoint.dialect, text, voice_id, audio_format=output.upstream.name, retry=retry
        )
        return turn, voice_id

    def _stream(self, turn: Synthesis, encoder: Encoder) -> Iterator[bytes]:
        sent = False
        try:
            for _ in self._drive(turn):
                chunk = encoder.push(turn.take_audio())
                if chunk:
                    sent = True
                    yield chunk
            tail = encoder.finish()
            if tail:
                yield tail
        except SpeechError as exc:
            if sent:
                self.counters.add("streams_aborted")
                log.warning("stream aborted after its first bytes: %s", exc.message)
            raise
        self._note_reading(turn)

    def _note_reading(self, turn: Synthesis) -> None:
        if turn.attempts > 1:
            self.counters.add("tts_retries")
        if turn.verbatim is False:
            self.counters.add("tts_mismatches")
            log.warning("TTS reading does not match the requested text (attempts: %d)", turn.attempts)

    @contextmanager
    def _slot(self) -> Iterator[None]:
        if not self._slots.acquire(blocking=False):
            raise Saturated("every upstream session slot is busy; retry shortly", retry_after=1)
        try:
            yield
        finally:
            self._slots.release()

    @contextmanager
    def _connect(self, deadline: float) -> Iterator[Connection]:
        with self._slot():
            timeout = max(0.01, min(self.settings.connect_timeout, deadline - time.monotonic()))
            with Connection.open(self.endpoint, self.auth.headers(), timeout=timeout) as conn:
                yield conn

    def _drive(self, turn: Turn) -> Iterator[None]:
        """Run ``turn`` on a fresh session, yielding after each server event it is fed."""
        deadline = time.monotonic() + self.settings.request_timeout
        with self._connect(deadline) as conn:
            for event in turn.start():
                conn.send(event)
            while not turn.done:
                for event in turn.feed(
                    parse_server_event(conn.receive(deadline, self.settings.receive_timeout))
                ):
                    conn.send(event)
                yield
