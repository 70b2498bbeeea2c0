"""The reference API's fields and routes (``/api/speech-realtime``, ``/api/speech``).

The request checks of :mod:`..speech_api` and :mod:`..inputs` read these fields.
"""

from __future__ import annotations

import base64

from ...audio.formats import INPUT_NAMES
from ...audio.output import AZURE_OUTPUT_FORMATS, MAX_OUTPUT_RATE, MIN_OUTPUT_RATE, OUTPUT_NAMES
from ...audio.wav import MAX_CHANNELS, MAX_RATE, MIN_RATE
from .fields import Field, object_schema
from .operations import REFERENCE, SESSION_ERRORS, Operation, Reply

#: JSON numbers, or their text (form fields, MIME parameters): checked by ``inputs.integer``.
_INTEGER_OR_TEXT = {"type": ["integer", "string"]}

AUDIO_DATA = Field(
    "audioData",
    "string",
    "Base64 audio (a data: URL prefix and line breaks are allowed).",
    required=True,
    param="audio",
    schema_extra={"contentEncoding": "base64"},
)
AUDIO_FILE = Field(
    "file", "string", "The audio file.", required=True, param="audio", schema_extra={"format": "binary"}
)
AUDIO_FORMAT = Field(
    "format",
    "string",
    "The audio's format (case-insensitive); JSON: pcm16 when absent; a file with "
    "a header (WAV, Ogg, MP3, ...) is recognised by its bytes.",
    enum=tuple(INPUT_NAMES),
    param="format",
    blank=True,
)
SAMPLE_RATE = Field(
    "sampleRate",
    "integer",
    "The sample rate of raw PCM or G.711 (Hz).",
    minimum=MIN_RATE,
    maximum=MAX_RATE,
    param="rate",
    schema_extra=_INTEGER_OR_TEXT,
)
CHANNELS = Field(
    "channels",
    "integer",
    "The channel count of raw audio (downmixed to mono).",
    minimum=1,
    maximum=MAX_CHANNELS,
    param="channels",
    schema_extra=_INTEGER_OR_TEXT,
)
LANGUAGE = Field(
    "language", "string", "The spoken language (BCP-47 or ISO 639-1); detected when absent.", param="language"
)

TEXT = Field("text", "string", "The text to speak.", required=True, param="text")
VOICE_NAME = Field("voiceName", "string", "A voice: a backend voice or an Azure/legacy alias.", param="voice")
VOICE = Field("voice", "string", "The voice, when voiceName is absent.", param="voice")
OUTPUT_FORMAT = Field(
    "format",
    "string",
    "The audio format (case-insensitive); pcm (PCM16) when absent.",
    enum=tuple(OUTPUT_NAMES),
    param="format",
    blank=True,
)
OUTPUT_RATE = Field(
    "sampleRate",
    "integer",
    "The output sample rate (Hz); the format's own when absent.",
    minimum=MIN_OUTPUT_RATE,
    maximum=MAX_OUTPUT_RATE,
    param="rate",
    schema_extra=_INTEGER_OR_TEXT,
)
AZURE_OUTPUT_HEADER = Field(
    "X-Microsoft-OutputFormat",
    "string",
    "An Azure output format name (case-insensitive); wins over format and sampleRate.",
    enum=AZURE_OUTPUT_FORMATS,
    param="format",
    blank=True,
)

#: 0.12 s of 8 kHz PCM16 silence: an upload that is valid audio (the docs' "Try it out" and
#: the schemathesis run's explicit example).
_SILENCE_EXAMPLE = {
    "audioData": base64.b64encode(bytes(1920)).decode(),
    "format": "pcm16",
    "sampleRate": 8000,
}
_NULLABLE = (AUDIO_FORMAT, SAMPLE_RATE, CHANNELS, LANGUAGE)
_RAW_AUDIO = {"type": "string", "format": "binary"}
_AUDIO_HEADERS = (
    Field("X-Audio-Sample-Rate", "string", "The sample rate of the audio (Hz)."),
    Field("X-Audio-Channels", "string", "The channel count (1)."),
)
_AUDIO_OUT = {"audio/*": _RAW_AUDIO, "application/octet-stream": _RAW_AUDIO}

RECOGNIZE = Operation(
    REFERENCE,
    "Speech to text",
    (
        Reply(
            200,
            "The transcript.",
            {
                "application/json": {
                    "type": "object",
                    "required": ["text", "duration", "language"],
                    "properties": {
                        "text": {"type": "string"},
                        "duration": {"type": "number", "description": "Seconds of audio."},
                        "language": {"type": ["string", "null"]},
                    },
                }
            },
        ),
    ),
    SESSION_ERRORS,
    "JSON with base64 audio, a multipart upload, or a raw audio body (its Content-Type's rate and "
    "channels parameters describe raw PCM; the language is a query parameter).",
    query=(LANGUAGE,),
    bodies={
        "application/json": {
            **object_schema((AUDIO_DATA, *_NULLABLE), nullable=_NULLABLE),
            "examples": [_SILENCE_EXAMPLE],
        },
        "multipart/form-data": object_schema((AUDIO_FILE, AUDIO_FORMAT, SAMPLE_RATE, CHANNELS, LANGUAGE)),
        "audio/*": _RAW_AUDIO,
        "application/octet-stream": _RAW_AUDIO,
    },
)

_SYNTHESIS_FIELDS = (TEXT, VOICE_NAME, VOICE, OUTPUT_FORMAT, OUTPUT_RATE)
_SYNTHESIS_BODY = {"application/json": object_schema(_SYNTHESIS_FIELDS, nullable=_SYNTHESIS_FIELDS[1:])}

SYNTHESIZE = Operation(
    REFERENCE,
    "Text to speech (the whole audio)",
    (
        Reply(
            200,
            "The audio, with what was produced in headers.",
            _AUDIO_OUT,
            (
                *_AUDIO_HEADERS,
                Field("X-Speech-Voice", "string", "The voice that spoke."),
                Field("X-Speech-Attempts", "string", "Sessions used to get the verbatim audio."),
                Field(
                    "X-Speech-Verbatim",
                    "string",
                    "Whether the audio says exactly the text.",
                    enum=("true", "false", "unknown"),
                ),
            ),
        ),
    ),
    SESSION_ERRORS,
    headers=(AZURE_OUTPUT_HEADER,),
    bodies=_SYNTHESIS_BODY,
)

SYNTHESIZE_STREAM = Operation(
    REFERENCE,
    "Text to speech, streamed as it is produced (chunked)",
    (
        Reply(
            200,
            "The audio, chunked; a failure after the first byte ends the stream early.",
            _AUDIO_OUT,
            _AUDIO_HEADERS,
        ),
    ),
    SESSION_ERRORS,
    headers=(AZURE_OUTPUT_HEADER,),
    bodies=_SYNTHESIS_BODY,
)

INFO = Operation(
    REFERENCE,
    "The backend, voices, formats, limits and counters",
    (
        Reply(
            200,
            "What the service offers.",
            {
                "application/json": {
                    "type": "object",
                    "required": ["service", "model", "backend", "voices", "formats", "limits"],
                    "properties": {
                        "service": {"type": "string"},
                        "model": {"type": "string"},
                        "transcriptionDeployment": {"type": ["string", "null"]},
                        "backend": {"type": "string", "enum": ["azure", "openai", "local"]},
                        "protocol": {"type": "string"},
                        "features": {"type": "object", "additionalProperties": {"type": "boolean"}},
                        "voices": {"type": "array", "items": {"type": "string"}},
                        "voiceAliases": {"type": "object", "additionalProperties": {"type": "string"}},
                        "formats": {
                            "type": "object",
                            "properties": {
                                "input": {"type": "array", "items": {"type": "string"}},
                                "output": {"type": "array", "items": {"type": "string"}},
                            },
                        },
                        "limits": {"type": "object"},
                        "stats": {"type": "object"},
                    },
                }
            },
        ),
    ),
)
