"""Pure audio functions on bytes and arrays: no Flask, no I/O.

``pcm``: the Realtime wire formats, PCM16 <-> float, G.711, downmix, resampling.
``wav``: WAV read and write. ``codec``: compressed audio through PyAV, locked down.
``output``: output formats as typed records and their one validation. ``encoder``: wire audio
to the client's format, as a stream. ``formats``: input detection and streaming decoding to
wire audio. Callers import from ``speech_realtime.audio``.
"""

from .encoder import Encoder, encode_parts
from .formats import (
    CONTENT_TYPES,
    INPUT_NAMES,
    MAX_WIRE_SECONDS,
    WireAudio,
    check_layout,
    input_name,
    input_to_wire,
    sniff,
)
from .output import (
    AZURE_OUTPUT_FORMATS,
    OUTPUT_NAMES,
    Codec,
    Container,
    OutputFormat,
    azure_output_format,
    output_format,
)
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
    "AZURE_OUTPUT_FORMATS",
    "CONTENT_TYPES",
    "G711_ALAW",
    "G711_ULAW",
    "INPUT_NAMES",
    "MAX_WIRE_SECONDS",
    "MIN_COMMIT_SECONDS",
    "OUTPUT_NAMES",
    "PCM16",
    "WIRE_FORMATS",
    "Codec",
    "Container",
    "Encoder",
    "OutputFormat",
    "StreamResampler",
    "WireAudio",
    "WireFormat",
    "alaw_decode",
    "alaw_encode",
    "azure_output_format",
    "check_layout",
    "decode_wire",
    "downmix",
    "encode_parts",
    "encode_wire",
    "float_to_pcm16",
    "input_name",
    "input_to_wire",
    "output_format",
    "pcm16_to_float",
    "resample",
    "sniff",
    "ulaw_decode",
    "ulaw_encode",
]
