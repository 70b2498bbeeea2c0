"""Audio as users send and want it: the format API the service and the front ends use.

Input is identified by its content (RIFF, OggS, fLaC, ID3 or MPEG sync, EBML, ``ftyp``, ADTS),
not by its label; a label is needed only for raw samples, which carry no signature.
:func:`input_to_wire` decodes and resamples it as a stream, one bounded block at a time, into
what the Realtime API takes (PCM16 24 kHz, or G.711/PCM16 that already is a wire format, passed
through undecoded), and stops at :data:`MAX_WIRE_SECONDS` of wire audio. So a request holds its
body, at most 600 s of wire audio (28.8 MB) and a few MB of working buffers (one decoded frame,
blocks of at most :data:`BLOCK_FRAMES`), whatever the file's rate, channels or compression.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from ..errors import BadRequest, PayloadTooLarge, UnsupportedMedia
from .codec import decode_blocks
from .pcm import (
    G711_ALAW,
    G711_ULAW,
    PCM16,
    StreamResampler,
    WireFormat,
    alaw_decode,
    downmix,
    float_to_pcm16,
    pcm16_to_float,
    ulaw_decode,
)
from .wav import MAX_CHANNELS, MAX_RATE, MIN_RATE, parse_wav

__all__ = [
    "CONTENT_TYPES",
    "INPUT_NAMES",
    "MAX_WIRE_SECONDS",
    "WireAudio",
    "check_layout",
    "input_name",
    "input_to_wire",
    "sniff",
]

#: Longest audio the service takes from one request, in seconds of wire audio.
MAX_WIRE_SECONDS = 600
#: Input frames (per channel) converted at a time: bounds the working buffers of one request.
BLOCK_FRAMES = 16384

# -- input -------------------------------------------------------------------------------------

#: Raw (signature-less) encodings a label can name, and their default rates.
RAW_ENCODINGS = {"pcm16": 24000, "pcm16be": 24000, "g711_ulaw": 8000, "g711_alaw": 8000}
#: Names users give formats, to what the service calls them.
INPUT_NAMES = {
    "pcm16": "pcm16",
    "pcm": "pcm16",
    "raw": "pcm16",
    "l16": "pcm16be",
    "g711_ulaw": "g711_ulaw",
    "ulaw": "g711_ulaw",
    "mulaw": "g711_ulaw",
    "pcmu": "g711_ulaw",
    "basic": "g711_ulaw",
    "g711_alaw": "g711_alaw",
    "alaw": "g711_alaw",
    "pcma": "g711_alaw",
    "wav": "wav",
    "wave": "wav",
    "mp3": "mp3",
    "mpeg": "mp3",
    "ogg": "ogg",
    "opus": "ogg",
    "vorbis": "ogg",
    "flac": "flac",
    "webm": "webm",
    "m4a": "mp4",
    "mp4": "mp4",
    "aac": "aac",
}
#: Content types of audio bodies, to format names.
CONTENT_TYPES = {
    "audio/wav": "wav",
    "audio/wave": "wav",
    "audio/x-wav": "wav",
    "audio/vnd.wave": "wav",
    "audio/pcm": "pcm16",
    "audio/l16": "pcm16be",
    "audio/basic": "g711_ulaw",
    "audio/pcmu": "g711_ulaw",
    "audio/pcma": "g711_alaw",
    "audio/x-alaw-basic": "g711_alaw",
    "audio/mpeg": "mp3",
    "audio/mp3": "mp3",
    "audio/ogg": "ogg",
    "audio/opus": "ogg",
    "audio/flac": "flac",
    "audio/x-flac": "flac",
    "audio/webm": "webm",
    "audio/mp4": "mp4",
    "audio/m4a": "mp4",
    "audio/x-m4a": "mp4",
    "audio/aac": "aac",
    "application/octet-stream": "",
}


def sniff(data: bytes, *, weak: bool = True) -> str | None:
    """The container ``data`` starts with, or ``None`` for no known signature.

    MPEG and ADTS frame syncs are two-byte patterns that raw samples contain often (G.711
    silence is 0xFF), so they count only when ``weak`` is true.
    """
    head = data[:12]
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"OggS":
        return "ogg"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:3] == b"ID3":
        return "mp3"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "webm"
    if head[4:8] == b"ftyp":
        return "mp4"
    if not weak:
        return None
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xF6 == 0xF0:
        return "aac"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and head[1] & 0x06:
        return "mp3"
    return None


def input_name(name: str) -> str:
    """The format a user's name stands for; :class:`BadRequest` listing the valid names."""
    key = INPUT_NAMES.get(name.strip().lower())
    if key is None:
        raise BadRequest(
            f"unsupported format {name[:60]!r}; valid: {', '.join(INPUT_NAMES)}",
            code="invalid_format",
            param="format",
        )
    return key


@dataclass(frozen=True)
class WireAudio:
    """Audio as the Realtime API takes it, and what the input was (``detected``)."""

    data: bytes
    format: WireFormat
    duration: float
    detected: str


def _check_length(seconds: float) -> None:
    if seconds > MAX_WIRE_SECONDS:
        raise PayloadTooLarge(f"audio longer than {MAX_WIRE_SECONDS} seconds", param="audio")


def _to_pcm16_24k(blocks: Iterable[tuple[np.ndarray, int]]) -> bytes:
    """Mono float blocks at any rate (the rate may change between blocks) as PCM16 24 kHz.

    Small blocks (codec frames) are gathered and large ones split, so the resampler works on
    about :data:`BLOCK_FRAMES` at a time: few calls, and no slice expands past a fixed size.
    The total is checked after every slice against :data:`MAX_WIRE_SECONDS`.
    """
    out = io.BytesIO()
    written = 0
    resampler: StreamResampler | None = None
    current = 0
    pending: list[np.ndarray] = []
    held = 0

    def emit(samples: np.ndarray) -> None:
        nonlocal written
        written += len(samples)
        _check_length(written / PCM16.sample_rate)
        out.write(float_to_pcm16(samples))

    def drain(*, last: bool) -> None:
        nonlocal held
        if resampler is None:
            return
        if pending:
            emit(resampler.push(np.concatenate(pending) if len(pending) > 1 else pending[0], last=last))
            pending.clear()
            held = 0
        elif last:
            emit(resampler.push(np.zeros(0, np.float32), last=True))

    for samples, rate in blocks:
        if not MIN_RATE <= rate <= MAX_RATE:
            raise UnsupportedMedia(
                f"a sample rate of {rate} Hz is not supported", code="undecodable_audio", param="audio"
            )
        if rate != current:
            drain(last=True)
            resampler, current = StreamResampler(rate, PCM16.sample_rate), rate
        for start in range(0, len(samples), BLOCK_FRAMES):
            piece = samples[start : start + BLOCK_FRAMES]
            pending.append(piece)
            held += len(piece)
            if held >= BLOCK_FRAMES:
                drain(last=False)
    drain(last=True)
    return out.getvalue()


def _wav_blocks(data: bytes) -> Iterator[tuple[np.ndarray, int]]:
    layout = parse_wav(data)
    for start in range(0, layout.frames, BLOCK_FRAMES):
        yield downmix(layout.samples(start, min(start + BLOCK_FRAMES, layout.frames))), layout.rate


def _raw_blocks(data: bytes, encoding: str, rate: int, channels: int) -> Iterator[tuple[np.ndarray, int]]:
    width = 2 if encoding.startswith("pcm16") else 1
    step = BLOCK_FRAMES * width * channels
    decode = {"g711_ulaw": ulaw_decode, "g711_alaw": alaw_decode}.get(encoding)
    for start in range(0, len(data), step):
        piece = data[start : start + step]
        if encoding == "pcm16be":
            piece = np.frombuffer(piece, dtype=">i2").astype("<i2").tobytes()
        elif decode is not None:
            piece = decode(piece)
        yield downmix(pcm16_to_float(piece).reshape(-1, channels)), rate


def _raw(data: bytes, encoding: str, rate: int | None, channels: int) -> WireAudio:
    rate = rate or RAW_ENCODINGS[encoding]
    width = 2 if encoding.startswith("pcm16") else 1
    if len(data) % (width * channels):
        raise BadRequest(
            f"{encoding} audio must be whole {width * channels}-byte frames; got {len(data)} bytes",
            code="invalid_audio",
            param="audio",
        )
    wire_format = {"g711_ulaw": G711_ULAW, "g711_alaw": G711_ALAW}.get(encoding, PCM16)
    if channels == 1 and encoding != "pcm16be" and rate == wire_format.sample_rate:
        _check_length(wire_format.duration(data))
        return WireAudio(data, wire_format, wire_format.duration(data), encoding)
    _check_length(len(data) / (width * channels * rate))  # refused before any decoding
    wire = _to_pcm16_24k(_raw_blocks(data, encoding, rate, channels))
    return WireAudio(wire, PCM16, PCM16.duration(wire), encoding)


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_layout(rate: int | None, channels: int) -> None:
    """:class:`BadRequest` (``param`` ``rate`` or ``channels``) unless the sample rate of raw
    input (``None``: the format's own) and its channel count are whole numbers in range."""
    if rate is not None and not (_whole(rate) and MIN_RATE <= rate <= MAX_RATE):
        raise BadRequest(
            f"the sample rate {rate} is out of range ({MIN_RATE} to {MAX_RATE})",
            code="invalid_sample_rate",
            param="rate",
        )
    if not (_whole(channels) and 1 <= channels <= MAX_CHANNELS):
        raise BadRequest(
            f"the channel count {channels} is out of range (1 to {MAX_CHANNELS})",
            code="invalid_channels",
            param="channels",
        )


def input_to_wire(
    data: bytes, label: str | None = None, *, rate: int | None = None, channels: int = 1
) -> WireAudio:
    """Any input audio as wire audio; the content's signature wins over ``label`` (a format name).

    Wire formats (PCM16 24 kHz, G.711 8 kHz, mono) pass through undecoded; everything else is
    decoded, downmixed and resampled as a stream into PCM16 24 kHz. :class:`BadRequest` for
    malformed audio or bad parameters (``param`` ``rate``, ``channels``, ``audio``),
    :class:`UnsupportedMedia` for bytes that are not decodable audio, :class:`PayloadTooLarge`
    past :data:`MAX_WIRE_SECONDS`.
    """
    check_layout(rate, channels)
    if not data:
        raise BadRequest("the audio is empty", code="audio_too_short", param="audio")
    detected = sniff(data, weak=label not in RAW_ENCODINGS)
    if detected == "wav":
        blocks: Iterable[tuple[np.ndarray, int]] = _wav_blocks(data)
    elif detected is not None:
        blocks = decode_blocks(data, detected)
    elif label in RAW_ENCODINGS:
        return _raw(data, label, rate, channels)
    elif label:
        raise UnsupportedMedia(
            f"the audio is not {label[:20]}: its content has no signature of a supported format",
            code="unsupported_media_type",
            param="audio",
        )
    else:
        raise UnsupportedMedia(
            "the audio format is not recognisable from its content (raw samples need their encoding named)",
            code="unsupported_media_type",
            param="audio",
        )
    wire = _to_pcm16_24k(blocks)
    if not wire:
        raise UnsupportedMedia("the file holds no decodable audio", code="undecodable_audio", param="audio")
    return WireAudio(wire, PCM16, PCM16.duration(wire), detected)
