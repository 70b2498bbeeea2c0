"""What a synthesis client asks for: ``synthesis.context``'s output format and metadata events,
and the features the service refuses (visemes, custom voice deployments)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..audio.output import OutputFormat, azure_output_format
from ..errors import BadRequest

DEFAULT_FORMAT = "raw-16khz-16bit-mono-pcm"


@dataclass(frozen=True)
class SynthesisRequest:
    """The output for a request and which ``metadataOptions`` events the client wants."""

    output: OutputFormat
    flags: dict[str, bool]


def output_for(name: str | None) -> OutputFormat:
    """The output for an SDK format name; RIFF formats without the header the SDK writes."""
    return azure_output_format(name or DEFAULT_FORMAT).raw()


def synthesis_request(context: dict[str, Any], query: dict[str, str]) -> SynthesisRequest:
    """The request that ``context`` (its ``synthesis.context`` body, or empty) and the socket's
    query ask for; :class:`BadRequest` for what the service does not provide."""
    synthesis = context.get("synthesis") if isinstance(context.get("synthesis"), dict) else {}
    audio = synthesis.get("audio") if isinstance(synthesis.get("audio"), dict) else {}
    flags = audio.get("metadataOptions") if isinstance(audio.get("metadataOptions"), dict) else {}
    if flags.get("visemeEnabled"):
        raise BadRequest("visemes are not supported by this service")
    if query.get("deploymentId"):
        raise BadRequest("custom voice deployments are not supported by this service")
    output = output_for(audio.get("outputFormat"))
    return SynthesisRequest(output, {key: bool(value) for key, value in flags.items()})
