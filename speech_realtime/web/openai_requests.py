"""The ``/v1`` audio requests' fields, read and checked with OpenAI's names, limits and messages.

Fields come from a JSON body (speech) or multipart form fields, which are text (transcriptions);
every check runs before any upstream session opens.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from flask import request

from ..audio import output_format
from ..errors import BadRequest
from ..options import RecognitionOptions, Segmentation, SynthesisOptions, clamp_speed
from .contract import openai as contract
from .contract.fields import Field
from .inputs import Upload, UploadFields, upload

_CHUNK_FIELDS = ("type", "prefix_padding_ms", "silence_duration_ms", "threshold")
#: A multipart ``file`` (a raw audio body also works); no JSON upload, no format/rate fields.
_UPLOAD = UploadFields(data=None, file=contract.FILE, format=None, rate=None, channels=None)


def _string(value: Any, spec: Field) -> str | None:
    name, required = spec.name, spec.required
    if value is None or (value == "" and not required):
        if required:
            raise BadRequest(
                f"you must provide the '{name}' parameter", code="missing_required_parameter", param=name
            )
        return None
    if not isinstance(value, str):
        raise BadRequest(f"'{name}' must be a string", code="invalid_type", param=name)
    return value


def _number(value: Any, spec: Field) -> float | None:
    """A number within the field's bounds from JSON or a form field (text); None when absent."""
    name, (low, high) = spec.name, spec.bounds
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise BadRequest(
                f"'{name}' must be a number, not {value!r}", code="invalid_type", param=name
            ) from None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BadRequest(f"'{name}' must be a number", code="invalid_type", param=name)
    if not low <= value <= high:
        raise BadRequest(
            f"'{name}' must be between {low:g} and {high:g}, not {value:g}", code="invalid_value", param=name
        )
    return float(value)


def _one_of(value: str, spec: Field) -> str:
    name, allowed = spec.name, spec.enum
    if value not in allowed:
        raise BadRequest(
            f"'{value}' is not one of {', '.join(allowed)} - '{name}'", code="invalid_value", param=name
        )
    return value


def _choice(value: Any, spec: Field) -> str:
    return _one_of(_string(value, spec) or spec.default, spec)


def _flag(value: Any, spec: Field) -> bool:
    """A boolean from JSON or a form field (``true``/``false``)."""
    name = spec.name
    if value is None or value == "" or isinstance(value, bool):
        return bool(value)
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    raise BadRequest(f"'{name}' must be true or false, not {value!r}", code="invalid_type", param=name)


# -- speech ------------------------------------------------------------------------------------


def _voice(value: Any) -> str | None:
    """A voice name, or a voice object ``{"id": name}`` naming one of the built-in voices."""
    if isinstance(value, dict):
        value = value.get("id")
    return _string(value, contract.VOICE)


def speech_request(body: dict[str, Any]) -> tuple[str, SynthesisOptions, str, float]:
    """The text, the options, the stream format and the speed asked for."""
    _string(body.get(contract.MODEL.name), contract.MODEL)
    text = _string(body.get(contract.INPUT.name), contract.INPUT)
    if not text.strip():
        raise BadRequest("'input' is empty", code="empty_text", param="input")
    limit = contract.INPUT.max_length
    if len(text) > limit:
        raise BadRequest(
            f"'input' has {len(text)} characters; the maximum is {limit}",
            code="string_above_max_length",
            param="input",
        )
    name = _choice(body.get(contract.SPEECH_FORMAT.name), contract.SPEECH_FORMAT)
    speed = _number(body.get(contract.SPEED.name), contract.SPEED)
    asked = 1.0 if speed is None else speed
    options = SynthesisOptions(
        voice=_voice(body.get(contract.VOICE.name)),
        output=output_format(name),
        speed=clamp_speed(asked),
        instructions=_string(body.get(contract.INSTRUCTIONS.name), contract.INSTRUCTIONS),
    )
    stream_format = _choice(body.get(contract.STREAM_FORMAT.name), contract.STREAM_FORMAT)
    return text, options, stream_format, asked


# -- transcriptions ----------------------------------------------------------------------------


@dataclass(frozen=True)
class TranscriptionRequest:
    audio: Upload
    options: RecognitionOptions
    response_format: str
    granularities: tuple[str, ...]
    stream: bool


def _listed(name: str) -> list[str]:
    """A multipart list field: ``name[]`` repeated (as the SDKs send it) or ``name``."""
    return request.form.getlist(f"{name}[]") or request.form.getlist(name)


def _granularities() -> tuple[str, ...]:
    spec = contract.GRANULARITIES
    return tuple(_one_of(value, spec) for value in _listed(spec.name))


def _logprobs(response_format: str, stream: bool) -> bool:
    """``include[]=logprobs``: as OpenAI documents it, only with response_format json."""
    included = [_one_of(value, contract.INCLUDE) for value in _listed(contract.INCLUDE.name)]
    if not included:
        return False
    if response_format != "json" or stream:
        raise BadRequest(
            "include[]=logprobs needs response_format json (and no stream)",
            code="invalid_value",
            param="include",
        )
    return True


def _chunking_fields(form: Any) -> dict[str, Any] | None:
    """``chunking_strategy``'s server_vad object, from JSON text or the SDK's
    ``chunking_strategy[key]`` form fields; None when absent or ``auto``."""
    name = "chunking_strategy"
    prefix = f"{name}["
    bracketed = {key[len(prefix) : -1]: value for key, value in form.items() if key.startswith(prefix)}
    if bracketed:
        return bracketed
    raw = form.get(name)
    if not raw or raw == "auto":
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        value = None
    if value == "auto":
        return None
    if not isinstance(value, dict):
        raise BadRequest(
            "'chunking_strategy' must be 'auto' or a server_vad object", code="invalid_value", param=name
        )
    return value


def _segmentation(form: Any) -> Segmentation:
    """``chunking_strategy`` as the phrase cutter's segmentation: ``auto`` (or none) is the
    default cutting at pauses; ``server_vad``'s ``silence_duration_ms`` is the pause that ends a
    phrase. ``prefix_padding_ms`` and ``threshold`` are checked but change nothing: phrases are
    cut from the whole upload, not from a live stream."""
    name = "chunking_strategy"
    value = _chunking_fields(form)
    if value is None:
        return Segmentation()
    unknown = sorted(set(value) - set(_CHUNK_FIELDS))
    if unknown:
        raise BadRequest(
            f"unknown chunking_strategy field {unknown[0]!r}", code="unknown_parameter", param=name
        )
    if value.get("type") != "server_vad":
        raise BadRequest("chunking_strategy.type must be 'server_vad'", code="invalid_value", param=name)
    _whole(value.get("prefix_padding_ms"), contract.CHUNK_PADDING)
    _number(value.get("threshold"), contract.CHUNK_THRESHOLD)
    silence = _whole(value.get("silence_duration_ms"), contract.CHUNK_SILENCE)
    try:
        return Segmentation(silence_ms=silence)
    except BadRequest as exc:
        raise BadRequest(exc.message, code="invalid_value", param=name) from None


def _whole(value: Any, spec: Field) -> int | None:
    number = _number(value, spec)
    if number is not None and not number.is_integer():
        raise BadRequest(
            f"'{spec.name}' must be a whole number of milliseconds", code="invalid_type", param=spec.name
        )
    return None if number is None else int(number)


def transcription_request() -> TranscriptionRequest:
    """The upload, the recognition options and the response fields, all checked."""
    audio = upload(_UPLOAD)
    form = audio.form
    _string(form.get(contract.MODEL.name), contract.MODEL)
    _number(form.get(contract.TEMPERATURE.name), contract.TEMPERATURE)
    response_format = _choice(form.get(contract.TRANSCRIPT_FORMAT.name), contract.TRANSCRIPT_FORMAT)
    granularities = _granularities()
    stream = _flag(form.get(contract.STREAM.name), contract.STREAM)
    # As OpenAI answers: these combinations are refused, not silently answered in another format.
    if granularities and response_format != "verbose_json":
        raise BadRequest(
            "timestamp_granularities[] needs response_format verbose_json",
            code="invalid_value",
            param="timestamp_granularities",
        )
    if stream and response_format not in ("json", "text"):
        raise BadRequest(
            f"stream=true answers transcript events; response_format {response_format} "
            "is not available with it (use json or text)",
            code="invalid_value",
            param="stream",
        )
    options = RecognitionOptions(
        language=form.get(contract.LANGUAGE.name) or None,
        prompt=form.get(contract.PROMPT.name) or None,
        segmentation=_segmentation(form),
        logprobs=_logprobs(response_format, stream),
        keywords=tuple(_listed(contract.KEYWORDS.name)),
    )
    return TranscriptionRequest(audio, options, response_format, granularities, stream)
