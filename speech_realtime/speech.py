"""The service layer: recognition and synthesis, whole or streamed, on Realtime sessions.

Input is validated here (or when the options objects are built), before any session opens, so
that every front end gets the same checks. Sessions are opened, counted and driven by the
:class:`~.realtime.runner.SessionRunner`; the protocol is the sans-I/O machines of
:mod:`.realtime.session` and :mod:`.realtime.recognition`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from functools import partial
from typing import Any

from . import metrics
from .audio import (
    MIN_COMMIT_SECONDS,
    Encoder,
    OutputFormat,
    WireAudio,
    WireFormat,
    check_layout,
    encode_parts,
    input_to_wire,
    output_format,
)
from .audio.phrasing import find_pieces
from .config import Settings
from .errors import BadRequest, SpeechError
from .metrics import Counters
from .options import (
    AudioChunk,
    RecognitionOptions,
    Speech,
    SynthesisOptions,
    TokenLogprob,
    Transcript,
    WordTiming,
)
from .realtime.auth import TokenCredential, auth_for
from .realtime.recognition import VadTranscription
from .realtime.runner import Connector, DirectConnector, SessionRunner, TurnStream
from .realtime.session import READING_CHARS_PER_SECOND, Check, Synthesis, Transcription
from .realtime.stream import RecognitionStream
from .realtime.transcription import logprobs_unavailable, transcription_session_for
from .realtime.transport import Connection, endpoint_for, transcription_endpoint_for
from .voices import resolve_voice, voices_for

log = logging.getLogger(__name__)

DEFAULT_OUTPUT = output_format("pcm")
DEFAULT_SYNTHESIS = SynthesisOptions()
DEFAULT_RECOGNITION = RecognitionOptions()
#: The longest reading a synthesis may be (at the slow pace a turn's deadline allows for): an
#: hour. With the default text limit the longest, 4,096 characters at speed 0.25, is 27 minutes.
MAX_READING_SECONDS = 3600


def given_logprobs(
    options: RecognitionOptions, logprobs: tuple[TokenLogprob, ...] | None, heard: bool
) -> tuple[TokenLogprob, ...] | None:
    """The log probabilities for the transcript: None when not asked for; a 400 naming
    ``include`` when asked for and the backend gave none for a transcript with text (rather
    than an answer silently without them)."""
    if not options.logprobs:
        return None
    if logprobs is None and heard:
        raise BadRequest(
            "log probabilities are not available: the transcription model gave none",
            code="invalid_value",
            param="include",
        )
    return logprobs or ()


class AudioStream(TurnStream[bytes]):
    """A synthesis stream: audio chunks as they arrive; ``close()`` releases the session at once.

    ``usage`` is the Realtime response's token usage (``input_tokens``, ``output_tokens``,
    ``total_tokens``, ...) once the last chunk was taken; None before that, or when the backend
    reports none.
    """

    usage: dict[str, Any] | None = None


class SpeechService:
    """STT and TTS over the configured Realtime backend, at most ``max_sessions`` at a time.

    ``connector`` replaces the default fresh-connection-per-session one (a pool, a test
    double); ``credential`` is an azure-identity credential for Entra ID.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        connector: Connector | None = None,
        credential: TokenCredential | None = None,
    ) -> None:
        self.settings = settings
        self.endpoint = endpoint_for(settings)
        #: the transcription-only deployment recognition runs on (None: realtime sessions)
        self.transcription_endpoint = transcription_endpoint_for(settings)
        self.transcription_session = transcription_session_for(settings)
        self.auth = auth_for(settings, credential)
        direct = DirectConnector(self.endpoint, self.auth, self.transcription_endpoint)
        self.runner = SessionRunner(settings, connector or direct)
        self.counters = Counters()

    @property
    def voices(self) -> tuple[str, ...]:
        return voices_for(self.endpoint.dialect)

    def hold(self) -> AbstractContextManager[None]:
        """One session slot for a long-lived front end (:class:`Saturated` if none is free)."""
        return self.runner.hold()

    # -- validation -------------------------------------------------------------------------

    def check_text(self, text: object) -> str:
        if not isinstance(text, str):
            raise BadRequest("'text' must be a string", code="invalid_text", param="text")
        if not text.strip():
            raise BadRequest("'text' is empty", code="empty_text", param="text")
        limit = self.settings.max_text_chars
        if len(text) > limit:
            raise BadRequest(
                f"'text' has {len(text)} characters; the limit is {limit}", code="text_too_long", param="text"
            )
        return text

    @staticmethod
    def check_audio(data: bytes, fmt: WireFormat) -> None:
        if len(data) % fmt.sample_width:
            raise BadRequest(
                f"{fmt.name} audio must be whole {fmt.sample_width}-byte samples; got {len(data)} bytes",
                code="invalid_audio",
                param="audio",
            )
        if fmt.duration(data) < MIN_COMMIT_SECONDS:
            raise BadRequest(
                f"audio is {fmt.duration(data) * 1000:.0f} ms long; at least "
                f"{MIN_COMMIT_SECONDS * 1000:.0f} ms is needed",
                code="audio_too_short",
                param="audio",
            )

    def check_logprobs(self, options: RecognitionOptions, *, streaming: bool = False) -> None:
        """A 400 naming ``include`` when log probabilities are asked of a configuration that
        cannot give them (before any session opens)."""
        if not options.logprobs:
            return
        reason = logprobs_unavailable(self.settings, self.transcription_session)
        if streaming:
            reason = "streaming recognition reports no log probabilities"
        if reason:
            raise BadRequest(
                f"log probabilities are not available: {reason}", code="invalid_value", param="include"
            )

    # -- recognition ------------------------------------------------------------------------

    def recognize(self, audio: WireAudio, options: RecognitionOptions = DEFAULT_RECOGNITION) -> Transcript:
        """The transcript of ``audio`` (already in a Realtime wire format), phrase by phrase.

        The audio is cut at pauses into pieces shorter than a transcription model's window
        (:func:`~.audio.phrasing.find_pieces`, honouring the segmentation options), each sent
        as its own item; the segments are the pieces' real places in the audio.
        """
        self.check_audio(audio.data, audio.format)
        self.check_logprobs(options)
        cuts = options.segmentation
        pieces = find_pieces(
            audio.data, audio.format, silence_ms=cuts.silence_ms, max_phrase_ms=cuts.max_phrase_ms
        )
        turn = self.runner.complete(
            lambda: Transcription(
                self.endpoint.dialect,
                audio.data,
                transcribe_model=self.settings.transcribe_model,
                audio_format=audio.format.name,
                language=options.upstream_language,
                prompt=options.prompt,
                keywords=options.keywords,
                logprobs=options.logprobs,
                session=self.transcription_session,
                pieces=pieces,
            )
        )
        self._note_recognition(audio.duration, turn.usage)
        logprobs = given_logprobs(options, turn.logprobs, bool(turn.text))
        return Transcript(turn.text, audio.duration, options.language, turn.segments, turn.usage, logprobs)

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
        """
        return self.recognize(input_to_wire(data, label, rate=rate, channels=channels), options)

    def recognition_stream(
        self,
        options: RecognitionOptions = DEFAULT_RECOGNITION,
        *,
        rate: int = 16000,
        channels: int = 1,
        notify: Callable[[], None] | None = None,
    ) -> RecognitionStream:
        """A streaming recognition turn on one upstream session with server VAD.

        Push PCM16 little-endian audio at ``rate`` and ``channels`` as it arrives; poll for
        events (``notify`` is called whenever one is ready). The session (and its slot) is taken
        now and kept until the stream ends or is closed.
        """
        check_layout(rate, channels)
        self.check_logprobs(options, streaming=True)
        machine = VadTranscription(
            self.endpoint.dialect,
            transcribe_model=self.settings.transcribe_model,
            language=options.upstream_language,
            prompt=options.prompt,
            keywords=options.keywords,
            session=self.transcription_session,
            segmentation=options.segmentation,
        )
        return RecognitionStream(
            self.runner,
            machine,
            rate=rate,
            channels=channels,
            idle=self.settings.receive_timeout,
            notify=notify,
        )

    # -- synthesis --------------------------------------------------------------------------

    def synthesize(self, text: str, options: SynthesisOptions = DEFAULT_SYNTHESIS) -> Speech:
        """The whole reading of ``text``; retried once if the model clearly did not read it."""
        make, voice, output = self._synthesis(text, options, retry=True)
        self._note_reading(turn := self.runner.complete(make))
        parts = encode_parts(output, output.upstream, turn.take_chunks())
        return Speech(parts, output, voice, turn.transcript, turn.verbatim, turn.attempts)

    def synthesize_stream(self, text: str, options: SynthesisOptions = DEFAULT_SYNTHESIS) -> AudioStream:
        """The reading of ``text`` in the output format, chunk by chunk as the audio arrives.

        Input is checked now; the session opens when iteration starts and is released at once by
        ``close()``. A failure after the first chunk raises from the iterator (``streams_aborted``).
        """
        make, _, output = self._synthesis(text, options, retry=False)
        turns: list[Synthesis] = []  # the attempts' turns; the last one is the reading

        def attempt() -> Synthesis:
            turns.append(make())
            return turns[-1]

        def chunks(connected: Callable[[Connection], None]) -> Iterator[bytes]:
            for item in self._stream(attempt, output, connected):
                if isinstance(item, AudioChunk):
                    yield item.data
            stream.usage = turns[-1].usage

        stream = AudioStream(chunks, aborted=self._aborted)
        return stream

    def synthesize_events(
        self, text: str, options: SynthesisOptions = DEFAULT_SYNTHESIS
    ) -> TurnStream[AudioChunk | WordTiming]:
        """Audio chunks and word timings of the reading of ``text``, in the order they are known.

        A :class:`WordTiming` (seconds from the start of the audio) comes from the response's
        audio transcript and the audio position (see :mod:`.options`); the Azure Speech SDK
        front end turns them into word boundaries. Checked and released like
        :meth:`synthesize_stream`.
        """
        make, _, output = self._synthesis(text, options, retry=False)
        return TurnStream(lambda connected: self._stream(make, output, connected), aborted=self._aborted)

    def check(self) -> dict[str, Any]:
        """Open a session, configure it, and time the handshake and the session round trip; with a
        transcription deployment, a transcription session of it too (``transcription``)."""
        started = time.monotonic()
        turn = self.runner.complete(lambda: Check(self.endpoint.dialect))
        result: dict[str, Any] = {
            "backend": self.endpoint.backend,
            "protocol": self.endpoint.dialect,
            "model": self.endpoint.model,
            "host": self.endpoint.host,
            "auth": self.auth.mode,
            "sessionCreated": turn.session_created,
            "handshakeMs": round((turn.connected_at - started) * 1000, 1),
            "sessionMs": round((turn.finished_at - turn.connected_at) * 1000, 1),
        }
        if self.transcription_session is not None:
            started = time.monotonic()
            checked = self.runner.complete(
                lambda: Check(self.endpoint.dialect, transcription=self.transcription_session)
            )
            result["transcription"] = {
                "deployment": self.transcription_session.model,
                "handshakeMs": round((checked.connected_at - started) * 1000, 1),
                "sessionMs": round((checked.finished_at - checked.connected_at) * 1000, 1),
            }
        return result

    # -- internals --------------------------------------------------------------------------

    def _synthesis(
        self, text: str, options: SynthesisOptions, *, retry: bool
    ) -> tuple[Callable[[], Synthesis], str, OutputFormat]:
        """The input checked, and what makes a fresh turn for it (one per attempt)."""
        text = self.check_text(text)
        voice = resolve_voice(options.voice, self.endpoint.dialect)
        output = options.output or DEFAULT_OUTPUT
        self._check_reading(text, options.speed)
        speed, instructions = options.speed, options.instructions
        make = partial(Synthesis, self.endpoint.dialect, text, voice, audio_format=output.upstream.name)
        return partial(make, retry=retry, speed=speed, instructions=instructions), voice, output

    @staticmethod
    def _check_reading(text: str, speed: float) -> None:
        """Refuse, before any session, a reading longer than :data:`MAX_READING_SECONDS` at a
        slow pace (a text limit raised far past the default, read slowly)."""
        seconds = len(text) / (READING_CHARS_PER_SECOND * speed)
        if seconds > MAX_READING_SECONDS:
            raise BadRequest(
                f"'text' has {len(text)} characters: at speed {speed:g} that may be "
                f"{seconds / 60:.0f} minutes of speech, and the longest reading is "
                f"{MAX_READING_SECONDS // 60} minutes; split the text or raise the speed",
                code="text_too_long",
                param="text",
            )

    def _stream(
        self, make: Callable[[], Synthesis], output: OutputFormat, connected: Callable[[Connection], None]
    ) -> Iterator[AudioChunk | WordTiming]:
        """A reading's items; retried once on a fresh turn if it fails before the first."""
        return self.runner.retrying(lambda: self._attempt(make(), output, connected))

    def _attempt(
        self, turn: Synthesis, output: OutputFormat, connected: Callable[[Connection], None]
    ) -> Iterator[AudioChunk | WordTiming]:
        first_audio = metrics.FirstAudio()
        with Encoder(output, output.upstream, streaming=True) as encoder:
            for _ in self.runner.run(turn, connected=connected):
                chunk = encoder.push(turn.take_audio())
                if chunk:
                    first_audio.arrived()
                    yield AudioChunk(chunk)
                yield from turn.take_words()
            tail = encoder.finish()
            if tail:
                yield AudioChunk(tail)
        self._note_reading(turn)

    def _aborted(self, exc: SpeechError) -> None:  # logged by the front end that drops the client
        self.counters.add("streams_aborted")

    def _note_recognition(self, seconds: float, usage: dict[str, Any] | None) -> None:
        metrics.audio_in(seconds)
        metrics.token_usage("transcription", usage, self.settings.token_prices)

    def _note_reading(self, turn: Synthesis) -> None:
        metrics.audio_out(turn.audio_seconds)
        metrics.token_usage("synthesis", turn.usage, self.settings.token_prices)
        if turn.attempts > 1:
            self.counters.add("tts_retries")
        if turn.verbatim is False:
            self.counters.add("tts_mismatches")
            log.warning("TTS reading does not match the requested text (attempts: %d)", turn.attempts)
