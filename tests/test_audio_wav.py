"""WAV read/write: every supported layout, the streaming form, and headers that lie."""

from __future__ import annotations

import io
import struct
import wave

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from speech_realtime.audio import alaw_encode, float_to_pcm16, ulaw_encode
from speech_realtime.audio.wav import UNKNOWN_SIZE, read_wav, wav_header, write_wav
from speech_realtime.errors import BadRequest

GUID_TAIL = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"


def riff(fmt: bytes, data: bytes, *, extra: bytes = b"", data_size: int | None = None) -> bytes:
    size = len(data) if data_size is None else data_size
    body = (
        b"WAVE"
        + b"fmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + extra
        + b"data"
        + struct.pack("<I", size)
        + data
    )
    return b"RIFF" + struct.pack("<I", len(body)) + body


def fmt_chunk(tag: int, channels: int, rate: int, bits: int) -> bytes:
    block = channels * bits // 8
    return struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, bits)


def extensible(subtag: int, channels: int, rate: int, bits: int) -> bytes:
    base = fmt_chunk(0xFFFE, channels, rate, bits)
    return base + struct.pack("<HHI", 22, bits, 0) + struct.pack("<H", subtag) + GUID_TAIL


REFERENCE = np.array([0.0, 0.5, -0.5, 0.25, -1.0, 0.999], dtype=np.float32)


@pytest.mark.parametrize(
    ("fmt", "data", "tolerance"),
    [
        (
            fmt_chunk(1, 1, 16000, 8),
            (np.round(REFERENCE * 127) + 128).clip(0, 255).astype(np.uint8).tobytes(),
            1 / 127,
        ),
        (fmt_chunk(1, 1, 16000, 16), float_to_pcm16(REFERENCE), 1 / 32767),
        (
            fmt_chunk(1, 1, 16000, 24),
            b"".join(int(v * 8388607).to_bytes(3, "little", signed=True) for v in REFERENCE),
            1 / 8388607,
        ),
        (
            fmt_chunk(1, 1, 16000, 32),
            (REFERENCE.astype(np.float64) * 2147483647).astype("<i4").tobytes(),
            1e-6,
        ),
        (fmt_chunk(3, 1, 16000, 32), REFERENCE.astype("<f4").tobytes(), 0),
        (fmt_chunk(3, 1, 16000, 64), REFERENCE.astype("<f8").tobytes(), 1e-7),
        (extensible(1, 1, 16000, 16), float_to_pcm16(REFERENCE), 1 / 32767),
        (extensible(3, 1, 16000, 32), REFERENCE.astype("<f4").tobytes(), 0),
        (fmt_chunk(7, 1, 8000, 8), ulaw_encode(float_to_pcm16(REFERENCE)), 0.04),
        (fmt_chunk(6, 1, 8000, 8), alaw_encode(float_to_pcm16(REFERENCE)), 0.04),
    ],
)
def test_every_sample_layout_reads_back(fmt: bytes, data: bytes, tolerance: float) -> None:
    audio = read_wav(riff(fmt, data))
    assert audio.channels == 1
    assert np.allclose(audio.samples[:, 0], REFERENCE, atol=tolerance + 1e-7)


def test_stereo_and_any_rate() -> None:
    frames = np.stack([REFERENCE, -REFERENCE], axis=1)
    audio = read_wav(riff(fmt_chunk(1, 2, 44100, 16), float_to_pcm16(frames.reshape(-1))))
    assert audio.rate == 44100
    assert audio.samples.shape == (6, 2)
    assert np.allclose(audio.samples[:, 1], -REFERENCE, atol=1e-4)


def test_chunks_before_data_and_odd_padding_are_skipped() -> None:
    extra = b"LIST" + struct.pack("<I", 3) + b"abc" + b"\x00"
    audio = read_wav(riff(fmt_chunk(1, 1, 8000, 16), float_to_pcm16(REFERENCE), extra=extra))
    assert len(audio.samples) == 6


def test_the_streaming_form_reads_to_the_end() -> None:
    data = wav_header(24000) + float_to_pcm16(REFERENCE)
    assert struct.unpack_from("<I", data, 4)[0] == UNKNOWN_SIZE
    assert struct.unpack_from("<I", data, 40)[0] == UNKNOWN_SIZE
    assert len(read_wav(data).samples) == 6


def test_written_files_are_standard() -> None:
    pcm = float_to_pcm16(REFERENCE)
    data = write_wav(pcm, 22050)
    with wave.open(io.BytesIO(data)) as reader:
        assert (reader.getnchannels(), reader.getsampwidth(), reader.getframerate()) == (1, 2, 22050)
        assert reader.readframes(100) == pcm


LIES = [
    (b"", "no RIFF"),
    (b"RIFF\x00\x00\x00\x00WAVE", "no fmt"),
    (b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00", "claims"),
    (riff(fmt_chunk(1, 1, 16000, 16), b"\x00" * 10, data_size=1_000_000), "claims 1000000 bytes"),
    (riff(fmt_chunk(1, 0, 16000, 16), b""), "channels"),
    (riff(fmt_chunk(1, 200, 16000, 16), b""), "channels"),
    (riff(fmt_chunk(1, 1, 0, 16), b""), "sample rate"),
    (riff(fmt_chunk(1, 1, 2_000_000_000, 1), b""), "sample rate"),
    (riff(fmt_chunk(1, 1, 16000, 12), b""), "not supported"),
    (riff(fmt_chunk(85, 1, 16000, 16), b""), "not supported"),
    (riff(struct.pack("<HHIIHH", 1, 2, 16000, 64000, 2, 16), b""), "block align"),
    (riff(fmt_chunk(0xFFFE, 1, 16000, 16) + b"\x00" * 24, b""), "EXTENSIBLE"),
    (riff(b"\x01\x00", b""), "too short"),
    (b"RIFF\x04\x00\x00\x00WAVEdata\x00\x00\x00\x00", "no fmt"),
]


@pytest.mark.parametrize(("data", "message"), LIES)
def test_headers_that_lie_are_bad_requests(data: bytes, message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        read_wav(data)


def test_a_body_of_empty_chunks_is_refused_after_a_few_not_walked_to_the_end() -> None:
    data = b"RIFF\x00\x00\x00\x00WAVE" + (b"JUNK" + struct.pack("<I", 0)) * 1_000_000
    with pytest.raises(BadRequest, match="first 64 chunks"):
        read_wav(data)  # 8 MB: walking every chunk took seconds of CPU


def test_what_follows_fmt_and_data_is_not_read() -> None:
    trailing = b"LIST" + struct.pack("<I", 1_000_000)  # claims more than follows: never looked at
    audio = read_wav(riff(fmt_chunk(1, 1, 8000, 16), float_to_pcm16(REFERENCE)) + trailing)
    assert len(audio.samples) == 6


@settings(max_examples=300)
@given(tail=st.binary(max_size=200))
def test_arbitrary_bytes_after_a_riff_header_never_escape_as_other_errors(tail: bytes) -> None:
    try:
        audio = read_wav(b"RIFF" + struct.pack("<I", len(tail) + 4) + b"WAVE" + tail)
    except BadRequest:
        return
    assert audio.samples.ndim == 2
    assert audio.samples.size * 4 <= 8 * len(tail) + 64


@settings(max_examples=100)
@given(
    samples=st.lists(st.integers(-32768, 32767), max_size=500),
    rate=st.integers(1000, 384000),
)
def test_write_then_read_is_exact(samples: list[int], rate: int) -> None:
    pcm = np.array(samples, dtype="<i2").tobytes()
    audio = read_wav(write_wav(pcm, rate))
    assert audio.rate == rate
    assert float_to_pcm16(audio.samples[:, 0]) == pcm
