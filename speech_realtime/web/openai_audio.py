"""``/v1``: the OpenAI audio API, so the official ``openai`` SDKs work with ``base_url`` set here.

Speech (``/v1/audio/speech``), transcriptions, translations (refused honestly: no backend
translates) and ``/v1/models``, with OpenAI's field names, response shapes, status codes and
error envelope ``{"error": {"message", "type", "param", "code"}}``. Everything is checked before
any upstream session opens. Bearer tokens are accepted and ignored (inbound keys come later).
"""

from __future__ import annotations

import base64
import math
from collections.abc import Iterator
from contextlib import closing
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, current_app, jsonify, request

from ..audio import PCM16, decode_wire, float_to_pcm16
from ..audio.formats import OutputFormat, input_to_wire, output_format
from ..errors import BadRequest, SpeechError
from ..options import (
    SPEED_RANGE,
    Ended,
    Phrase,
    RecognitionOptions,
    SynthesisOptions,
    Transcript,
    clamp_speed,
)
from ..speech import AudioStream, SpeechService
from ..subtitles import srt, vtt
from .errors import ErrorInfo, register_family
from .inputs import Upload, UploadFields, json_body, upload
from .streaming import audio_response, sse_response

if TYPE_CHECKING:
    from ..realtime.stream import RecognitionStream

openai_audio = Blueprint("openai_audio", __name__, url_prefix="/v1")

MAX_INPUT_CHARS = 4096
#: The speed range the OpenAI API accepts; the backend's own range is :data:`SPEED_RANGE`.
OPENAI_SPEED_RANGE = (0.25, 4.0)
SPEECH_FORMATS = ("mp3", "opus", "aac", "flac", "wav", "pcm")
TRANSCRIPT_FORMATS = ("json", "text", "srt", "vtt", "verbose_json")
GRANULARITIES = ("word", "segment")
#: A multipart ``file`` (a raw audio body also works); no JSON upload, no format/rate fields.
_UPLOAD = UploadFields(data=None, file="file", format=None, rate=None, channels=None)
_SUBTITLE_TYPES = {"srt": "application/x-subrip; charset=utf-8", "vtt": "text/vtt; charset=utf-8"}

# -- errors ------------------------------------------------------------------------------------

#: The service's semantic parameter -> OpenAI's field; ``format`` depends on the endpoint.
_FIELDS = {
    "text": "input",
    "voice": "voice",
    "speed": "speed",
    "instructions": "instructions",
    "audio": "file",
    "rate": "file",
    "channels": "file",
    "language": "language",
    "prompt": "prompt",
    "model": "model",
    "body": None,
}
_TYPES = {401: "authentication_error", 403: "permission_error", 404: "invalid_request_error"}


def _param(param: str | None) -> str | None:
    if param == "format":
        return "response_format" if request.path.endswith("/audio/speech") else "file"
    return _FIELDS.get(param, param) if param else None


def _openai(error: ErrorInfo) -> tuple[int, dict[str, Any]]:
    """OpenAI's status and error object for ``error``, so the SDK raises the matching exception.

    OpenAI answers an undecodable upload with a 400 (not 415) and a content-policy stop with a
    400 ``content_policy_violation``; an unknown path or method names the request.
    """
    status, code, message, param = error.status, error.code, error.message, _param(error.param)
    if status == 415:
        status = 400
    elif status == 422:
        status, code = 400, "content_policy_violation"
    elif status == 404 and code == "not_found":
        code, message = "unknown_url", f"Invalid URL ({request.method} {request.path})"
    elif status == 405:
        message = f"Invalid method for URL ({request.method} {request.path})"
    if status == 429:
        kind = "rate_limit_error"
    elif status >= 500:
        kind = "server_error"
    else:
        kind = _TYPES.get(status, "invalid_request_error")
    return status, {"message": message, "type": kind, "param": param, "code": code}


def render_error(error: ErrorInfo) -> Response:
    """``{"error": {"message", "type", "param", "code"}}`` with OpenAI's status code."""
    status, body = _openai(error)
    response = jsonify({"error": body})
    response.status_code = status
    response.headers.update(dict(error.headers))
    return response


def _error_event(error: ErrorInfo) -> dict[str, Any]:
    """A failure after the first event, as the ``error`` event the SDK's streams raise from."""
    return {"type": "error", "error": _openai(error)[1]}


register_family(openai_audio, ("/v1",), render_error)


def _service() -> SpeechService:
    return current_app.extensions["speech"]


# -- request fields ----------------------------------------------------------------------------


def _string(value: Any, name: str, *, required: bool = False) -> str | None:
    if value is None or (value == "" and not required):
        if required:
            raise BadRequest(
                f"you must provide the '{name}' parameter", code="missing_required_parameter", param=name
            )
        return None
    if not isinstance(value, str):
        raise BadRequest(f"'{name}' must be a string", code="invalid_type", param=name)
    return value


def _number(value: Any, name: str, low: float, high: float) -> float | None:
    """A number in ``low..high`` from JSON or a form field (text); None when absent."""
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


def _choice(value: Any, name: str, allowed: tuple[str, ...], default: str) -> str:
    value = _string(value, name) or default
    if value not in allowed:
        raise BadRequest(
            f"'{value}' is not one of {', '.join(allowed)} - '{name}'", code="invalid_value", param=name
        )
    return value


def _flag(value: Any, name: str) -> bool:
    """A boolean from JSON or a form field (``true``/``false``)."""
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
    return _string(value, "voice")


def _speech_options(body: dict[str, Any]) -> tuple[str, SynthesisOptions, str, float]:
    """The text, the options, the stream format and the speed asked for."""
    _string(body.get("model"), "model")
    text = _string(body.get("input"), "input", required=True)
    if not text.strip():
        raise BadRequest("'input' is empty", code="empty_text", param="input")
    if len(text) > MAX_INPUT_CHARS:
        raise BadRequest(
            f"'input' has {len(text)} characters; the maximum is {MAX_INPUT_CHARS}",
            code="string_above_max_length",
            param="input",
        )
    name = _choice(body.get("response_format"), "response_format", SPEECH_FORMATS, "mp3")
    speed = _number(body.get("speed"), "speed", *OPENAI_SPEED_RANGE)
    asked = 1.0 if speed is None else speed
    options = SynthesisOptions(
        voice=_voice(body.get("voice")),
        output=output_format(name),
        speed=clamp_speed(asked),
        instructions=_string(body.get("instructions"), "instructions"),
    )
    stream_format = _choice(body.get("stream_format"), "stream_format", ("audio", "sse"), "audio")
    return text, options, stream_format, asked


def _speech_headers(output: OutputFormat, options: SynthesisOptions, asked: float) -> dict[str, str]:
    """What was produced: the rate, and the speed applied when the asked one was out of range."""
    headers = {"X-Audio-Sample-Rate": str(output.rate), "X-Speech-Speed": f"{options.speed:g}"}
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
def speech() -> Response:
    text, options, stream_format, asked = _speech_options(json_body())
    chunks = _service().synthesize_stream(text, options)
    headers = _speech_headers(options.output, options, asked)
    if stream_format == "sse":
        return sse_response(_speech_events(chunks), headers, on_error=_error_event)
    return audio_response(chunks, options.output.mime, headers)


# -- transcriptions ----------------------------------------------------------------------------


def _granularities() -> tuple[str, ...]:
    values = request.form.getlist("timestamp_granularities[]") or request.form.getlist(
        "timestamp_granularities"
    )
    for value in values:
        if value not in GRANULARITIES:
            raise BadRequest(
                f"'{value}' is not one of word, segment - 'timestamp_granularities'",
                code="invalid_value",
                param="timestamp_granularities",
            )
    return tuple(values)


def _transcription_request() -> tuple[Upload, RecognitionOptions, dict[str, Any]]:
    """The upload, the recognition options and the response fields, all checked."""
    audio = upload(_UPLOAD)
    form = audio.form
    _string(form.get("model"), "model")
    _number(form.get("temperature"), "temperature", 0.0, 1.0)
    fields = {
        "response_format": _choice(
            form.get("response_format"), "response_format", TRANSCRIPT_FORMATS, "json"
        ),
        "granularities": _granularities(),
        "stream": _flag(form.get("stream"), "stream"),
    }
    # As OpenAI answers: these combinations are refused, not silently answered in another format.
    if fields["granularities"] and fields["response_format"] != "verbose_json":
        raise BadRequest(
            "timestamp_granularities[] needs response_format verbose_json",
            code="invalid_value",
            param="timestamp_granularities",
        )
    if fields["stream"] and fields["response_format"] not in ("json", "text"):
        raise BadRequest(
            f"stream=true answers transcript events; response_format {fields['response_format']} "
            "is not available with it (use json or text)",
            code="invalid_value",
            param="stream",
        )
    options = RecognitionOptions(language=form.get("language") or None, prompt=form.get("prompt") or None)
    return audio, options, fields


def _usage(transcript: Transcript) -> dict[str, Any]:
    return {"type": "duration", "seconds": math.ceil(transcript.duration)}


def _verbose(transcript: Transcript, granularities: tuple[str, ...]) -> dict[str, Any]:
    """``verbose_json``: language, duration, segments (and words when asked for), usage.

    Fields OpenAI fills from Whisper's decoder (``avg_logprob``, ``tokens``, ...) are left out:
    no backend here reports them, and made-up values would mislead.
    """
    body: dict[str, Any] = {
        "task": "transcribe",
        "language": transcript.language or "",
        "duration": round(transcript.duration, 3),
        "text": transcript.text,
    }
    if "segment" in granularities or not granularities:
        body["segments"] = [
            {"id": index, "seek": 0, "start": round(s.start, 3), "end": round(s.end, 3), "text": s.text}
            for index, s in enumerate(transcript.segments)
        ]
    if "word" in granularities:
        body["words"] = [
            {"word": w.text, "start": round(w.start, 3), "end": round(w.end, 3)}
            for segment in transcript.segments
            for w in segment.words
        ]
    body["usage"] = _usage(transcript)
    return body


#: How long one poll of a recognition stream waits; the stream's own idle limit ends a stall.
_POLL_SECONDS = 0.5


def _transcript_events(stream: RecognitionStream, pcm: bytes) -> Iterator[dict[str, Any]]:
    """``transcript.text.delta`` per phrase as the backend finishes it, then ``.done``.

    The upload goes to a streaming recognition session with server VAD, so the first phrase's
    text is sent while later ones are still being transcribed; the deltas join to the text of
    the ``done`` event.
    """
    phrases: list[str] = []
    with closing(stream):
        stream.push(pcm)
        stream.finish()
        while not isinstance(event := stream.poll(_POLL_SECONDS), Ended):
            if isinstance(event, Phrase) and event.text.strip():
                text = event.text.strip()
                yield {"type": "transcript.text.delta", "delta": f" {text}" if phrases else text}
                phrases.append(text)
    yield {"type": "transcript.text.done", "text": " ".join(phrases)}


def _streamed_transcription(audio: Upload, options: RecognitionOptions) -> Response:
    """Server-Sent Events of a transcription; bad audio and a refused session are plain errors."""
    wire = input_to_wire(audio.data, audio.label, rate=audio.rate, channels=audio.channels)
    pcm = wire.data if wire.format is PCM16 else float_to_pcm16(decode_wire(wire.data, wire.format))
    _service().check_audio(wire.data, wire.format)
    stream = _service().recognition_stream(options, rate=wire.format.sample_rate)
    return sse_response(_transcript_events(stream, pcm), on_error=_error_event)


def _plain(text: str, mimetype: str) -> Response:
    return Response(text, content_type=mimetype)


@openai_audio.post("/audio/transcriptions")
def transcriptions() -> Response:
    audio, options, fields = _transcription_request()
    if fields["stream"]:
        return _streamed_transcription(audio, options)
    transcript = _service().recognize_media(
        audio.data, audio.label, rate=audio.rate, channels=audio.channels, options=options
    )
    response_format = fields["response_format"]
    if response_format == "text":
        return _plain(transcript.text + "\n", "text/plain; charset=utf-8")
    if response_format in ("srt", "vtt"):
        render = srt if response_format == "srt" else vtt
        return _plain(render(transcript.segments), _SUBTITLE_TYPES[response_format])
    if response_format == "verbose_json":
        return jsonify(_verbose(transcript, fields["granularities"]))
    return jsonify({"text": transcript.text, "usage": _usage(transcript)})


@openai_audio.post("/audio/translations")
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
    service = _service()
    owner = f"speech-realtime ({service.endpoint.backend})"
    ids = dict.fromkeys((service.endpoint.model, service.settings.transcribe_model))
    return [{"id": model, "object": "model", "created": 0, "owned_by": owner} for model in ids]


@openai_audio.get("/models")
def models() -> Response:
    return jsonify({"object": "list", "data": _models()})


@openai_audio.get("/models/<path:model>")
def model(model: str) -> Response:
    for entry in _models():
        if entry["id"] == model:
            return jsonify(entry)
    raise _ModelNotFound(f"The model '{model}' does not exist", param="model")
