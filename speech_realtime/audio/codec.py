"""Compressed audio through PyAV (FFmpeg): safe streaming decoding, incremental encoding.

Decoding is locked down, because FFmpeg can do far more than decode audio: its playlist and
reference demuxers (concat, HLS, DASH, SDP, ...) open other files and URLs. So the demuxer is
forced from the container the content was sniffed as (:data:`DEMUXERS`, an allow-list; FFmpeg
never probes), ``format_whitelist`` holds just that demuxer, ``protocol_whitelist`` admits no
protocol (the body is read through the custom I/O only, so nothing on disk or on the network is
reachable), and error messages never carry FFmpeg's text, an OS error or a path.

Decoding yields one frame at a time as mono float32 at the frame's rate, so memory is bounded
by a frame, not by the file. The encoder writes into a non-seekable sink, so the muxer emits
bytes as soon as it has them, and :meth:`StreamEncoder.finish` flushes the resampler, the encoder
and the muxer, so the last frames are never lost; :meth:`StreamEncoder.close` frees the codec
and container of an encoder that will not finish (an aborted stream).
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..errors import UnsupportedMedia

try:
    import av
except ImportError:  # the "formats" extra is not installed
    av = None

#: Sniffed container -> the only FFmpeg demuxer used for it.
DEMUXERS = {
    "ogg": "ogg",
    "flac": "flac",
    "mp3": "mp3",
    "webm": "matroska",
    "mp4": "mov",
    "aac": "aac",
}
#: Options every demuxer opens with: no protocols beyond the custom I/O, no other demuxer.
_LOCKED = {"protocol_whitelist": "none"}
#: Demuxer-private options: the MP4 reader must not follow data references to other files.
_PRIVATE = {"mov": {"enable_drefs": "0", "use_absolute_path": "0"}}
#: The decode error every failure becomes: what FFmpeg says may name files and paths.
_UNDECODABLE = "cannot decode the audio"


def _require_av() -> None:
    if av is None:
        raise UnsupportedMedia(
            "compressed audio needs PyAV: pip install 'speech-realtime[formats]'",
            code="unsupported_media_type",
            param="audio",
        )


def decode_blocks(data: bytes, container: str) -> Iterator[tuple[np.ndarray, int]]:
    """(mono float32 samples, rate) of the first audio stream, one decoded frame at a time.

    ``container`` is what :func:`..formats.sniff` found; the demuxer is chosen from it and forced.
    :class:`UnsupportedMedia` for anything that is not decodable audio.
    """
    _require_av()
    demuxer = DEMUXERS.get(container)
    if demuxer is None:
        raise UnsupportedMedia(f"{container} audio is not decoded", code="undecodable_audio", param="audio")
    options = {**_LOCKED, "format_whitelist": demuxer, **_PRIVATE.get(demuxer, {})}
    produced = False
    try:
        with av.open(io.BytesIO(data), mode="r", format=demuxer, container_options=options) as box:
            if not box.streams.audio:
                raise UnsupportedMedia(
                    "the file holds no audio stream", code="undecodable_audio", param="audio"
                )
            mixer, shape = None, None
            for frame in box.decode(box.streams.audio[0]):
                if (frame.sample_rate, frame.format.name, frame.layout.name) != shape:
                    if mixer is not None:  # the stream changed shape (chained Ogg): flush, start over
                        yield from _mono(mixer.resample(None), shape[0])
                    shape = (frame.sample_rate, frame.format.name, frame.layout.name)
                    mixer = av.AudioResampler(format="flt", layout="mono", rate=frame.sample_rate)
                for block in _mono(mixer.resample(frame), frame.sample_rate):
                    produced = True
                    yield block
            if mixer is not None:
                for block in _mono(mixer.resample(None), shape[0]):
                    produced = True
                    yield block
    except (av.error.FFmpegError, OSError, ValueError, IndexError, OverflowError):
        raise UnsupportedMedia(_UNDECODABLE, code="undecodable_audio", param="audio") from None
    if not produced:
        raise UnsupportedMedia("the file holds no decodable audio", code="undecodable_audio", param="audio")


def _mono(frames: list[Any], rate: int) -> Iterator[tuple[np.ndarray, int]]:
    for frame in frames:
        samples = frame.to_ndarray().reshape(-1)
        if len(samples):
            yield samples, rate


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

    def __init__(self, muxer: str, codec: str, rate: int, bit_rate: int | None = None) -> None:
        _require_av()
        self._sink = _Sink()
        self._container = av.open(self._sink, mode="w", format=muxer)
        try:
            self._stream = self._container.add_stream(codec, rate=rate, layout="mono")
            if bit_rate:
                self._stream.bit_rate = bit_rate
            context = self._stream.codec_context
            self._resampler = av.AudioResampler(
                format=context.format.name, layout="mono", rate=rate, frame_size=context.frame_size or None
            )
        except BaseException:
            self.close()
            raise
        self._rate = rate
        self._pts = 0
        self._finished = False

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
        if not self._finished:
            self._finished = True
            self._encode(self._resampler.resample(None))
            for packet in self._stream.encode(None):
                self._container.mux(packet)
            self.close()
        return self._sink.take()

    def close(self) -> None:
        """Free the codec and the container (idempotent); after :meth:`finish` it has nothing to do."""
        self._finished = True
        container, self._container = self._container, None
        if container is not None:
            with contextlib.suppress(av.error.FFmpegError, ValueError):
                container.close()

    def _encode(self, frames: list[Any]) -> None:
        for frame in frames:
            for packet in self._stream.encode(frame):
                self._container.mux(packet)
