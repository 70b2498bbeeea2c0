"""Pure audio functions: G.711, PCM16 <-> float, resampling."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from speech_realtime import audio

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    try:
        import audioop
    except ImportError:  # Python 3.13 removed it
        audioop = None

ALL_PCM = np.arange(-32768, 32768, dtype="<i2").tobytes()
pcm_bytes = st.lists(st.integers(-32768, 32767), min_size=0, max_size=2000).map(
    lambda xs: np.array(xs, dtype="<i2").tobytes()
)


@pytest.mark.skipif(audioop is None, reason="audioop (the reference) needs Python < 3.13")
def test_g711_is_bit_exact_with_the_reference_for_every_sample() -> None:
    assert audio.ulaw_encode(ALL_PCM) == audioop.lin2ulaw(ALL_PCM, 2)
    assert audio.alaw_encode(ALL_PCM) == audioop.lin2alaw(ALL_PCM, 2)
    codes = bytes(range(256))
    assert audio.ulaw_decode(codes) == audioop.ulaw2lin(codes, 2)
    assert audio.alaw_decode(codes) == audioop.alaw2lin(codes, 2)


@pytest.mark.parametrize(
    ("encode", "decode"), [(audio.ulaw_encode, audio.ulaw_decode), (audio.alaw_encode, audio.alaw_decode)]
)
@given(pcm=pcm_bytes)
def test_g711_round_trip_error_is_within_the_quantisation_step(encode, decode, pcm: bytes) -> None:
    original = np.frombuffer(pcm, dtype="<i2").astype(np.int64)
    coded = encode(pcm)
    assert len(coded) == len(original)
    back = np.frombuffer(decode(coded), dtype="<i2").astype(np.int64)
    error = np.abs(back - original)
    # Logarithmic companding: the step grows with the magnitude, about 1/16 of it, at most 1024.
    assert np.all(error <= np.maximum(np.abs(original) / 16, 16) + 8)


@pytest.mark.parametrize(
    ("encode", "decode"), [(audio.ulaw_encode, audio.ulaw_decode), (audio.alaw_encode, audio.alaw_decode)]
)
def test_g711_codes_survive_decode_then_encode(encode, decode) -> None:
    codes = bytes(range(256))
    again = encode(decode(codes))
    same = [a == b or decode(bytes([a])) == decode(bytes([b])) for a, b in zip(codes, again, strict=True)]
    assert all(same)


@given(pcm=pcm_bytes)
def test_pcm16_float_round_trip_is_exact(pcm: bytes) -> None:
    assert audio.float_to_pcm16(audio.pcm16_to_float(pcm)) == pcm


def test_float_to_pcm16_clips() -> None:
    assert np.frombuffer(audio.float_to_pcm16(np.array([2.0, -2.0])), "<i2").tolist() == [32767, -32768]


@pytest.mark.parametrize(("src", "dst"), [(24000, 16000), (22050, 24000), (8000, 16000), (48000, 8000)])
def test_resample_length_and_tone(src: int, dst: int) -> None:
    t = np.arange(src) / src
    tone = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    out = audio.resample(tone, src, dst)
    assert abs(len(out) - dst) <= 1
    expected = 0.5 * np.sin(2 * np.pi * 440 * np.arange(len(out)) / dst)
    middle = slice(len(out) // 10, -len(out) // 10)
    assert np.corrcoef(out[middle], expected[middle])[0, 1] > 0.999


def test_stream_resampler_matches_whole_signal_resampling() -> None:
    signal = np.random.default_rng(1).standard_normal(22050).astype(np.float32) * 0.1
    stream = audio.StreamResampler(22050, 24000)
    pieces = [stream.push(signal[i : i + 1000]) for i in range(0, len(signal), 1000)]
    pieces.append(stream.push(np.zeros(0, np.float32), last=True))
    streamed = np.concatenate(pieces)
    whole = audio.resample(signal, 22050, 24000)
    assert abs(len(streamed) - len(whole)) <= 1
    n = min(len(streamed), len(whole))
    assert np.max(np.abs(streamed[:n] - whole[:n])) < 0.01


def test_wire_formats_describe_the_realtime_api() -> None:
    assert audio.PCM16.bytes_per_second == 48000
    assert audio.G711_ULAW.duration(bytes(800)) == 0.1
    samples = np.zeros(80, np.float32)
    assert audio.decode_wire(audio.encode_wire(samples, audio.G711_ALAW), audio.G711_ALAW).shape == (80,)
