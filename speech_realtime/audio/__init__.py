"""Pure audio functions on bytes and arrays: no Flask, no I/O.

``pcm``: the Realtime wire formats, PCM16 <-> float, G.711, downmix, resampling.
``wav``: WAV read and write. ``codec``: compressed audio through PyAV.
``formats``: input detection and decoding, output formats and the streaming encoder.
"""

from .pcm import (
    G711_ALAW,
    G711_ULAW,
    MIN_COMMIT_SECONDS,
    PCM16,
    WIRE_FORMATS,
    StreamResampler,
    WireFormat,
    alaw_decode,
    alaw_encode,
    decode_wire,
    downmix,
    encode_wire,
    float_to_pcm16,
    pcm16_to_float,
    resample,
    ulaw_decode,
    ulaw_encode,
)

__all__ = [
    "G711_ALAW",
    "G711_ULAW",
    "MIN_COMMIT_SECONDS",
    "PCM16",
    "WIRE_FORMATS",
    "StreamResampler",
    "WireFormat",
    "alaw_decode",
    "alaw_encode",
    "decode_wire",
    "downmix",
    "encode_wire",
    "float_to_pcm16",
    "pcm16_to_float",
    "resample",
    "ulaw_decode",
    "ulaw_encode",
]
