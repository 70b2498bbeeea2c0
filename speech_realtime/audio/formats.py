"""Audio as users send and want it: input detection and decoding, output formats and encoding.

Input is identified by its content (RIFF, OggS, fLaC, ID3 or MPEG sync, EBML, ``ftyp``, ADTS),
not by its label; a label is needed only for raw samples, which carry no signature. Output
formats come from a format name and rate, or from Azure Speech's ``X-Microsoft-OutputFormat``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from ..errors import BadRequest, UnsupportedMedia
from .codec import StreamEncoder, decode_compressed
from .pcm import (
    G711_ALAW,
    G711_ULAW,
    PCM16,
    StreamResampler,
    WireFormat,
    alaw_decode,
    decode_wire,
    downmix,
    encode_wire,
    float_to_pcm16,
    pcm16_to_float,
    resample,
    ulaw_decode,
)
from .wav import MAX_CHANNELS, MAX_RATE, MIN_RATE, read_wav, wav_header

MIN_OUTPUT_RATE, MAX_OUTPUT_RATE = 8000, 48000

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
            f"unsupported format {name!r}; valid: {', '.join(INPUT_NAMES)}", code="invalid_format"
        )
    return key


@dataclass(frozen=True)
class DecodedInput:
    """What an input turned out to be.

    ``wire`` is set when the input already is a Realtime wire format (PCM16 at 24 kHz, G.711 at
    8 kHz, mono) and goes upstream untouched; its samples are then decoded only if asked for.
    """

    rate: int
    detected: str
    wire: tuple[bytes, WireFormat] | None = None
    decoded: np.ndarray | None = field(default=None, repr=False)

    @cached_property
    def samples(self) -> np.ndarray:
        """Mono float32 at :attr:`rate`."""
        if self.decoded is not None:
            return self.decoded
        assert self.wire is not None
        return decode_wire(*self.wire)

    @property
    def duration(self) -> float:
        return self.wire[1].duration(self.wire[0]) if self.wire else len(self.samples) / self.rate


def _raw(data: bytes, encoding: str, rate: int | None, channels: int) -> DecodedInput:
    rate = rate or RAW_ENCODINGS[encoding]
    width = 2 if encoding.startswith("pcm16") else 1
    if len(data) % (width * channels):
        raise BadRequest(
            f"{encoding} audio must be whole {width * channels}-byte frames; got {len(data)} bytes",
            code="invalid_audio",
        )
    wire_format = {"g711_ulaw": G711_ULAW, "g711_alaw": G711_ALAW}.get(encoding, PCM16)
    if channels == 1 and encoding != "pcm16be" and rate == wire_format.sample_rate:
        return DecodedInput(rate, encoding, wire=(data, wire_format))
    if encoding == "pcm16be":
        data = np.frombuffer(data, dtype=">i2").astype("<i2").tobytes()
    pcm = {"g711_ulaw": ulaw_decode, "g711_alaw": alaw_decode}.get(encoding, lambda d: d)(data)
    return DecodedInput(rate, encoding, decoded=downmix(pcm16_to_float(pcm).reshape(-1, channels)))


def decode_input(
    data: bytes, label: str | None, *, rate: int | None = None, channels: int = 1
) -> DecodedInput:
    """Decode audio bytes; the content's signature wins over ``label`` (a format name).

    :class:`BadRequest` for malformed audio or bad parameters, :class:`UnsupportedMedia` for bytes
    that are not audio or cannot be decoded.
    """
    if rate is not None and not MIN_RATE <= rate <= MAX_RATE:
        raise BadRequest(
            f"sampleRate {rate} is out of range ({MIN_RATE} to {MAX_RATE})", code="invalid_sample_rate"
        )
    if not 1 <= channels <= MAX_CHANNELS:
        raise BadRequest(
            f"channels {channels} is out of range (1 to {MAX_CHANNELS})", code="invalid_channels"
        )
    if not data:
        raise BadRequest("the audio is empty", code="audio_too_short")
    detected = sniff(data, weak=label not in RAW_ENCODINGS)
    if detected == "wav":
        wav = read_wav(data)
        return DecodedInput(wav.rate, "wav", decoded=downmix(wav.samples))
    if detected is not None:
        samples, decoded_rate = decode_compressed(data)
        return DecodedInput(decoded_rate, detected, decoded=samples)
    if label in RAW_ENCODINGS:
        return _raw(data, label, rate, channels)
    if label:
        samples, decoded_rate = decode_compressed(data)
        return DecodedInput(decoded_rate, label, decoded=samples)
    raise UnsupportedMedia(
        "the audio format is not recognisable from its content; name it (format, or the Content-Type)",
        code="unsupported_media_type",
    )


def to_wire(audio: DecodedInput) -> tuple[bytes, WireFormat]:
    """Audio as the Realtime API takes it: the input itself if it already is, else PCM16 24 kHz."""
    if audio.wire is not None:
        return audio.wire
    return float_to_pcm16(resample(audio.samples, audio.rate, PCM16.sample_rate)), PCM16


# -- output ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutputFormat:
    """An output encoding at a rate, with what to label it and what to ask of the upstream."""

    codec: str
    rate: int
    mime: str
    bit_rate: int | None = None

    @property
    def upstream(self) -> WireFormat:
        """G.711 straight from the upstream when the client wants 8 kHz G.711, else PCM16 24 kHz."""
        if self.rate == 8000 and self.codec in ("mulaw", "alaw"):
            return G711_ULAW if self.codec == "mulaw" else G711_ALAW
        return PCM16


#: codec -> (default rate, MIME type, container, FFmpeg encoder, default bit rate)
OUTPUT_CODECS: dict[str, tuple[int, str, str | None, str | None, int | None]] = {
    "pcm": (24000, "audio/pcm", None, None, None),
    "wav": (24000, "audio/wav", None, None, None),
    "mulaw": (8000, "audio/basic", None, None, None),
    "alaw": (8000, "audio/x-alaw-basic", None, None, None),
    "mp3": (24000, "audio/mpeg", "mp3", "libmp3lame", 48000),
    "opus": (48000, "audio/ogg", "ogg", "libopus", 32000),
    "flac": (24000, "audio/flac", "flac", "flac", None),
    "aac": (24000, "audio/aac", "adts", "aac", 64000),
}
OUTPUT_NAMES = {
    **{name: name for name in OUTPUT_CODECS},
    "pcm16": "pcm",
    "raw": "pcm",
    "riff": "wav",
    "g711_ulaw": "mulaw",
    "ulaw": "mulaw",
    "pcmu": "mulaw",
    "g711_alaw": "alaw",
    "pcma": "alaw",
    "ogg": "opus",
}
OPUS_RATES = (8000, 12000, 16000, 24000, 48000)
MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
AAC_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)


def output_format(name: str | None, rate: int | None = None) -> OutputFormat:
    """The output for a format name and rate; :class:`BadRequest` naming what is allowed."""
    codec = OUTPUT_NAMES.get((name or "pcm").strip().lower())
    if codec is None:
        valid = ", ".join(OUTPUT_CODECS)
        raise BadRequest(f"unsupported output format {name!r}; valid: {valid}", code="invalid_format")
    default_rate, mime, _, _, bit_rate = OUTPUT_CODECS[codec]
    rate = default_rate if rate is None else rate
    if not MIN_OUTPUT_RATE <= rate <= MAX_OUTPUT_RATE:
        raise BadRequest(f"sampleRate must be 8000 to 48000, not {rate}", code="invalid_sample_rate")
    allowed = {"opus": OPUS_RATES, "mp3": MP3_RATES, "aac": AAC_RATES}.get(codec)
    if allowed and rate not in allowed:
        raise BadRequest(
            f"{codec} supports sampleRate {', '.join(map(str, allowed))}, not {rate}",
            code="invalid_sample_rate",
        )
    return OutputFormat(codec, rate, mime, bit_rate)


_AZURE_RAW = re.compile(r"^(raw|riff)-(\d+)(khz|hz)-(8|16)bit-mono-(pcm|mulaw|alaw)$")
_AZURE_MP3 = re.compile(r"^audio-(\d+)khz-(\d+)kbitrate-mono-mp3$")
_AZURE_OPUS = re.compile(r"^ogg-(\d+)khz-16bit-mono-opus$")


def _khz(value: str, unit: str) -> int:
    rate = int(value) * (1000 if unit == "khz" else 1)
    return 44100 if rate == 44000 else 22050 if rate == 22000 else rate


def azure_output_format(header: str) -> OutputFormat:
    """The output an Azure Speech ``X-Microsoft-OutputFormat`` value names."""
    value = header.strip().lower()
    if match := _AZURE_RAW.match(value):
        kind, number, unit, bits, codec = match.groups()
        if (codec == "pcm") != (bits == "16"):
            raise BadRequest(f"unsupported X-Microsoft-OutputFormat {header!r}", code="invalid_format")
        rate = _khz(number, unit)
        if kind == "riff":
            return OutputFormat("wav" if codec == "pcm" else f"wav-{codec}", rate, "audio/wav")
        return output_format(codec, rate)
    if match := _AZURE_MP3.match(value):
        return OutputFormat("mp3", _khz(match.group(1), "khz"), "audio/mpeg", int(match.group(2)) * 1000)
    if match := _AZURE_OPUS.match(value):
        return output_format("opus", _khz(match.group(1), "khz"))
    raise BadRequest(
        f"unsupported X-Microsoft-OutputFormat {header!r}; supported: raw-*/riff-* (pcm, mulaw, alaw), "
        "audio-*-mono-mp3, ogg-*-16bit-mono-opus",
        code="invalid_format",
    )


class Encoder:
    """Upstream wire audio in, the client's format out, chunk by chunk.

    ``streaming`` selects the WAV form with unknown sizes (0xFFFFFFFF), which players accept for
    a body of unknown length; otherwise :meth:`finish` returns a WAV with exact sizes.
    """

    def __init__(self, output: OutputFormat, source: WireFormat, *, streaming: bool) -> None:
        self.output = output
        self._source = source
        self._streaming = streaming
        self._resampler = StreamResampler(source.sample_rate, output.rate)
        self._compressed: StreamEncoder | None = None
        self._header_sent = False
        self._body: list[bytes] = []
        codec = output.codec
        if codec in ("mp3", "opus", "flac", "aac"):
            _, _, container, encoder, _ = OUTPUT_CODECS[codec]
            self._compressed = StreamEncoder(
                container or codec, encoder or codec, output.rate, output.bit_rate
            )
        self._passthrough = source is not PCM16 and output.upstream is source

    def push(self, wire: bytes, *, last: bool = False) -> bytes:
        if self._passthrough:
            return wire
        samples = self._resampler.push(decode_wire(wire, self._source), last=last)
        if self._compressed is not None:
            return self._compressed.push(samples)
        data = self._raw(samples)
        if self.output.codec.startswith("wav"):
            if not self._streaming:
                self._body.append(data)
                return b""
            if not self._header_sent:
                self._header_sent = True
                data = self._wav_header(None) + data
        return data

    def finish(self) -> bytes:
        """The end of the output (for a whole WAV file: all of it)."""
        tail = self.push(b"", last=True)
        if self._compressed is not None:
            return tail + self._compressed.finish()
        if self.output.codec.startswith("wav") and not self._streaming:
            body = b"".join(self._body)
            return self._wav_header(len(body)) + body
        if self.output.codec.startswith("wav") and not self._header_sent:
            self._header_sent = True
            return self._wav_header(None) + tail
        return tail

    def _raw(self, samples: np.ndarray) -> bytes:
        codec = self.output.codec.removeprefix("wav-")
        if codec == "mulaw":
            return encode_wire(samples, G711_ULAW)
        if codec == "alaw":
            return encode_wire(samples, G711_ALAW)
        return float_to_pcm16(samples)

    def _wav_header(self, size: int | None) -> bytes:
        codec = self.output.codec
        if codec == "wav":
            return wav_header(self.output.rate, 1, 16, size)
        tag = 7 if codec == "wav-mulaw" else 6
        return wav_header(self.output.rate, 1, 8, size, tag=tag)


def encode_all(output: OutputFormat, source: WireFormat, wire: bytes) -> bytes:
    """The whole of ``wire`` audio in the output format."""
    encoder = Encoder(output, source, streaming=False)
    return encoder.push(wire) + encoder.finish()
