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
    a body of unknown length; otherwise :meth:`finish` returns a WAV with exact sizes. An encoder
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
        self._body: list[bytes] = []
        # The upstream's samples in the client's codec and rate: the bytes are what it wants.
        self._direct = _WIRE_CODECS[source] is output.codec and output.rate == source.sample_rate
        if (output.codec, output.container) in _FFMPEG:
            muxer, encoder = _FFMPEG[output.codec, output.container]
            self._compressed = StreamEncoder(muxer, encoder, output.rate, output.bit_rate)

    def __enter__(self) -> Encoder:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def push(self, wire: bytes, *, last: bool = False) -> bytes:
        """The client's bytes for the next piece of upstream audio (may be empty)."""
        with timings.timed("encode"):
            return self._push(wire, last=last)

    def _push(self, wire: bytes, *, last: bool) -> bytes:
        if self._direct:
            data = wire
        else:
            samples = self._resampler.push(decode_wire(wire, self._source), last=last)
            if self._compressed is not None:
                return self._compressed.push(samples)
            data = self._samples(samples)
        if self.output.container is Container.WAV:
            if not self._streaming:
                self._body.append(data)
                return b""
            if not self._header_sent:
                self._header_sent = True
                data = self._wav_header(None) + data
        return data

    def finish(self) -> bytes:
        """The end of the output (for a whole WAV file: all of it)."""
        tail = self.push(b"", last=True)
        if self._compressed is not None:
            with timings.timed("encode"):
                return tail + self._compressed.finish()
        if self.output.container is Container.WAV and not self._streaming:
            body = b"".join(self._body)
            self._body.clear()
            return self._wav_header(len(body)) + body
        return tail

    def close(self) -> None:
        """Free the codec, container and buffers (idempotent; after :meth:`finish` too)."""
        if self._compressed is not None:
            self._compressed.close()
        self._body.clear()

    def _samples(self, samples: np.ndarray) -> bytes:
        fmt = _G711.get(self.output.codec)
        return encode_wire(samples, fmt) if fmt else float_to_pcm16(samples)

    def _wav_header(self, size: int | None) -> bytes:
        tag, bits = _WAV[self.output.codec]
        return wav_header(self.output.rate, 1, bits, size, tag=tag)


#: Samples of wire audio :func:`encode_all` converts at a time.
_BLOCK_SAMPLES = 16384


def encode_all(output: OutputFormat, source: WireFormat, wire: bytes) -> bytes:
    """The whole of ``wire`` audio in the output format.

    Converted in blocks, so the working buffers (float samples, resampler output, codec frames)
    stay small whatever the length of the reading: a whole 270 s reading converted at once held
    about 80 MB of them on the way to MP3.
    """
    step = _BLOCK_SAMPLES * source.sample_width
    with Encoder(output, source, streaming=False) as encoder:
        parts = [encoder.push(wire[start : start + step]) for start in range(0, len(wire), step)]
        parts.append(encoder.finish())
        return b"".join(parts)
