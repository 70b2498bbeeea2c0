"""The Azure Speech front ends' fields and routes: REST (synthesis, voices, short-audio
recognition, tokens) and the Speech SDK's WebSocket paths.

The request checks of :mod:`..azure_speech` read these fields.
"""

from __future__ import annotations

from ...audio.output import AZURE_OUTPUT_FORMATS
from .fields import Field
from .operations import AZURE, GUARD_ERRORS, SESSION_ERRORS, SUBSCRIPTION_KEY, Operation, Reply

OUTPUT_FORMAT = Field(
    "X-Microsoft-OutputFormat",
    "string",
    "The audio format (case-insensitive).",
    enum=AZURE_OUTPUT_FORMATS,
    default="riff-16khz-16bit-mono-pcm",
    param="format",
    blank=True,
)
LANGUAGE = Field("language", "string", "The recognition language (e.g. en-US).", param="language")
RESULT_FORMAT = Field(
    "format",
    "string",
    "simple, or detailed (adds NBest); case-insensitive.",
    enum=("simple", "detailed"),
    default="simple",
    blank=True,
)
PROFANITY = Field(
    "profanity",
    "string",
    "How profanity is written in every text form; case-insensitive.",
    enum=("masked", "removed", "raw"),
    default="masked",
    blank=True,
)

_RAW = {"type": "string", "format": "binary"}
#: The media types an SSML body may be declared as.
SSML_TYPES = ("application/ssml+xml", "application/xml", "text/xml")
_SSML = {"type": "string", "description": "An SSML <speak> document."}
_AUDIO_OUT = {"audio/*": _RAW, "application/octet-stream": _RAW}

SYNTHESIZE = Operation(
    AZURE,
    "Text to speech: SSML in, audio out (streamed)",
    (Reply(200, "The audio, chunked, in the X-Microsoft-OutputFormat.", _AUDIO_OUT),),
    SESSION_ERRORS,
    headers=(OUTPUT_FORMAT,),
    bodies={media: _SSML for media in SSML_TYPES},
)

VOICES = Operation(
    AZURE,
    "The voice catalogue, in Azure's shape",
    (
        Reply(
            200,
            "The voices.",
            {
                "application/json": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["Name", "ShortName", "Locale"],
                        "properties": {
                            "Name": {"type": "string"},
                            "ShortName": {"type": "string"},
                            "Locale": {"type": "string"},
                        },
                    },
                }
            },
        ),
    ),
)

RECOGNIZE = Operation(
    AZURE,
    "Speech to text, short audio (one utterance, final result)",
    (
        Reply(
            200,
            "Success, or InitialSilenceTimeout when the audio has no words (as Azure answers).",
            {
                "application/json": {
                    "type": "object",
                    "required": ["RecognitionStatus", "Offset", "Duration"],
                    "properties": {
                        "RecognitionStatus": {"type": "string", "enum": ["Success", "InitialSilenceTimeout"]},
                        "DisplayText": {"type": "string"},
                        "Offset": {"type": "integer", "description": "100-ns ticks."},
                        "Duration": {"type": "integer", "description": "100-ns ticks."},
                        "NBest": {"type": "array", "items": {"type": "object"}},
                    },
                }
            },
        ),
    ),
    SESSION_ERRORS,
    "WAV PCM, Ogg Opus, or raw PCM described by `audio/wav; codecs=audio/pcm; samplerate=N`.",
    query=(LANGUAGE, RESULT_FORMAT, PROFANITY),
    bodies={"audio/*": _RAW, "application/octet-stream": _RAW},
)

ISSUE_TOKEN = Operation(
    AZURE,
    "A token for Authorization: Bearer, valid for ten minutes",
    (Reply(200, "The token.", {"text/plain": {"type": "string"}}),),
    GUARD_ERRORS,
    "Takes a subscription key only (a token cannot renew itself).",
    security=(SUBSCRIPTION_KEY,),
)

WEBSOCKET = Operation(
    AZURE,
    "Speech SDK WebSocket (USP): upgrade to a WebSocket",
    (Reply(101, "Switching Protocols: the socket speaks the Speech SDK's protocol."),),
    (*GUARD_ERRORS, 426, 503),
    "A WebSocket route (x-websocket): the Speech SDKs connect here with host= or endpoint=. A plain "
    "GET without an upgrade is a 400 saying so.",
    websocket=True,
)
