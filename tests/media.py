"""Test audio: signals with structure to correlate against, and real files made with PyAV."""

from __future__ import annotations

import io

import av
import numpy as np


def signal(seconds: float, rate: int) -> np.ndarray:
    """A chirp with a tremolo: no two windows alike, so alignment and correlation are meaningful."""
    t = np.arange(int(seconds * rate)) / rate
    chirp = np.sin(2 * np.pi * (200 * t + 300 * t * t / seconds))
    return (0.4 * chirp * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)


def encode_file(container: str, codec: str, samples: np.ndarray, rate: int, layout: str = "mono") -> bytes:
    """A complete file (seekable muxing, as a phone or browser would write it)."""
    out = io.BytesIO()
    with av.open(out, "w", format=container) as muxer:
        stream = muxer.add_stream(codec, rate=rate, layout=layout, options={"strict": "experimental"})
        context = stream.codec_context
        resampler = av.AudioResampler(
            format=context.format.name, layout=layout, rate=rate, frame_size=context.frame_size or None
        )
        channels = 2 if layout == "stereo" else 1
        planar = np.tile(samples, (channels, 1)) if channels == 2 else samples.reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(planar, dtype=np.float32), format="fltp", layout=layout
        )
        frame.sample_rate = rate
        frame.pts = 0
        for converted in [*resampler.resample(frame), *resampler.resample(None)]:
            for packet in stream.encode(converted):
                muxer.mux(packet)
        for packet in stream.encode(None):
            muxer.mux(packet)
    return out.getvalue()


def best_correlation(reference: np.ndarray, candidate: np.ndarray, max_lag: int) -> tuple[float, int]:
    """(correlation coefficient, lag) of ``candidate`` against ``reference`` at its best lag.

    The lag (``candidate`` delayed by 0 to ``max_lag`` samples, as codecs delay) is found by FFT
    cross-correlation; the coefficient is then computed at that lag.
    """
    n = min(len(reference), len(candidate) - max_lag)
    size = 1 << int(np.ceil(np.log2(n + max_lag + 1)))
    spectrum = np.fft.rfft(candidate[: n + max_lag], size) * np.conj(np.fft.rfft(reference[:n], size))
    lag = int(np.argmax(np.fft.irfft(spectrum, size)[: max_lag + 1]))
    return float(np.corrcoef(reference[:n], candidate[lag : lag + n])[0, 1]), lag
