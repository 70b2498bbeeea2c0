"""``/api/speech-realtime``: the reference's four endpoints, bodies compatible with its clients."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from ..audio import INPUT_NAMES, OUTPUT_NAMES, OutputFormat, azure_output_format, output_format
from ..options import RecognitionOptions, Speech, SynthesisOptions
from ..voices import ALIASES, AZURE_NAMES, LEGACY_ALIASES
from .context import speech_service
from .contract import reference as contract
from .contract.operations import documented
from .inputs import json_body, read, upload
from .limits import limits_info
from .streaming import audio_response

speech_api = Blueprint("speech_api", __name__, url_prefix="/api/speech-realtime")


@speech_api.post("/recognize")
@documented(contract.RECOGNIZE)
def recognize() -> Response:
    audio = upload()
    language = read(audio.form, contract.LANGUAGE)
    result = speech_service().recognize_media(
        audio.data,
        audio.label,
        rate=audio.rate,
        channels=audio.channels,
        options=RecognitionOptions(language=language or None),
    )
    return jsonify({"text": result.text, "duration": round(result.duration, 3), "language": result.language})


def _synthesis_request() -> tuple[str, SynthesisOptions, OutputFormat]:
    body: dict[str, Any] = json_body()
    text = read(body, contract.TEXT)
    voice = read(body, contract.VOICE_NAME) or read(body, contract.VOICE)
    # The body's format is checked even when the Azure header wins: a bad field is never ignored.
    output = output_format(read(body, contract.OUTPUT_FORMAT), read(body, contract.OUTPUT_RATE))
    azure_format = request.headers.get(contract.AZURE_OUTPUT_HEADER.name)
    if azure_format:
        output = azure_output_format(azure_format)
    return text, SynthesisOptions(voice=voice, output=output), output


def _audio_headers(output: OutputFormat) -> dict[str, str]:
    return {"X-Audio-Sample-Rate": str(output.rate), "X-Audio-Channels": "1"}


@speech_api.post("/synthesize")
@documented(contract.SYNTHESIZE)
def synthesize() -> Response:
    text, options, _ = _synthesis_request()
    speech: Speech = speech_service().synthesize(text, options)
    verbatim = {True: "true", False: "false", None: "unknown"}[speech.verbatim]
    headers = {
        **_audio_headers(speech.output),
        "X-Speech-Voice": speech.voice,
        "X-Speech-Attempts": str(speech.attempts),
        "X-Speech-Verbatim": verbatim,
    }
    return Response(speech.parts, mimetype=speech.output.mime, headers=headers)


@speech_api.post("/synthesize/stream")
@documented(contract.SYNTHESIZE_STREAM)
def synthesize_stream() -> Response:
    text, options, output = _synthesis_request()
    chunks = speech_service().synthesize_stream(text, options)
    return audio_response(chunks, output.mime, _audio_headers(output))


_SERVICE_NAMES = {
    "azure": "Azure OpenAI Realtime API",
    "openai": "OpenAI Realtime API",
    "local": "speech-realtime local engine",
}


@speech_api.get("/info")
@documented(contract.INFO)
def info() -> Response:
    service = speech_service()
    endpoint = service.endpoint
    return jsonify(
        {
            "service": _SERVICE_NAMES[endpoint.backend],
            "model": endpoint.model,
            "transcriptionDeployment": service.transcription_endpoint
            and service.transcription_endpoint.model,
            "backend": endpoint.backend,
            "protocol": endpoint.dialect,
            "features": {"stt": True, "tts": True, "streaming": True, "realtimeAudio": True},
            "voices": list(service.voices),
            "voiceAliases": {
                **{name: ALIASES[name.lower()] for name in AZURE_NAMES},
                **LEGACY_ALIASES,
            },
            "formats": {"input": sorted(set(INPUT_NAMES.values())), "output": sorted(OUTPUT_NAMES)},
            "limits": limits_info(service.settings),
            "stats": service.counters.snapshot(),
        }
    )
