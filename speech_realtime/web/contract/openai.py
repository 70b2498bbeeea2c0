"""The OpenAI audio API's fields and routes (``/v1``), with OpenAI's names and limits.

The request checks of :mod:`..openai_requests` read these fields.
"""

from __future__ import annotations

from .fields import Field, object_schema
from .operations import GUARD_ERRORS, OPENAI, SESSION_ERRORS, Operation, Reply

#: A number from JSON, or its text from a form field.
_NUMBER_OR_TEXT = {"type": ["number", "string"]}
#: A boolean from JSON, or ``true``/``false``/``1``/``0`` from a form field.
_FLAG = {"type": ["boolean", "string"]}

MODEL = Field("model", "string", "Accepted and ignored: the service's backend answers.", param="model")
INPUT = Field("input", "string", "The text to speak.", required=True, max_length=4096, param="input")
VOICE = Field(
    "voice",
    "string",
    'A voice name, or {"id": name}.',
    param="voice",
    schema_extra={"type": ["string", "object"], "properties": {"id": {"type": "string"}}},
)
SPEECH_FORMAT = Field(
    "response_format",
    "string",
    "The audio format.",
    enum=("mp3", "opus", "aac", "flac", "wav", "pcm"),
    default="mp3",
    param="response_format",
    blank=True,
)
SPEED = Field(
    "speed",
    "number",
    "Speaking speed (clamped to the backend's range, see X-Speech-Speed).",
    minimum=0.25,
    maximum=4.0,
    param="speed",
    schema_extra=_NUMBER_OR_TEXT,
)
INSTRUCTIONS = Field("instructions", "string", "How to speak.", param="instructions")
STREAM_FORMAT = Field(
    "stream_format",
    "string",
    "audio: the audio bytes; sse: speech.audio.delta events.",
    enum=("audio", "sse"),
    default="audio",
    param="stream_format",
    blank=True,
)

FILE = Field(
    "file", "string", "The audio file.", required=True, param="file", schema_extra={"format": "binary"}
)
LANGUAGE = Field("language", "string", "The spoken language (ISO 639-1).", param="language")
PROMPT = Field("prompt", "string", "Text to guide the transcription.", param="prompt")
TRANSCRIPT_FORMAT = Field(
    "response_format",
    "string",
    "The transcript's format.",
    enum=("json", "text", "srt", "vtt", "verbose_json"),
    default="json",
    param="response_format",
    blank=True,
)
TEMPERATURE = Field(
    "temperature",
    "number",
    "Accepted, checked and ignored.",
    minimum=0.0,
    maximum=1.0,
    param="temperature",
    schema_extra=_NUMBER_OR_TEXT,
)
GRANULARITIES = Field(
    "timestamp_granularities",
    "array",
    "word and/or segment (needs verbose_json); sent as timestamp_granularities[] fields.",
    enum=("word", "segment"),
    param="timestamp_granularities",
)
INCLUDE = Field(
    "include",
    "array",
    "logprobs (needs response_format json); sent as include[] fields.",
    enum=("logprobs",),
    param="include",
)
STREAM = Field(
    "stream", "boolean", "Answer transcript events (json or text only).", param="stream", schema_extra=_FLAG
)
CHUNKING = Field(
    "chunking_strategy",
    "string",
    "auto, or a server_vad object as JSON text (or chunking_strategy[key] fields).",
    param="chunking_strategy",
)
KEYWORDS = Field("keywords", "array", "Words to favour; sent as keywords[] fields.", param="keywords")
#: ``chunking_strategy`` server_vad fields: the pause that ends a phrase (the phrase cutter's
#: range), the padding before speech and the threshold (checked, change nothing).
CHUNK_SILENCE = Field("chunking_strategy.silence_duration_ms", "integer", minimum=100, maximum=5000)
CHUNK_PADDING = Field("chunking_strategy.prefix_padding_ms", "integer", minimum=0, maximum=10_000)
CHUNK_THRESHOLD = Field("chunking_strategy.threshold", "number", minimum=0.0, maximum=1.0)

_SPEECH_FIELDS = (MODEL, INPUT, VOICE, SPEECH_FORMAT, SPEED, INSTRUCTIONS, STREAM_FORMAT)
_RAW = {"type": "string", "format": "binary"}
#: OpenAI answers an undecodable upload and a content-filter stop with a 400, not 415 / 422.
_SESSION_ERRORS = tuple(status for status in SESSION_ERRORS if status not in (415, 422))
#: One Server-Sent Event: its ``data`` is a JSON event object (a failure ends with an ``error`` one).
_SSE = {
    "type": "object",
    "required": ["data"],
    "properties": {
        "data": {"type": "string", "contentMediaType": "application/json"},
        "event": {"type": "string"},
    },
}


def _listed(spec: Field) -> dict[str, object]:
    """A repeated multipart field ``name[]``: its items' schema."""
    items: dict[str, object] = (
        {"type": "string", "enum": list(spec.enum)} if spec.enum else {"type": "string"}
    )
    return {"type": "array", "items": items, "description": spec.description}


_TRANSCRIPTION_FORM = object_schema(
    (FILE, MODEL, LANGUAGE, PROMPT, TRANSCRIPT_FORMAT, TEMPERATURE, STREAM, CHUNKING)
)
_TRANSCRIPTION_FORM["properties"].update(
    {f"{spec.name}[]": _listed(spec) for spec in (GRANULARITIES, INCLUDE, KEYWORDS)}
)

SPEECH = Operation(
    OPENAI,
    "Text to speech (OpenAI's audio.speech)",
    (
        Reply(
            200,
            "The audio (chunked), or Server-Sent Events with stream_format sse.",
            {"audio/*": _RAW, "application/octet-stream": _RAW, "text/event-stream": _SSE},
            (
                Field("X-Audio-Sample-Rate", "string", "The sample rate of the audio (Hz)."),
                Field("X-Speech-Speed", "string", "The speed applied."),
            ),
        ),
    ),
    _SESSION_ERRORS,
    bodies={
        "application/json": object_schema(
            _SPEECH_FIELDS, nullable=(MODEL, VOICE, SPEECH_FORMAT, SPEED, INSTRUCTIONS, STREAM_FORMAT)
        )
    },
)

_TRANSCRIPT = {
    "type": "object",
    "required": ["text"],
    "properties": {"text": {"type": "string"}},
    "description": "json and verbose_json (with language, duration, segments, words).",
}
TRANSCRIPTIONS = Operation(
    OPENAI,
    "Speech to text (OpenAI's audio.transcriptions)",
    (
        Reply(
            200,
            "The transcript in the response_format, or Server-Sent Events with stream=true.",
            {
                "application/json": _TRANSCRIPT,
                "text/plain": {"type": "string"},
                "text/vtt": {"type": "string"},
                "application/x-subrip": {"type": "string"},
                "text/event-stream": _SSE,
            },
        ),
    ),
    _SESSION_ERRORS,
    bodies={"multipart/form-data": _TRANSCRIPTION_FORM, "audio/*": _RAW, "application/octet-stream": _RAW},
)

TRANSLATIONS = Operation(
    OPENAI,
    "Translations: refused (no backend translates)",
    (),
    (*GUARD_ERRORS,),
    "Always 400 unsupported_operation: use /v1/audio/transcriptions.",
)

_MODEL_OBJECT = {
    "type": "object",
    "required": ["id", "object", "created", "owned_by"],
    "properties": {
        "id": {"type": "string"},
        "object": {"const": "model"},
        "created": {"type": "integer"},
        "owned_by": {"type": "string"},
    },
}
MODELS = Operation(
    OPENAI,
    "The backend's models",
    (
        Reply(
            200,
            "The models.",
            {
                "application/json": {
                    "type": "object",
                    "required": ["object", "data"],
                    "properties": {
                        "object": {"const": "list"},
                        "data": {"type": "array", "items": _MODEL_OBJECT},
                    },
                }
            },
        ),
    ),
)
MODEL_BY_ID = Operation(
    OPENAI,
    "One model",
    (Reply(200, "The model.", {"application/json": _MODEL_OBJECT}),),
    (*GUARD_ERRORS, 404),
    path=(Field("model", "string", "The model id."),),
)
