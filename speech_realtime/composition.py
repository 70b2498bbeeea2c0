"""Planning and voicing an SSML document: its parts checked, then read in order into one stream.

:func:`plan_document` is the one planner both Azure front ends use (REST ``/cognitiveservices/v1``
and the SDK's ``ssml`` frames): every part is checked before the first reading starts (the
document's text within ``SPEECH_MAX_TEXT_CHARS`` as a whole and part by part, every voice known),
so a bad voice or a document too long is refused before any audio (400 over REST, 1007 on the
socket, with the same message), not a truncated stream. Speeds come on Azure's scale
(0.5 .. 2.0) and are moved into the Realtime API's range (:func:`~.options.clamp_speed`); an
``express-as`` style becomes style instructions.

:class:`Composition` voices a plan for REST: each :class:`~.readings.Reading` is one reading
through the service's public API (one upstream session at a time, PCM16 24 kHz), each
:class:`~.ssml.Break` is silence, and everything goes through one :class:`~.audio.Encoder`, so the
client gets one continuous stream in its format (one WAV header, one Ogg stream). Bookmarks have
no place in a plain audio stream and are skipped (the SDK protocol times them itself).
"""

from __future__ import annotations

from collections.abc import Iterator

from .audio import PCM16, Encoder, OutputFormat
from .errors import BadRequest
from .options import SynthesisOptions, clamp_speed
from .readings import Reading, Step
from .speech import SpeechService
from .ssml import Break, Document
from .voices import resolve_voice


def plan_document(service: SpeechService, document: Document) -> tuple[Step, ...]:
    """``document``'s parts as checked readings and breaks, or :class:`BadRequest` naming the
    first limit it breaks: no text at all, more text than ``SPEECH_MAX_TEXT_CHARS`` in the whole
    document or in one part, an unknown voice."""
    if not document.texts:
        raise BadRequest("the SSML has no text to speak", code="empty_text", param="text")
    limit = service.settings.max_text_chars
    length = len(document.text)
    if length > limit:
        raise BadRequest(
            f"the SSML has {length} characters of text; the limit is {limit}",
            code="text_too_long",
            param="text",
        )
    dialect = service.endpoint.dialect
    steps: list[Step] = []
    for part in document.parts:
        if isinstance(part, Break):
            steps.append(part)
            continue
        service.check_text(part.text)
        resolve_voice(part.voice, dialect)
        options = SynthesisOptions(
            voice=part.voice,
            speed=clamp_speed(part.speed),
            instructions=f"Speak in a {part.style} style." if part.style else None,
        )
        steps.append(Reading(part.text, options))
    return tuple(steps)


class Composition:
    """The plan for voicing ``document`` in ``output``; checked when built, run when iterated."""

    def __init__(self, service: SpeechService, document: Document, output: OutputFormat) -> None:
        self.service = service
        self.output = output
        self.steps = plan_document(service, document)

    def audio(self) -> Iterator[bytes]:
        """The encoded audio, chunk by chunk as the readings arrive (lazy: nothing runs until
        iterated; closing the iterator closes the reading in progress and the encoder)."""
        encoder = Encoder(self.output, PCM16, streaming=True)
        # Silence before the first reading waits for its first audio: the first byte starts the
        # answer, and an upstream failure (refused, saturated) must still be an error answer.
        held = 0.0
        started = False
        try:
            for step in self.steps:
                if isinstance(step, Break):
                    if started:
                        yield from _silence(encoder, step.seconds)
                    else:
                        held += step.seconds
                    continue
                with self.service.synthesize_stream(step.text, step.options) as stream:
                    for wire in stream:
                        if not started:
                            started = True
                            yield from _silence(encoder, held)
                        if data := encoder.push(wire):
                            yield data
            if not started:
                yield from _silence(encoder, held)
            if tail := encoder.finish():
                yield tail
        finally:
            encoder.close()


def _silence(encoder: Encoder, seconds: float) -> Iterator[bytes]:
    """``seconds`` of silence through ``encoder``, a second at a time (bounded buffers)."""
    frames = round(seconds * PCM16.sample_rate)
    for start in range(0, frames, PCM16.sample_rate):
        piece = min(PCM16.sample_rate, frames - start)
        if data := encoder.push(bytes(PCM16.sample_width * piece)):
            yield data
