"""``response.create`` options, validated against the session configuration."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..audio import WireFormat
from ..realtime.events import Dialect
from .items import parse_item
from .parsing import (
    MODALITIES,
    ga_wire_format,
    invalid,
    optional_object,
    parse_modalities,
    reject_unknown,
    string,
    voice,
    wire_format,
)
from .state import Config, Item

#: Fields the engine accepts but that do not change what an echo model does.
_IGNORED_RESPONSE = {"metadata", "tools", "tool_choice", "prompt", "temperature"}


@dataclass(frozen=True)
class ResponseOptions:
    """``response.create`` options, validated against the session configuration."""

    voice: str
    output_format: WireFormat
    audio_out: bool
    in_conversation: bool
    inputs: list[Item] | None


def parse_response(options: Any, config: Config, dialect: Dialect) -> ResponseOptions:
    if options is None:
        options = {}
    if not isinstance(options, dict):
        raise invalid("response", options, "an object")
    # The dialects differ only in where the output voice and format live and what they are called.
    if dialect == Dialect.GA:
        known = {"audio", "output_modalities", "instructions", "conversation", "input", "max_output_tokens"}
        reject_unknown(options, {*known, *_IGNORED_RESPONSE}, "response")
        audio = optional_object(options, "audio", "response.audio")
        reject_unknown(audio, {"output"}, "response.audio")
        output = optional_object(audio, "output", "response.audio.output")
        reject_unknown(output, {"format", "voice"}, "response.audio.output")
        prefix, format_key, modalities_key = "response.audio.output", "format", "output_modalities"
        parse_format = ga_wire_format
    else:
        known = {"modalities", "voice", "output_audio_format", "instructions", "conversation", "input"}
        reject_unknown(options, {*known, "max_response_output_tokens", *_IGNORED_RESPONSE}, "response")
        output = options
        prefix, format_key, modalities_key = "response", "output_audio_format", "modalities"
        parse_format = wire_format
    chosen_voice = voice(output.get("voice", config.voice), f"{prefix}.voice", dialect)
    fmt = (
        parse_format(output[format_key], f"{prefix}.{format_key}")
        if format_key in output
        else config.output_format
    )
    modalities = options.get(modalities_key)
    audio_out = (
        config.audio_out
        if modalities is None
        else parse_modalities(modalities, f"response.{modalities_key}", MODALITIES[dialect])
    )
    if options.get("instructions") is not None:
        string(options["instructions"], "response.instructions")
    conversation = options.get("conversation", "auto")
    if conversation not in ("auto", "none"):
        raise invalid("response.conversation", conversation, "'auto' or 'none'")
    inputs = None
    if options.get("input") is not None:
        raw = options["input"]
        if not isinstance(raw, list):
            raise invalid("response.input", raw, "an array of items")
        inputs = [
            parse_item(entry, config.input_format, f"response.input[{n}]") for n, entry in enumerate(raw)
        ]
    return ResponseOptions(chosen_voice, fmt, audio_out, conversation != "none", inputs)
