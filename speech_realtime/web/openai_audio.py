"""``/v1``: the OpenAI audio API, so the official ``openai`` SDKs work with ``base_url`` set here.

Speech (``/v1/audio/speech``), transcriptions, translations (refused honestly: no backend
translates) and ``/v1/models``, with OpenAI's field names, response shapes, status codes and
error envelope (:mod:`.openai_errors`). Requests are read and checked by
:mod:`.openai_requests` before any upstream session opens; transcripts are rendered by
:mod:`.openai_transcripts`. With inbound keys (``SPEECH_API_KEYS``) every route needs
``Authorization: Bearer`` with one of them (the SDK's ``api_key``); :mod:`.security` checks it
before any route; without them a bearer token is accepted and ignored.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import closing
from typing import Any

from flask import Blueprint, Response, jsonify

from ..audio import PCM16, decode_wire, float_to_pcm16, input_to_wire
from ..errors import BadRequest, SpeechError
from ..options import SPEED_RANGE, RecognitionOptions, SynthesisOptions
from ..speech import AudioStream
from .context import speech_service
from .contract import openai as contract
from .contract.operations import documented
from .errors import register_family
from .inputs import Upload, json_body
from .openai_errors import error_event, render_error
from .openai_requests import speech_request, transcription_request
from .openai_transcripts import transcript_events, transcript_response
from .streaming import audio_response, sse_response

openai_audio = Blueprint("openai_audio", __name__, url_prefix="/v1")
register_family(openai_audio, ("/v1",), render_error)


# -- speech ------------------------------------------------------------------------------------


def _speech_headers(options: SynthesisOptions, asked: float) -> dict[str, str]:
    """What was produced: the rate, and the speed applied when the asked one was out of range."""
    headers = {"X-Audio-Sample-Rate": str(options.output.rate), "X-Speech-Speed": f"{options.speed:g}"}
    if options.speed != asked:
        low, high = SPEED_RANGE
        headers["X-Speech-Speed-Note"] = f"speed {asked:g} clamped to the backend range {low:g}-{high:g}"
    return headers


_USAGE_FIELDS = ("input_tokens", "output_tokens", "total_tokens")


def _speech_events(chunks: AudioStream) -> Iterator[dict[str, Any]]:
    """``speech.audio.delta`` events with base64 audio, then ``speech.audio.done`` with usage.

    The usage is the Realtime response's token counts (zero where the backend reports none).
    Closing this generator (the client went away) closes ``chunks``, which frees the session.
    """
    with closing(chunks):
        for chunk in chunks:
            if chunk:
                yield {"type": "speech.audio.delta", "audio": base64.b64encode(chunk).decode()}
    reported = chunks.usage or {}
    usage = {name: reported.get(name) if isinstance(reported.get(name), int) else 0 for name in _USAGE_FIELDS}
    yield {"type": "speech.audio.done", "usage": usage}


@openai_audio.post("/audio/speech")
@documented(contract.SPEECH)
def speech() -> Response:
    text, options, stream_format, asked = speech_request(json_body())
    chunks = speech_service().synthesize_stream(text, options)
    headers = _speech_headers(options, asked)
    if stream_format == "sse":
        return sse_response(_speech_events(chunks), headers, on_error=error_event)
    return audio_response(chunks, options.output.mime, headers)


# -- transcriptions ----------------------------------------------------------------------------


def _streamed_transcription(audio: Upload, options: RecognitionOptions) -> Response:
    """Server-Sent Events of a transcription; bad audio and a refused session are plain errors."""
    service = speech_service()
    wire = input_to_wire(audio.data, audio.label, rate=audio.rate, channels=audio.channels)
    pcm = wire.data if wire.format is PCM16 else float_to_pcm16(decode_wire(wire.data, wire.format))
    service.check_audio(wire.data, wire.format)
    stream = service.recognition_stream(options, rate=wire.format.sample_rate)
    return sse_response(transcript_events(stream, pcm), on_error=error_event)


@openai_audio.post("/audio/transcriptions")
@documented(contract.TRANSCRIPTIONS)
def transcriptions() -> Response:
    asked = transcription_request()
    audio = asked.audio
    if asked.stream:
        return _streamed_transcription(audio, asked.options)
    transcript = speech_service().recognize_media(
        audio.data, audio.label, rate=audio.rate, channels=audio.channels, options=asked.options
    )
    return transcript_response(transcript, asked.response_format, asked.granularities)


@openai_audio.post("/audio/translations")
@documented(contract.TRANSLATIONS)
def translations() -> Response:
    raise BadRequest(
        "translations are not supported: the speech backends here transcribe in the spoken "
        "language and cannot translate; use /v1/audio/transcriptions",
        code="unsupported_operation",
        param="model",
    )


# -- models ------------------------------------------------------------------------------------


class _ModelNotFound(SpeechError):
    status = 404
    code = "model_not_found"


def _models() -> list[dict[str, Any]]:
    service = speech_service()
    owner = f"speech-realtime ({service.endpoint.backend})"
    transcription = service.settings.transcription_deployment or service.settings.transcribe_model
    ids = dict.fromkeys((service.endpoint.model, transcription))
    return [{"id": model, "object": "model", "created": 0, "owned_by": owner} for model in ids]


@openai_audio.get("/models")
@documented(contract.MODELS)
def models() -> Response:
    return jsonify({"object": "list", "data": _models()})


@openai_audio.get("/models/<path:model>")
@documented(contract.MODEL_BY_ID)
def model(model: str) -> Response:
    for entry in _models():
        if entry["id"] == model:
            return jsonify(entry)
    raise _ModelNotFound(f"The model '{model}' does not exist", param="model")
