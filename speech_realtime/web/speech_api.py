"""``/api/speech-realtime``: the reference's four endpoints, bodies compatible with its clients."""

from __future__ import annotations

import base64
import binascii
import logging
import re
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from ..audio import WIRE_FORMATS, WireFormat
from ..errors import BadRequest, SpeechError, UnsupportedMedia
from ..speech import Speech, SpeechService
from ..voices import ALIASES, AZURE_NAMES

log = logging.getLogger(__name__)

speech_api = Blueprint("speech_api", __name__, url_prefix="/api/speech-realtime")

#: Names users send for the wire formats.
FORMAT_NAMES = {
    "pcm16": "pcm16",
    "pcm": "pcm16",
    "raw": "pcm16",
    "g711_ulaw": "g711_ulaw",
    "ulaw": "g711_ulaw",
    "mulaw": "g711_ulaw",
    "pcmu": "g711_ulaw",
    "g711_alaw": "g711_alaw",
    "alaw": "g711_alaw",
    "pcma": "g711_alaw",
}
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


def _wire_format(body: dict[str, Any]) -> WireFormat:
    name = _field(body, "format", str) or "pcm16"
    key = FORMAT_NAMES.get(name.strip().lower())
    if key is None:
        valid = ", ".join(FORMAT_NAMES)
        raise BadRequest(f"unsupported format {name!r}; valid: {valid}", code="invalid_format")
    fmt = WIRE_FORMATS[key]
    rate = _field(body, "sampleRate", int)
    if rate is not None and rate != fmt.sample_rate:
        raise BadRequest(
            f"{fmt.name} is {fmt.sample_rate} Hz; sampleRate {rate} is not supported",
            code="invalid_sample_rate",
        )
    return fmt


def _decode_base64(data: str) -> bytes:
    data = _WHITESPACE.sub("", _DATA_URL.sub("", data, count=1))
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest("'audioData' is not valid base64", code="invalid_base64") from None


@speech_api.post("/recognize")
def recognize() -> Response:
    body = _json_body()
    audio = _decode_base64(_field(body, "audioData", str, required=True))
    fmt = _wire_format(body)
    language = _field(body, "language", str)
    result = _service().recognize(audio, audio_format=fmt.name, language=language or None)
    return jsonify({"text": result.text, "duration": round(result.duration, 3), "language": result.language})


def _synthesis_request() -> tuple[str, str | None, WireFormat]:
    body = _json_body()
    text = _field(body, "text", str, required=True)
    voice = _field(body, "voiceName", str) or _field(body, "voice", str)
    return text, voice, _wire_format(body)


def _audio_headers(fmt: WireFormat) -> dict[str, str]:
    return {"X-Audio-Sample-Rate": str(fmt.sample_rate), "X-Audio-Channels": "1"}


@speech_api.post("/synthesize")
def synthesize() -> Response:
    text, voice, fmt = _synthesis_request()
    speech: Speech = _service().synthesize(text, voice, audio_format=fmt.name)
    verbatim = {True: "true", False: "false", None: "unknown"}[speech.verbatim]
    headers = {
        **_audio_headers(fmt),
        "X-Speech-Voice": speech.voice,
        "X-Speech-Attempts": str(speech.attempts),
        "X-Speech-Verbatim": verbatim,
    }
    return Response(speech.audio, mimetype=fmt.mime, headers=headers)


@speech_api.post("/synthesize/stream")
def synthesize_stream() -> Response:
    text, voice, fmt = _synthesis_request()
    chunks = _service().synthesize_stream(text, voice, audio_format=fmt.name)
    first = next(chunks, b"")

    def body() -> Iterator[bytes]:
        yield first
        try:
            yield from chunks
        except SpeechError as exc:
            log.warning("ending the stream early (%s): %s", exc.code, exc.message)

    return Response(body(), mimetype=fmt.mime, headers=_audio_headers(fmt), direct_passthrough=True)


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
            "formats": sorted(WIRE_FORMATS),
            "stats": service.counters.snapshot(),
        }
    )
