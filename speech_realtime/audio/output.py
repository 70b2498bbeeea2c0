"""Output formats as typed records, and the one validation every output goes through.

An :class:`OutputFormat` says what the client gets (codec, container, rate, bit rate, MIME type)
and what to ask of the Realtime session for it (:attr:`OutputFormat.upstream`). Every way of
naming an output (a format name and rate, an Azure Speech output-format name, an OpenAI
``response_format``) ends in :func:`output_format`, which checks the rate against the range and
the codec's rates and the bit rate against the codec's bit rates, so a bad output is a
:class:`BadRequest` before any upstream session is opened, never a crash or a huge allocation.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum

from ..errors import BadRequest
from .pcm import G711_ALAW, G711_ULAW, PCM16, WireFormat


class Codec(str, Enum):
    """How samples are coded."""

    PCM = "pcm"  # 16-bit little-endian
    MULAW = "mulaw"  # G.711 mu-law
    ALAW = "alaw"  # G.711 A-law
    MP3 = "mp3"
    OPUS = "opus"
    FLAC = "flac"
    AAC = "aac"  # AAC-LC
    G722 = "g722"  # G.722 at 64 kbit/s


class Container(str, Enum):
    """What wraps the coded samples.

    ``RAW`` is the codec's own stream with nothing added (bare PCM or G.711 samples; MP3 frames,
    FLAC's native stream, AAC in ADTS, a G.722 bit stream: formats that frame themselves).
    """

    RAW = "raw"
    WAV = "wav"  # RIFF/WAVE header written by the service
    OGG = "ogg"
    WEBM = "webm"


MIN_OUTPUT_RATE, MAX_OUTPUT_RATE = 8000, 48000
_MPEG1 = (32000, 44100, 48000)
_MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, *_MPEG1)
_MP3_KBPS_MPEG1 = (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
_MP3_KBPS_MPEG2 = (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)


@dataclass(frozen=True)
class _CodecRules:
    """What a codec allows: its containers, rates (``None``: any in range), bit rates."""

    containers: tuple[Container, ...]
    default_rate: int
    rates: tuple[int, ...] | None = None
    default_bit_rate: int | None = None
    bit_rates: tuple[int, int] | None = None  # inclusive range in bit/s; None: no bit rate


_RULES = {
    Codec.PCM: _CodecRules((Container.RAW, Container.WAV), 24000),
    Codec.MULAW: _CodecRules((Container.RAW, Container.WAV), 8000),
    Codec.ALAW: _CodecRules((Container.RAW, Container.WAV), 8000),
    Codec.MP3: _CodecRules((Container.RAW,), 24000, _MP3_RATES, 48000, (8000, 320000)),
    Codec.OPUS: _CodecRules(
        (Container.OGG, Container.WEBM), 48000, (8000, 12000, 16000, 24000, 48000), 32000, (6000, 256000)
    ),
    Codec.FLAC: _CodecRules((Container.RAW,), 24000),
    Codec.AAC: _CodecRules((Container.RAW,), 24000, _MP3_RATES, 64000, (16000, 256000)),
    Codec.G722: _CodecRules((Container.RAW,), 16000, (16000,), 64000, (64000, 64000)),
}

_MIMES = {
    (Codec.PCM, Container.RAW): "audio/pcm",
    (Codec.MULAW, Container.RAW): "audio/basic",
    (Codec.ALAW, Container.RAW): "audio/x-alaw-basic",
    (Codec.MP3, Container.RAW): "audio/mpeg",
    (Codec.FLAC, Container.RAW): "audio/flac",
    (Codec.AAC, Container.RAW): "audio/aac",
    (Codec.G722, Container.RAW): "audio/G722",
    (Codec.OPUS, Container.OGG): "audio/ogg",
    (Codec.OPUS, Container.WEBM): "audio/webm",
}


@dataclass(frozen=True)
class OutputFormat:
    """An output encoding: build it with :func:`output_format` (or the Azure/OpenAI lookups),
    which validates it; a record made directly is not checked."""

    codec: Codec
    container: Container
    rate: int
    bit_rate: int | None = None

    @property
    def mime(self) -> str:
        return "audio/wav" if self.container is Container.WAV else _MIMES[self.codec, self.container]

    @property
    def upstream(self) -> WireFormat:
        """G.711 straight from the upstream when the client wants 8 kHz G.711, else PCM16 24 kHz."""
        if self.rate == 8000 and self.codec is Codec.MULAW:
            return G711_ULAW
        if self.rate == 8000 and self.codec is Codec.ALAW:
            return G711_ALAW
        return PCM16

    def raw(self) -> OutputFormat:
        """The same samples without a container header the client writes itself (a RIFF header,
        which the Azure Speech SDK adds on its side); formats that frame themselves stay as they are."""
        return replace(self, container=Container.RAW) if self.container is Container.WAV else self


#: Names users give output formats: (codec, container).
OUTPUT_NAMES: dict[str, tuple[Codec, Container]] = {
    "pcm": (Codec.PCM, Container.RAW),
    "pcm16": (Codec.PCM, Container.RAW),
    "raw": (Codec.PCM, Container.RAW),
    "wav": (Codec.PCM, Container.WAV),
    "riff": (Codec.PCM, Container.WAV),
    "mulaw": (Codec.MULAW, Container.RAW),
    "g711_ulaw": (Codec.MULAW, Container.RAW),
    "ulaw": (Codec.MULAW, Container.RAW),
    "pcmu": (Codec.MULAW, Container.RAW),
    "alaw": (Codec.ALAW, Container.RAW),
    "g711_alaw": (Codec.ALAW, Container.RAW),
    "pcma": (Codec.ALAW, Container.RAW),
    "mp3": (Codec.MP3, Container.RAW),
    "opus": (Codec.OPUS, Container.OGG),
    "ogg": (Codec.OPUS, Container.OGG),
    "webm": (Codec.OPUS, Container.WEBM),
    "flac": (Codec.FLAC, Container.RAW),
    "aac": (Codec.AAC, Container.RAW),
    "g722": (Codec.G722, Container.RAW),
}


def _shown(name: object) -> str:
    """A client-supplied name for an error message: quoted and never long."""
    text = str(name)
    return repr(text if len(text) <= 60 else text[:60] + "...")


def _check_rate(codec: Codec, rate: int, rules: _CodecRules, param: str) -> None:
    if isinstance(rate, bool) or not isinstance(rate, int):
        raise BadRequest("the sample rate must be an integer", code="invalid_sample_rate", param=param)
    if not MIN_OUTPUT_RATE <= rate <= MAX_OUTPUT_RATE:
        raise BadRequest(
            f"the output sample rate must be {MIN_OUTPUT_RATE} to {MAX_OUTPUT_RATE}, not {rate}",
            code="invalid_sample_rate",
            param=param,
        )
    if rules.rates is not None and rate not in rules.rates:
        raise BadRequest(
            f"{codec.value} supports sample rates {', '.join(map(str, rules.rates))}, not {rate}",
            code="invalid_sample_rate",
            param=param,
        )


def _check_bit_rate(codec: Codec, rate: int, bit_rate: int | None, rules: _CodecRules) -> int | None:
    if bit_rate is None:
        return rules.default_bit_rate
    if rules.bit_rates is None:
        raise BadRequest(f"{codec.value} takes no bit rate", code="invalid_bit_rate", param="format")
    low, high = rules.bit_rates
    allowed: tuple[int, ...] | None = None
    if codec is Codec.MP3:
        allowed = tuple(k * 1000 for k in (_MP3_KBPS_MPEG1 if rate in _MPEG1 else _MP3_KBPS_MPEG2))
    if (
        isinstance(bit_rate, bool)
        or not isinstance(bit_rate, int)
        or not low <= bit_rate <= high
        or (allowed is not None and bit_rate not in allowed)
    ):
        valid = (
            ", ".join(f"{b // 1000}" for b in allowed) + " kbit/s"
            if allowed
            else f"{low // 1000} to {high // 1000} kbit/s"
        )
        raise BadRequest(
            f"{codec.value} at {rate} Hz supports bit rates {valid}, not {bit_rate}",
            code="invalid_bit_rate",
            param="format",
        )
    return bit_rate


def output_format(
    name: str | None, rate: int | None = None, bit_rate: int | None = None, *, rate_param: str = "rate"
) -> OutputFormat:
    """The output a format name, rate and bit rate (bit/s) name, checked.

    ``None`` name: PCM16 24 kHz; ``None`` rate or bit rate: the codec's default. Errors are
    :class:`BadRequest` with ``param="format"`` (name, bit rate) or ``rate_param`` (rate).
    """
    key = OUTPUT_NAMES.get((name or "pcm").strip().lower()) if isinstance(name, str | None) else None
    if key is None:
        raise BadRequest(
            f"unsupported output format {_shown(name)}; valid: {', '.join(OUTPUT_NAMES)}",
            code="invalid_format",
            param="format",
        )
    return _validated(*key, rate, bit_rate, rate_param)


def _validated(
    codec: Codec, container: Container, rate: int | None, bit_rate: int | None, rate_param: str
) -> OutputFormat:
    """The one validation every output format goes through."""
    rules = _RULES[codec]
    if container not in rules.containers:
        raise BadRequest(
            f"{codec.value} cannot be sent in {container.value}", code="invalid_format", param="format"
        )
    rate = rules.default_rate if rate is None else rate
    _check_rate(codec, rate, rules, rate_param)
    return OutputFormat(codec, container, rate, _check_bit_rate(codec, rate, bit_rate, rules))


# -- Azure Speech output-format names ----------------------------------------------------------


def _azure_table() -> dict[str, tuple[str, int, int | None]]:
    """Azure name -> (output_format name, rate, bit rate) for every name the service can produce."""
    table: dict[str, tuple[str, int, int | None]] = {}
    for label, rate in (("8khz", 8000), ("16khz", 16000), ("22050hz", 22050), ("24khz", 24000),
                        ("44100hz", 44100), ("48khz", 48000)):  # fmt: skip
        table[f"raw-{label}-16bit-mono-pcm"] = ("pcm", rate, None)
        table[f"riff-{label}-16bit-mono-pcm"] = ("wav", rate, None)
    for law in ("mulaw", "alaw"):
        table[f"raw-8khz-8bit-mono-{law}"] = (law, 8000, None)
        table[f"riff-8khz-8bit-mono-{law}"] = (f"riff-{law}", 8000, None)
    for khz, kbits in ((16, (32, 64, 128)), (24, (48, 96, 160)), (48, (96, 192))):
        for kbit in kbits:
            table[f"audio-{khz}khz-{kbit}kbitrate-mono-mp3"] = ("mp3", khz * 1000, kbit * 1000)
    for khz in (16, 24, 48):
        table[f"ogg-{khz}khz-16bit-mono-opus"] = ("ogg", khz * 1000, None)
    for khz in (16, 24):
        table[f"webm-{khz}khz-16bit-mono-opus"] = ("webm", khz * 1000, None)
    table["webm-24khz-16bit-24kbps-mono-opus"] = ("webm", 24000, 24000)
    table["g722-16khz-64kbps"] = ("g722", 16000, 64000)
    return table


_RIFF_LAWS = {"riff-mulaw": (Codec.MULAW, Container.WAV), "riff-alaw": (Codec.ALAW, Container.WAV)}


def _build(name: str, rate: int, bit_rate: int | None) -> OutputFormat:
    codec, container = _RIFF_LAWS.get(name) or OUTPUT_NAMES[name]
    return _validated(codec, container, rate, bit_rate, "format")


_AZURE = {azure: _build(*spec) for azure, spec in _azure_table().items()}
#: Every Azure Speech output-format name (``X-Microsoft-OutputFormat``, the SDK's
#: ``SpeechSynthesisOutputFormat`` strings) the service produces. Not produced: ``truesilk``,
#: ``siren``, ``amr-wb`` and the ``audio-*-opus`` (bare Opus packet) formats.
AZURE_OUTPUT_FORMATS: tuple[str, ...] = tuple(_AZURE)


def azure_output_format(name: str) -> OutputFormat:
    """The output an Azure Speech output-format name stands for (case-insensitive).

    Only the listed names are accepted, so a rate or bit rate can never come from the client's
    digits; anything else is a :class:`BadRequest` (``param="format"``) naming the format.
    """
    output = _AZURE.get(name.strip().lower()) if isinstance(name, str) else None
    if output is None:
        raise BadRequest(
            f"unsupported output format {_shown(name)}; supported: {', '.join(AZURE_OUTPUT_FORMATS)}",
            code="invalid_format",
            param="format",
        )
    return output
