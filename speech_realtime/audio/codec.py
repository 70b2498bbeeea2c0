"""Compressed audio through PyAV (FFmpeg): decoding any container, encoding incrementally.

Decoding yields mono float32 and stops at :data:`MAX_DECODED_SECONDS`, so a small file that
expands to hours of audio cannot exhaust memory. The encoder writes into a non-seekable sink, so
the muxer emits bytes as soon as it has them (a stream's first bytes leave before synthesis
ends), and :meth:`StreamEncoder.finish` flushes the resampler, the encoder and the muxer, so the
last frames are never lost.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from ..errors import PayloadTooLarge, UnsupportedMedia

try:
    import av
except ImportError:  # the "formats" extra is not installed
    av = None

#: Longest audio the service decodes from one request.
MAX_DECODED_SECONDS = 600


def _require_av() -> None:
    if av is None:
        raise UnsupportedMedia(
            "compressed audio needs PyAV: pip install 'speech-realtime[formats]'",
            code="unsupported_media_type",
        )


def decode_compressed(data: bytes) -> tuple[np.ndarray, int]:
    """(mono float32 samples, rate) of the first audio stream of any container FFmpeg reads."""
    _require_av()
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.audio:
                raise UnsupportedMedia("the file holds no audio stream", code="undecodable_audio")
            stream = container.streams.audio[0]
            rate = int(stream.codec_context.sample_rate or stream.rate or 0)
            resampler = av.AudioResampler(format="flt", layout="mono", rate=rate or None)
            pieces: list[np.ndarray] = []
            total = 0
            for frame in container.decode(stream):
                rate = rate or frame.sample_rate
                for mono in resampler.resample(frame):
                    piece = mono.to_ndarray().reshape(-1)
                    pieces.append(piece)
                    total += len(piece)
                if total > MAX_DECODED_SECONDS * rate:
                    raise PayloadTooLarge(f"audio longer than {MAX_DECODED_SECONDS} seconds")
            for mono in resampler.resample(None):
                pieces.append(mono.to_ndarray().reshape(-1))
    except (av.error.FFmpegError, ValueError, IndexError, OverflowError) as exc:
        raise UnsupportedMedia(
            f"cannot decode the audio ({type(exc).__name__})", code="undecodable_audio"
        ) from None
    samples = np.concatenate(pieces).astype(np.float32, copy=False) if pieces else np.zeros(0, np.float32)
    if not len(samples) or not rate:
        raise UnsupportedMedia("the file holds no decodable audio", code="undecodable_audio")
    return samples, rate


class _Sink:
    """A write-only, non-seekable file for the muxer; :meth:`take` drains what it wrote."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: Any) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


class StreamEncoder:
    """Mono float32 at ``rate`` in, encoded container bytes out, as they become available."""

    def __init__(self, container: str, codec: str, rate: int, bit_rate: int | None = None) -> None:
        _require_av()
        self._sink = _Sink()
        self._container = av.open(self._sink, mode="w", format=container)
        self._stream = self._container.add_stream(codec, rate=rate, layout="mono")
        if bit_rate:
            self._stream.bit_rate = bit_rate
        context = self._stream.codec_context
        self._resampler = av.AudioResampler(
            format=context.format.name, layout="mono", rate=rate, frame_size=context.frame_size or None
        )
        self._rate = rate
        self._pts = 0
        self._closed = False

    def push(self, samples: np.ndarray) -> bytes:
        samples = np.ascontiguousarray(samples, dtype=np.float32).reshape(1, -1)
        if samples.shape[1]:
            frame = av.AudioFrame.from_ndarray(samples, format="flt", layout="mono")
            frame.sample_rate = self._rate
            frame.pts = self._pts
            self._pts += samples.shape[1]
            self._encode(self._resampler.resample(frame))
        return self._sink.take()

    def finish(self) -> bytes:
        """Flush everything and close the container; the bytes returned end the file."""
        if not self._closed:
            self._closed = True
            self._encode(self._resampler.resample(None))
            for packet in self._stream.encode(None):
                self._container.mux(packet)
            self._container.close()
        return self._sink.take()

    def _encode(self, frames: list[Any]) -> None:
        for frame in frames:
            for packet in self._stream.encode(frame):
                self._container.mux(packet)
