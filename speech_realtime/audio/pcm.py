"""Raw sample formats: the Realtime API's wire formats, PCM16 <-> float, G.711, resampling."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import soxr

#: The Realtime API rejects a commit of less audio than this (``input_audio_buffer_commit_empty``).
MIN_COMMIT_SECONDS = 0.1


@dataclass(frozen=True)
class WireFormat:
    """An audio encoding the Realtime API accepts and produces as-is."""

    name: str
    sample_rate: int
    sample_width: int
    mime: str

    @property
    def bytes_per_second(self) -> int:
        return self.sample_rate * self.sample_width

    def duration(self, data: bytes) -> float:
        """Seconds of audio in ``data``."""
        return len(data) / self.bytes_per_second


PCM16 = WireFormat("pcm16", 24000, 2, "audio/pcm")
G711_ULAW = WireFormat("g711_ulaw", 8000, 1, "audio/pcmu")
G711_ALAW = WireFormat("g711_alaw", 8000, 1, "audio/pcma")
WIRE_FORMATS = {f.name: f for f in (PCM16, G711_ULAW, G711_ALAW)}


# -- PCM16 <-> float ------------------------------------------------------------------------------


def pcm16_to_float(data: bytes | memoryview) -> np.ndarray:
    """Little-endian PCM16 bytes as float32 samples in [-1, 1)."""
    return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0


def float_to_pcm16(samples: np.ndarray) -> bytes:
    """float samples (clipped to [-1, 1]) as little-endian PCM16 bytes."""
    scaled = np.clip(np.rint(np.asarray(samples, dtype=np.float32) * 32768.0), -32768, 32767)
    return scaled.astype("<i2").tobytes()


# -- G.711 (ITU-T; the segment tables of the classic Sun reference implementation) ---------------

_SEGMENT_ENDS_ULAW = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF])
_SEGMENT_ENDS_ALAW = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF])


def _ulaw_encode_table() -> np.ndarray:
    pcm = np.arange(-32768, 32768, dtype=np.int32) >> 2
    mask = np.where(pcm < 0, 0x7F, 0xFF)
    magnitude = np.minimum(np.abs(pcm), 8159) + 0x21
    segment = np.searchsorted(_SEGMENT_ENDS_ULAW, magnitude)
    value = np.where(
        segment >= 8, 0x7F, (np.minimum(segment, 7) << 4) | ((magnitude >> (segment + 1)) & 0x0F)
    )
    return (value ^ mask).astype(np.uint8)


def _alaw_encode_table() -> np.ndarray:
    pcm = np.arange(-32768, 32768, dtype=np.int32) >> 3
    mask = np.where(pcm >= 0, 0xD5, 0x55)
    magnitude = np.where(pcm >= 0, pcm, -pcm - 1)
    segment = np.searchsorted(_SEGMENT_ENDS_ALAW, magnitude)
    shift = np.where(segment < 2, 1, segment)
    value = np.where(segment >= 8, 0x7F, (np.minimum(segment, 7) << 4) | ((magnitude >> shift) & 0x0F))
    return (value ^ mask).astype(np.uint8)


def _ulaw_decode_table() -> np.ndarray:
    code = ~np.arange(256, dtype=np.int32) & 0xFF
    magnitude = (((code & 0x0F) << 3) + 0x84) << ((code & 0x70) >> 4)
    return np.where(code & 0x80, 0x84 - magnitude, magnitude - 0x84).astype(np.int16)


def _alaw_decode_table() -> np.ndarray:
    code = np.arange(256, dtype=np.int32) ^ 0x55
    segment = (code & 0x70) >> 4
    base = (code & 0x0F) << 4
    magnitude = np.where(segment == 0, base + 8, (base + 0x108) << np.maximum(segment - 1, 0))
    return np.where(code & 0x80, magnitude, -magnitude).astype(np.int16)


_ULAW_ENCODE = _ulaw_encode_table()
_ALAW_ENCODE = _alaw_encode_table()
_ULAW_DECODE = _ulaw_decode_table()
_ALAW_DECODE = _alaw_decode_table()


def _table_index(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype="<i2").astype(np.int32) + 32768


def ulaw_encode(pcm: bytes) -> bytes:
    """PCM16 -> G.711 mu-law, one byte per sample."""
    return _ULAW_ENCODE[_table_index(pcm)].tobytes()


def alaw_encode(pcm: bytes) -> bytes:
    """PCM16 -> G.711 A-law, one byte per sample."""
    return _ALAW_ENCODE[_table_index(pcm)].tobytes()


def ulaw_decode(data: bytes | memoryview) -> bytes:
    """G.711 mu-law -> PCM16."""
    return _ULAW_DECODE[np.frombuffer(data, dtype=np.uint8)].astype("<i2").tobytes()


def alaw_decode(data: bytes | memoryview) -> bytes:
    """G.711 A-law -> PCM16."""
    return _ALAW_DECODE[np.frombuffer(data, dtype=np.uint8)].astype("<i2").tobytes()


def decode_wire(data: bytes | memoryview, fmt: WireFormat) -> np.ndarray:
    """Wire-format bytes as float32 samples at ``fmt.sample_rate``."""
    if fmt is G711_ULAW:
        data = ulaw_decode(data)
    elif fmt is G711_ALAW:
        data = alaw_decode(data)
    return pcm16_to_float(data)


def encode_wire(samples: np.ndarray, fmt: WireFormat) -> bytes:
    """float32 samples at ``fmt.sample_rate`` as wire-format bytes."""
    pcm = float_to_pcm16(samples)
    if fmt is G711_ULAW:
        return ulaw_encode(pcm)
    if fmt is G711_ALAW:
        return alaw_encode(pcm)
    return pcm


def downmix(samples: np.ndarray) -> np.ndarray:
    """Mono float32 from ``(frames, channels)`` or already-mono samples, by averaging channels."""
    samples = np.asarray(samples, dtype=np.float32)
    return samples if samples.ndim == 1 else samples.mean(axis=1, dtype=np.float32)


# -- resampling ---------------------------------------------------------------------------------


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Band-limited resampling of a whole signal (soxr, high quality)."""
    samples = np.asarray(samples, dtype=np.float32)
    if from_rate == to_rate or not len(samples):
        return samples
    return soxr.resample(samples, from_rate, to_rate, quality="HQ").astype(np.float32, copy=False)


class StreamResampler:
    """Resampling of a signal that arrives in pieces, with no seams between them."""

    def __init__(self, from_rate: int, to_rate: int) -> None:
        self._identity = from_rate == to_rate
        self._stream = None if self._identity else soxr.ResampleStream(from_rate, to_rate, 1, dtype="float32")

    def push(self, samples: np.ndarray, *, last: bool = False) -> np.ndarray:
        samples = np.asarray(samples, dtype=np.float32)
        if self._stream is None:
            return samples
        return self._stream.resample_chunk(samples, last=last)
