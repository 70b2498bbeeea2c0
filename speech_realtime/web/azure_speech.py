"""The Azure Speech REST API, so Azure REST clients work by changing only the host.

- ``POST /cognitiveservices/v1``: SSML in (``application/ssml+xml``), audio out in the
  ``X-Microsoft-OutputFormat`` (``riff-16khz-16bit-mono-pcm``, the Speech SDK's default, when
  the header is absent), streamed as it is produced (chunked);
- ``GET /cognitiveservices/voices/list``: the voice catalogue in Azure's shape;
- ``POST /speech/recognition/{conversation,interactive,dictation}/cognitiveservices/v1``: short
  audio (WAV PCM, Ogg Opus, or raw PCM described by ``codecs=audio/pcm; samplerate=N``),
  ``language``, ``format=simple|detailed``, ``profanity=masked|removed|raw`` (masked when
  absent, as Azure's default, on every text form of the result); no speech in the audio is
  ``RecognitionStatus: InitialSilenceTimeout`` with status 200, as Azure answers;
- ``POST /sts/v1.0/issueToken``: a signed token valid for ten minutes (text/plain).

Errors are Azure's: the status and a short plain-text body. With inbound keys
(``SPEECH_API_KEYS``) every route needs ``Ocp-Apim-Subscription-Key`` or ``Authorization: Bearer``
with an issued token, and ``issueToken`` a key; :mod:`.security` checks them before any route.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from ..audio import CONTENT_TYPES, azure_output_format
from ..azure_results import DEFAULT_STYLE, ResultStyle, nbest, ticks
from ..callers import CALLER
from ..composition import Composition
from ..errors import BadRequest, UnsupportedMedia
from ..languages import fixed_language
from ..options import RecognitionOptions, Transcript
from ..profanity import Profanity
from ..ssml import MAX_SSML_BYTES, parse_ssml
from ..tokens import issue_token
from ..voices import azure_voice_list
from .azure_errors import render_azure
from .context import speech_service
from .contract import azure as contract
from .contract.fields import Field
from .contract.operations import documented
from .errors import register_family
from .inputs import integer, read_body
from .streaming import audio_response

azure_speech = Blueprint("azure_speech", __name__)

RECOGNITION_MODES = ("conversation", "interactive", "dictation")
#: ``codecs=audio/pcm`` (werkzeug's parameter parser stops a value at the slash).
_CODECS = re.compile(r"codecs\s*=\s*\"?([^;\"\s]+)", re.IGNORECASE)
#: The paths of this family (404/405 under them answer in Azure's way too).
PREFIXES = ("/cognitiveservices", "/speech/recognition", "/sts")


register_family(azure_speech, PREFIXES, render_azure)


# -- text to speech --------------------------------------------------------------------------------


@azure_speech.post("/cognitiveservices/v1")
@documented(contract.SYNTHESIZE)
def synthesize() -> Response:
    """SSML to audio, streamed in the requested ``X-Microsoft-OutputFormat``."""
    if request.mimetype not in contract.SSML_TYPES:
        raise UnsupportedMedia(
            f"Content-Type must be application/ssml+xml, not {request.mimetype or 'none'!r}", param="body"
        )
    output = azure_output_format(
        request.headers.get(contract.OUTPUT_FORMAT.name) or contract.OUTPUT_FORMAT.default
    )
    document = parse_ssml(read_body(MAX_SSML_BYTES))
    composition = Composition(speech_service(), document, output)
    return audio_response(composition.audio(), output.mime)


@azure_speech.get("/cognitiveservices/voices/list")
@documented(contract.VOICES)
def voices() -> Response:
    return jsonify(azure_voice_list())


# -- speech to text (short audio) ------------------------------------------------------------------


def _choice(spec: Field) -> str:
    """A query parameter of ``spec``'s enum, case-insensitive, its default when absent or blank."""
    value = request.args.get(spec.name, spec.default).strip().lower() or spec.default
    if value not in spec.enum:
        raise BadRequest(
            f"{spec.name} {value[:40]!r} is not one of {', '.join(spec.enum)}",
            code="invalid_field",
            param=spec.param,
        )
    return value


def _audio_label(data: bytes) -> tuple[str | None, int | None]:
    """The input format and rate the Content-Type names; raw PCM only if the body has no header.

    Azure documents ``audio/wav; codecs=audio/pcm; samplerate=16000`` (WAV) and
    ``audio/ogg; codecs=opus``; a body without a RIFF header under the first is raw samples.
    """
    codecs = _CODECS.search(request.headers.get("Content-Type", ""))
    if codecs and codecs.group(1).lower() == "audio/pcm" and not data.startswith(b"RIFF"):
        rate = integer(request.mimetype_params.get("samplerate"), "samplerate", param="rate")
        return "pcm16", 16000 if rate is None else rate
    return CONTENT_TYPES.get(request.mimetype) or None, None


def recognition_result(
    transcript: Transcript, *, detailed: bool, style: ResultStyle = DEFAULT_STYLE
) -> dict[str, Any]:
    """Azure's short-audio result for ``transcript``: Success, or InitialSilenceTimeout for no words.

    Offset and Duration (100-ns ticks) span the transcript's segments (the whole audio when the
    backend gives none); NBest has the shape the Speech SDK protocol uses too; every text form
    is written in ``style`` (profanity). Azure's short-audio result carries no language field:
    the language is the request's.
    """
    text = transcript.text.strip()
    if not text:
        return {
            "RecognitionStatus": "InitialSilenceTimeout",
            "Offset": ticks(transcript.duration),
            "Duration": 0,
        }
    segments = transcript.segments
    start = segments[0].start if segments else 0.0
    end = segments[-1].end if segments else transcript.duration
    result: dict[str, Any] = {
        "RecognitionStatus": "Success",
        "DisplayText": style.text(text),
        "Offset": ticks(start),
        "Duration": ticks(end - start),
    }
    if detailed:
        result["NBest"] = [nbest(text, start, end - start, None, style)]
    return result


def _result_style(language: str | None) -> ResultStyle:
    """The ``profanity`` parameter (400 for a value Azure does not take) with the list of the
    recognition language, else the backend's only language."""
    profanity = Profanity(_choice(contract.PROFANITY))
    return ResultStyle(profanity, language or fixed_language(speech_service().endpoint.backend))


@documented(contract.RECOGNIZE)
def recognize() -> Response:
    """Short audio to text; the three modes answer alike (one utterance, final result only)."""
    detailed = _choice(contract.RESULT_FORMAT) == "detailed"
    options = RecognitionOptions(language=request.args.get(contract.LANGUAGE.name) or None)
    style = _result_style(options.language)
    data = read_body()
    label, rate = _audio_label(data)
    transcript = speech_service().recognize_media(data, label, rate=rate, options=options)
    return jsonify(recognition_result(transcript, detailed=detailed, style=style))


for _mode in RECOGNITION_MODES:
    azure_speech.add_url_rule(
        f"/speech/recognition/{_mode}/cognitiveservices/v1", f"recognize_{_mode}", recognize, methods=["POST"]
    )


# -- tokens ----------------------------------------------------------------------------------------


@azure_speech.post("/sts/v1.0/issueToken")
@documented(contract.ISSUE_TOKEN)
def issue() -> Response:
    """A token valid for ten minutes for the key's caller, as Azure's token service answers (plain
    text); signed with the service's token secret (``extensions["azure_token_secret"]``)."""
    secret = current_app.extensions["azure_token_secret"]
    return Response(issue_token(secret, subject=CALLER.get()), mimetype="text/plain")
