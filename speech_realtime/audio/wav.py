"""WAV (RIFF/WAVE) read and write, without trusting the header.

Reading accepts PCM 8/16/24/32-bit, IEEE float 32/64-bit, G.711 A-law and mu-law,
``WAVE_FORMAT_EXTENSIBLE`` with a PCM or float subformat, any rate from 1 kHz to 384 kHz and up
to 8 channels. Sizes of ``0xFFFFFFFF`` or 0 (the streaming form, written before the length is
known) mean "to the end of the file". A header that
claims more data than the file holds, absurd rates or channel counts, and missing chunks are
:class:`BadRequest` errors. Memory stays bounded by the input: samples are views of it, not
allocations sized by what the header claims.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from ..errors import BadRequest
from .pcm import alaw_decode, pcm16_to_float, ulaw_decode

PCM = 0x0001
IEEE_FLOAT = 0x0003
ALAW = 0x0006
MULAW = 0x0007
EXTENSIBLE = 0xFFFE
_SUBFORMAT_TAIL = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
UNKNOWN_SIZE = 0xFFFFFFFF
MIN_RATE, MAX_RATE = 1000, 384000
MAX_CHANNELS = 8
#: Chunks read before ``fmt `` and ``data`` are both found (real files have a handful): a body
#: of millions of empty chunks would otherwise hold a worker for seconds.
MAX_CHUNKS = 64


@dataclass(frozen=True)
class WavAudio:
    """Decoded WAV: float32 samples, shape ``(frames, channels)``, and the sample rate."""

    samples: np.ndarray
    rate: int

    @property
    def channels(self) -> int:
        return int(self.samples.shape[1])


def _bad(message: str) -> BadRequest:
    return BadRequest(f"invalid WAV file: {message}", code="invalid_audio", param="audio")


def _chunks(data: bytes) -> dict[bytes, memoryview]:
    """The top-level chunks of a RIFF/WAVE file, by id (the first of each), up to ``data``
    and ``fmt `` (what follows them is never needed)."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise _bad("no RIFF/WAVE header")
    view = memoryview(data)
    chunks: dict[bytes, memoryview] = {}
    offset = 12
    read = 0
    while offset + 8 <= len(data):
        chunk_id = bytes(view[offset : offset + 4])
        (size,) = struct.unpack_from("<I", data, offset + 4)
        start = offset + 8
        if size in (UNKNOWN_SIZE, 0) and chunk_id == b"data":
            size = len(data) - start
        if start + size > len(data):
            raise _bad(f"chunk {chunk_id!r} claims {size} bytes but only {len(data) - start} follow")
        chunks.setdefault(chunk_id, view[start : start + size])
        if b"fmt " in chunks and b"data" in chunks:
            break
        read += 1
        if read >= MAX_CHUNKS:
            raise _bad(f"no fmt and data chunks among the first {MAX_CHUNKS} chunks")
        offset = start + size + (size & 1)
    return chunks


def _format(fmt: memoryview) -> tuple[int, int, int, int]:
    """(format tag, channels, rate, bits per sample) of a ``fmt `` chunk."""
    if len(fmt) < 16:
        raise _bad("fmt chunk too short")
    tag, channels, rate, _, block_align, bits = struct.unpack_from("<HHIIHH", fmt)
    if tag == EXTENSIBLE:
        if len(fmt) < 40 or bytes(fmt[26:40]) != _SUBFORMAT_TAIL:
            raise _bad("WAVE_FORMAT_EXTENSIBLE without a PCM or float subformat")
        (tag,) = struct.unpack_from("<H", fmt, 24)
    if not 1 <= channels <= MAX_CHANNELS:
        raise _bad(f"{channels} channels (1 to {MAX_CHANNELS} supported)")
    if not MIN_RATE <= rate <= MAX_RATE:
        raise _bad(f"sample rate {rate} Hz ({MIN_RATE} to {MAX_RATE} supported)")
    supported = {
        (PCM, 8),
        (PCM, 16),
        (PCM, 24),
        (PCM, 32),
        (IEEE_FLOAT, 32),
        (IEEE_FLOAT, 64),
        (ALAW, 8),
        (MULAW, 8),
    }
    if (tag, bits) not in supported:
        raise _bad(f"format tag {tag:#06x} with {bits}-bit samples is not supported")
    if block_align != channels * bits // 8:
        raise _bad(f"block align {block_align} does not match {channels} x {bits}-bit samples")
    return tag, channels, rate, bits


def _samples(raw: memoryview, tag: int, bits: int) -> np.ndarray:
    if tag in (ALAW, MULAW):
        return pcm16_to_float((alaw_decode if tag == ALAW else ulaw_decode)(bytes(raw)))
    if tag == IEEE_FLOAT:
        values = np.frombuffer(raw, dtype="<f4" if bits == 32 else "<f8").astype(np.float32)
        return np.nan_to_num(np.clip(values, -1.0, 1.0), nan=0.0)
    if bits == 8:
        return (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    if bits == 16:
        return np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    if bits == 32:
        return (np.frombuffer(raw, dtype="<i4").astype(np.float64) / 2147483648.0).astype(np.float32)
    triples = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
    values = triples[:, 0] | (triples[:, 1] << 8) | (triples[:, 2] << 16)
    values = np.where(values & 0x800000, values - 0x1000000, values)
    return values.astype(np.float32) / 8388608.0


@dataclass(frozen=True)
class WavLayout:
    """A checked WAV header and a view of its whole frames, for decoding piece by piece."""

    tag: int
    channels: int
    rate: int
    bits: int
    data: memoryview

    @property
    def frame_bytes(self) -> int:
        return self.channels * self.bits // 8

    @property
    def frames(self) -> int:
        return len(self.data) // self.frame_bytes

    def samples(self, start: int, stop: int) -> np.ndarray:
        """float32 samples of frames ``start`` to ``stop``, shape ``(frames, channels)``."""
        raw = self.data[start * self.frame_bytes : stop * self.frame_bytes]
        return _samples(raw, self.tag, self.bits).reshape(-1, self.channels)


def parse_wav(data: bytes) -> WavLayout:
    """The layout of a WAV file, nothing decoded; :class:`BadRequest` for anything malformed."""
    chunks = _chunks(data)
    if b"fmt " not in chunks:
        raise _bad("no fmt chunk")
    if b"data" not in chunks:
        raise _bad("no data chunk")
    tag, channels, rate, bits = _format(chunks[b"fmt "])
    raw = chunks[b"data"]
    frame = channels * bits // 8
    return WavLayout(tag, channels, rate, bits, raw[: len(raw) - len(raw) % frame])


def read_wav(data: bytes) -> WavAudio:
    """Decode a whole WAV file; :class:`BadRequest` for anything malformed."""
    layout = parse_wav(data)
    return WavAudio(layout.samples(0, layout.frames), layout.rate)


def wav_header(
    rate: int, channels: int = 1, bits: int = 16, data_bytes: int | None = None, *, tag: int = PCM
) -> bytes:
    """A 44-byte canonical header; ``data_bytes=None`` writes the streaming form (sizes unknown)."""
    block = channels * bits // 8
    data_size = UNKNOWN_SIZE if data_bytes is None else data_bytes
    riff_size = UNKNOWN_SIZE if data_bytes is None else 36 + data_bytes
    return (
        b"RIFF"
        + struct.pack("<I", riff_size)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, tag, channels, rate, rate * block, block, bits)
        + b"data"
        + struct.pack("<I", data_size)
    )


def write_wav(pcm16: bytes, rate: int, channels: int = 1) -> bytes:
    """A complete WAV file holding little-endian PCM16 samples."""
    return wav_header(rate, channels, 16, len(pcm16)) + pcm16
