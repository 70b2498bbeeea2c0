"""``/api/speech-realtime``: the reference's four endpoints, bodies compatible with its clients."""

from __future__ import annotations

import base64
import binascii
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from ..audio.formats import (
    CONTENT_TYPES,
    INPUT_NAMES,
    OUTPUT_CODECS,
    OutputFormat,
    azure_output_format,
    input_name,
    output_format,
)
from ..errors import BadRequest, SpeechError, UnsupportedMedia
from ..options import RecognitionOptions, SynthesisOptions
from ..speech import Speech, SpeechService
from ..voices import ALIASES, AZURE_NAMES

log = logging.getLogger(__name__)

speech_api = Blueprint("speech_api", __name__, url_prefix="/api/speech-realtime")

_DATA_URL = re.compile(r"^data:[\w/.+-]*(;[\w=.-]+)*;base64,", re.IGNORECASE)
_WHITESPACE = re.compile(r"\s+")


def _service() -> SpeechService:
    return current_app.extensions["speech"]


def _json_body() -> dict[str, Any]:
    if not request.is_json:
        raise UnsupportedMedia(f"expected Content-Type application/json, got {request.mimetype or 'none'!r}")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object", code="invalid_json")
    return body


def _field(body: dict[str, Any], name: str, kind: type, *, required: bool = False) -> Any:
    value = body.get(name)
    if value is None:
        if required:
            raise BadRequest(f"'{name}' is required", code="missing_field")
        return None
    if not isinstance(value, kind) or isinstance(value, bool):
        raise BadRequest(f"'{name}' must be a {kind.__name__}", code="invalid_field")
    return value


def _integer(value: Any, name: str) -> int | None:
    """An integer parameter that may arrive as a JSON number or as text (form field, MIME param)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise BadRequest(f"'{name}' must be an integer", code="invalid_field")
    try:
        return int(value)
    except ValueError:
        raise BadRequest(f"'{name}' must be an integer, not {value!r}", code="invalid_field") from None


def _label(name: Any) -> str | None:
    if name is None:
        return None
    if not isinstance(name, str):
        raise BadRequest("'format' must be a string", code="invalid_field")
    return input_name(name)


def _decode_base64(data: str) -> bytes:
    data = _WHITESPACE.sub("", _DATA_URL.sub("", data, count=1))
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest("'audioData' is not valid base64", code="invalid_base64") from None


@dataclass(frozen=True)
class _Upload:
    """Audio from a request, with what the request says about it."""

    data: bytes
    label: str | None
    rate: int | None
    channels: int
    language: str | None


def _json_upload() -> _Upload:
    body = _json_body()
    audio = _decode_base64(_field(body, "audioData", str, required=True))
    return _Upload(
        audio,
        _label(body.get("format", "pcm16")),
        _integer(body.get("sampleRate"), "sampleRate"),
        _integer(body.get("channels"), "channels") or 1,
        _field(body, "language", str) or None,
    )


def _multipart_upload() -> _Upload:
    upload = request.files.get("file")
    if upload is None:
        raise BadRequest("a multipart upload needs the audio in a field named 'file'", code="missing_field")
    extension = (upload.filename or "").rsplit(".", 1)[-1] if "." in (upload.filename or "") else ""
    label = (
        request.form.get("format") or CONTENT_TYPES.get(upload.mimetype) or INPUT_NAMES.get(extension.lower())
    )
    return _Upload(
        upload.read(),
        _label(label) if label else None,
        _integer(request.form.get("sampleRate"), "sampleRate"),
        _integer(request.form.get("channels"), "channels") or 1,
        request.form.get("language") or None,
    )


def _raw_upload() -> _Upload:
    params = request.mimetype_params
    return _Upload(
        request.get_data(cache=False),
        CONTENT_TYPES.get(request.mimetype) or None,
        _integer(params.get("rate"), "rate"),
        _integer(params.get("channels"), "channels") or 1,
        request.args.get("language") or None,
    )


def _upload() -> _Upload:
    mimetype = request.mimetype
    if request.is_json:
        return _json_upload()
    if mimetype == "multipart/form-data":
        return _multipart_upload()
    if mimetype.startswith("audio/") or mimetype in CONTENT_TYPES:
        return _raw_upload()
    raise UnsupportedMedia(
        f"unsupported Content-Type {mimetype or 'none'!r}: send JSON with base64 'audioData', "
        "an audio/* body, or a multipart upload with a 'file' field"
    )


@speech_api.post("/recognize")
def recognize() -> Response:
    upload = _upload()
    result = _service().recognize_media(
        upload.data,
        upload.label,
        rate=upload.rate,
        channels=upload.channels,
        options=RecognitionOptions(language=upload.language),
    )
    return jsonify({"text": result.text, "duration": round(result.duration, 3), "language": result.language})


def _synthesis_request() -> tuple[str, str | None, OutputFormat]:
    body = _json_body()
    text = _field(body, "text", str, required=True)
    voice = _field(body, "voiceName", str) or _field(body, "voice", str)
    azure_format = request.headers.get("X-Microsoft-OutputFormat")
    if azure_format:
        return text, voice, azure_output_format(azure_format)
    name = _field(body, "format", str)
    return text, voice, output_format(name, _integer(body.get("sampleRate"), "sampleRate"))


def _audio_headers(output: OutputFormat) -> dict[str, str]:
    return {"X-Audio-Sample-Rate": str(output.rate), "X-Audio-Channels": "1"}


@speech_api.post("/synthesize")
def synthesize() -> Response:
    text, voice, output = _synthesis_request()
    speech: Speech = _service().synthesize(text, SynthesisOptions(voice=voice, output=output))
    verbatim = {True: "true", False: "false", None: "unknown"}[speech.verbatim]
    headers = {
        **_audio_headers(output),
        "X-Speech-Voice": speech.voice,
        "X-Speech-Attempts": str(speech.attempts),
        "X-Speech-Verbatim": verbatim,
    }
    return Response(speech.audio, mimetype=output.mime, headers=headers)


@speech_api.post("/synthesize/stream")
def synthesize_stream() -> Response:
    text, voice, output = _synthesis_request()
    chunks = _service().synthesize_stream(text, SynthesisOptions(voice=voice, output=output))
    first = next(chunks, b"")

    def body() -> Iterator[bytes]:
        yield first
        try:
            yield from chunks
        except SpeechError as exc:
            log.warning("ending the stream early (%s): %s", exc.code, exc.message)

    return Response(body(), mimetype=output.mime, headers=_audio_headers(output), direct_passthrough=True)


_SERVICE_NAMES = {
    "azure": "Azure OpenAI Realtime API",
    "openai": "OpenAI Realtime API",
    "local": "speech-realtime local engine",
}


@speech_api.get("/info")
def info() -> Response:
    service = _service()
    endpoint = service.endpoint
    return jsonify(
        {
            "service": _SERVICE_NAMES[endpoint.backend],
            "model": endpoint.model,
            "backend": endpoint.backend,
            "protocol": endpoint.dialect,
            "features": {"stt": True, "tts": True, "streaming": True, "realtimeAudio": True},
            "voices": list(service.voices),
            "voiceAliases": {
                **{name: ALIASES[name.lower()] for name in AZURE_NAMES},
                **{name: ALIASES[name] for name in ("nova", "onyx", "fable")},
            },
            "formats": {"input": sorted(set(INPUT_NAMES.values())), "output": sorted(OUTPUT_CODECS)},
            "stats": service.counters.snapshot(),
        }
    )
