"""Upstream wire audio in, the client's output format out, chunk by chunk."""

from __future__ import annotations

from types import TracebackType

import numpy as np

from .. import timings
from .codec import StreamEncoder
from .output import Codec, Container, OutputFormat
from .pcm import (
    G711_ALAW,
    G711_ULAW,
    PCM16,
    StreamResampler,
    WireFormat,
    decode_wire,
    encode_wire,
    float_to_pcm16,
)
from .wav import ALAW, MULAW, PCM, wav_header

#: (codec, container) -> (FFmpeg muxer, FFmpeg encoder) for the formats FFmpeg writes.
_FFMPEG = {
    (Codec.MP3, Container.RAW): ("mp3", "libmp3lame"),
    (Codec.OPUS, Container.OGG): ("ogg", "libopus"),
    (Codec.OPUS, Container.WEBM): ("webm", "libopus"),
    (Codec.FLAC, Container.RAW): ("flac", "flac"),
    (Codec.AAC, Container.RAW): ("adts", "aac"),
    (Codec.G722, Container.RAW): ("g722", "g722"),
}
_G711 = {Codec.MULAW: G711_ULAW, Codec.ALAW: G711_ALAW}
#: The codec each wire format's bytes already are.
_WIRE_CODECS = {PCM16: Codec.PCM, G711_ULAW: Codec.MULAW, G711_ALAW: Codec.ALAW}
#: WAV (tag, bits per sample) per codec.
_WAV = {Codec.PCM: (PCM, 16), Codec.MULAW: (MULAW, 8), Codec.ALAW: (ALAW, 8)}


class Encoder:
    """Upstream wire audio in, the client's format out, chunk by chunk.

    ``streaming`` selects the WAV form with unknown sizes (0xFFFFFFFF), which players accept for
    a body of unknown length, sent before the first audio; otherwise the caller puts
    :meth:`prefix` (a header with exact sizes) before the body once it knows its size. An encoder
    that will not finish (the stream was aborted) must be closed: :meth:`close`, or use it as a
    context manager, frees the codec and container at once rather than at garbage collection.
    """

    def __init__(self, output: OutputFormat, source: WireFormat, *, streaming: bool) -> None:
        self.output = output
        self._source = source
        self._streaming = streaming
        self._resampler = StreamResampler(source.sample_rate, output.rate)
        self._compressed: StreamEncoder | None = None
        self._header_sent = False
        self._partial = b""
        #: the upstream's samples are in the client's codec and rate: the bytes are what it wants
        self.direct = _WIRE_CODECS[source] is output.codec and output.rate == source.sample_rate
        if (output.codec, output.container) in _FFMPEG:
            muxer, encoder = _FFMPEG[output.codec, output.container]
            self._compressed = StreamEncoder(muxer, encoder, output.rate, output.bit_rate)

    def __enter__(self) -> Encoder:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def push(self, wire: bytes | memoryview, *, last: bool = False) -> bytes:
        """The client's bytes for the next piece of upstream audio (may be empty)."""
        with timings.timed("encode"):
            return self._push(wire, last=last)

    def _push(self, wire: bytes | memoryview, *, last: bool) -> bytes:
        if self.direct:
            data = wire if isinstance(wire, bytes) else bytes(wire)
        else:
            samples = self._resampler.push(decode_wire(self._whole_samples(wire), self._source), last=last)
            if self._compressed is not None:
                return self._compressed.push(samples)
            data = self._samples(samples)
        if self.output.container is Container.WAV and self._streaming and not self._header_sent:
            self._header_sent = True
            data = self._wav_header(None) + data
        return data

    def finish(self) -> bytes:
        """The end of the output."""
        tail = self.push(b"", last=True)
        if self._compressed is not None:
            with timings.timed("encode"):
                return tail + self._compressed.finish()
        return tail

    def prefix(self, size: int) -> bytes:
        """What a whole (not streamed) file of ``size`` body bytes starts with: a WAV's header
        with exact sizes; nothing for any other format."""
        if self.output.container is Container.WAV and not self._streaming:
            return self._wav_header(size)
        return b""

    def close(self) -> None:
        """Free the codec and container (idempotent; after :meth:`finish` too)."""
        if self._compressed is not None:
            self._compressed.close()

    def _whole_samples(self, wire: bytes | memoryview) -> bytes | memoryview:
        """``wire`` after the partial sample the last push left, up to its own last whole sample:
        an upstream's chunks need not end on a sample boundary."""
        if self._partial:
            wire = self._partial + wire
        cut = len(wire) - len(wire) % self._source.sample_width
        self._partial = bytes(wire[cut:])
        return wire[:cut]

    def _samples(self, samples: np.ndarray) -> bytes:
        fmt = _G711.get(self.output.codec)
        return encode_wire(samples, fmt) if fmt else float_to_pcm16(samples)

    def _wav_header(self, size: int | None) -> bytes:
        tag, bits = _WAV[self.output.codec]
        return wav_header(self.output.rate, 1, bits, size, tag=tag)


#: Samples of wire audio :func:`encode_parts` converts at a time.
_BLOCK_SAMPLES = 16384


def encode_parts(output: OutputFormat, source: WireFormat, chunks: list[bytes]) -> list[bytes]:
    """A whole file in the output format, as the parts of its body in order (a WAV's header
    first), from the upstream's ``chunks`` of wire audio, which it empties.

    Each chunk is dropped once converted and the parts are never joined, so a reading is held
    about once, however long (joining the chunks, then the parts, held it three times over).
    Large chunks are converted in blocks, so the working buffers (float samples, resampler
    output, codec frames) stay small: a whole 270 s reading converted at once held about 80 MB
    of them on the way to MP3.
    """
    step = _BLOCK_SAMPLES * source.sample_width
    chunks.reverse()
    parts: list[bytes] = []
    with Encoder(output, source, streaming=False) as encoder:
        while chunks:
            wire = chunks.pop()
            if encoder.direct or len(wire) <= step:
                parts.append(encoder.push(wire))
            else:
                view = memoryview(wire)
                parts.extend(encoder.push(view[start : start + step]) for start in range(0, len(view), step))
        parts.append(encoder.finish())
        parts = [part for part in parts if part]
        prefix = encoder.prefix(sum(map(len, parts)))
    return [prefix, *parts] if prefix else parts
