"""Request parsing every blueprint shares: bounded bodies, JSON objects, typed fields, audio uploads.

Each check raises a :class:`SpeechError` naming the client's field (``name``, in the family's
own vocabulary) in its message and the semantic input (``param``: ``text``, ``voice``,
``audio``, ``rate``, ``channels``, ``language``, ...) so every family's renderer can map it.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from types import MappingProxyType
from typing import Any

from flask import current_app, request

from ..audio import CONTENT_TYPES, INPUT_NAMES, input_name
from ..errors import BadRequest, UnsupportedMedia
from .contract.fields import Field
from .contract.reference import AUDIO_DATA, AUDIO_FILE, AUDIO_FORMAT, CHANNELS, SAMPLE_RATE
from .errors import body_too_large

_CHUNK = 64 * 1024
_DATA_URL = re.compile(r"^data:[\w/.+-]*(;[\w=.-]+)*;base64,", re.IGNORECASE)
_WHITESPACE = re.compile(r"\s+")


def body_limit() -> int:
    """The configured request body limit of the current app (``SPEECH_MAX_BODY_BYTES``)."""
    return int(current_app.config["MAX_CONTENT_LENGTH"])


def read_body(limit: int | None = None) -> bytes:
    """The whole request body, at most ``limit`` bytes (default: the app's body limit).

    A declared ``Content-Length`` over the limit is refused before reading. A body of unknown
    length (chunked) is read up to ``limit + 1`` bytes: one byte more than the limit is a
    413, never a body silently cut to the limit.
    """
    limit = body_limit() if limit is None else limit
    length = request.content_length
    if length is not None and length > limit:
        raise body_too_large(limit)
    environ = request.environ
    if length is None and "wsgi.input_terminated" in environ:
        # The server de-chunks and ends the stream; werkzeug's own wrapper would stop at
        # exactly the limit and hide the excess, so read the server's stream directly.
        stream = environ["wsgi.input"]
    else:
        stream = request.stream  # bounded by Content-Length (empty when there is none)
    data = bytearray()
    while len(data) <= limit:
        chunk = stream.read(min(_CHUNK, limit + 1 - len(data)))
        if not chunk:
            return bytes(data)
        data += chunk
    raise body_too_large(limit)


def json_body(limit: int | None = None) -> dict[str, Any]:
    """The request's JSON object (415 unless the body is declared JSON, 400 unless an object)."""
    if not request.is_json:
        raise UnsupportedMedia(
            f"expected Content-Type application/json, got {request.mimetype or 'none'!r}", param="body"
        )
    raw = read_body(limit)
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("the body is not valid JSON", code="invalid_json", param="body") from None
    except RecursionError:
        raise BadRequest("the JSON body is nested too deeply", code="invalid_json", param="body") from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object", code="invalid_json", param="body")
    return body


def field(
    body: Mapping[str, Any],
    name: str,
    kind: type | tuple[type, ...],
    required: bool = False,
    param: str | None = None,
) -> Any:
    """``body[name]`` if it is a ``kind`` (``None`` when absent or null, unless ``required``).

    Booleans are never numbers; ``float`` accepts integers (returned as ``float``).
    """
    value = body.get(name)
    if value is None:
        if required:
            raise BadRequest(f"'{name}' is required", code="missing_field", param=param)
        return None
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if float in kinds and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        expected = " or ".join(_KIND_NAMES.get(k, k.__name__) for k in kinds)
        raise BadRequest(f"'{name}' must be {expected}", code="invalid_field", param=param)
    return value


_KINDS: dict[str, type] = {"string": str, "number": float, "boolean": bool, "object": dict, "array": list}


def read(body: Mapping[str, Any], spec: Field) -> Any:
    """``body``'s value of the declared field ``spec``, checked as declared (type, required);
    integers may arrive as text (see :func:`integer`)."""
    if spec.type == "integer":
        return integer(body.get(spec.name), spec.name, param=spec.param)
    return field(body, spec.name, _KINDS[spec.type], spec.required, spec.param)


_KIND_NAMES = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "a boolean",
    dict: "an object",
    list: "an array",
}


def integer(value: Any, name: str, param: str | None = None) -> int | None:
    """An integer that may arrive as a JSON number or as text (form field, query, MIME parameter).

    ``None`` or ``""`` is absent (``None``); anything else that is not a whole number is a 400.
    Ranges are the service's to check (it knows the limits).
    """
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise BadRequest(f"'{name}' must be an integer", code="invalid_field", param=param)
    if isinstance(value, int):
        return value
    text = value.strip()
    if not re.fullmatch(r"[+-]?\d{1,12}", text):
        raise BadRequest(
            f"'{name}' must be an integer, not {value[:40]!r}", code="invalid_field", param=param
        )
    return int(text)


def decode_base64(data: str, name: str, param: str | None = "audio") -> bytes:
    """Base64 text (line breaks and a ``data:...;base64,`` prefix allowed) as bytes.

    Text without either is decoded as it is: looking for them with the expressions costs more
    than the decoding (half a millisecond for a 50 kB recording), so only text that does not
    decode is searched.
    """
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        pass
    try:
        return base64.b64decode(_WHITESPACE.sub("", _DATA_URL.sub("", data, count=1)), validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest(f"'{name}' is not valid base64", code="invalid_base64", param=param) from None


@dataclass(frozen=True)
class UploadFields:
    """Where a family's clients put the audio and what they say about it (declared fields).

    ``data``: the JSON field holding base64 audio (``None``: JSON uploads are not accepted);
    ``file``: the multipart field holding the audio file; ``format``, ``rate``, ``channels``:
    the JSON / form fields naming the encoding, sample rate and channel count (``None``: the
    family has no such field). A raw audio body describes itself with its Content-Type and
    its MIME parameters ``rate`` (or ``samplerate``) and ``channels``.
    """

    data: Field | None = AUDIO_DATA
    file: Field = AUDIO_FILE
    format: Field | None = AUDIO_FORMAT
    rate: Field | None = SAMPLE_RATE
    channels: Field | None = CHANNELS


REFERENCE_UPLOAD = UploadFields()


@dataclass(frozen=True)
class Upload:
    """Audio from a request, with what the request says about it.

    ``label`` is the input-format name for the audio layer (``None``: sniff the container);
    ``form`` holds the request's other fields: the JSON object (without the audio), the multipart
    form fields, or the query parameters of a raw body (values are text except in JSON).
    """

    data: bytes
    label: str | None
    rate: int | None
    channels: int
    form: Mapping[str, Any] = dataclass_field(default_factory=lambda: MappingProxyType({}))


def _label(name: Any, field_name: str) -> str | None:
    if name is None or name == "":
        return None
    if not isinstance(name, str):
        raise BadRequest(f"'{field_name}' must be a string", code="invalid_field", param="format")
    return input_name(name)


def _optional(form: Mapping[str, Any], spec: Field | None) -> Any:
    return read(form, spec) if spec else None


def _channels(form: Mapping[str, Any], spec: Field | None) -> int:
    channels = _optional(form, spec)
    return 1 if channels is None else channels


def _json_upload(fields: UploadFields) -> Upload:
    assert fields.data is not None
    body = json_body()
    audio = decode_base64(read(body, fields.data), fields.data.name)
    fmt = body.get(fields.format.name, "pcm16") if fields.format else "pcm16"
    return Upload(
        audio,
        _label(fmt, fields.format.name if fields.format else "format"),
        _optional(body, fields.rate),
        _channels(body, fields.channels),
        # without the base64 text: it is freed now, not held (as large as the body) until the end
        MappingProxyType({name: value for name, value in body.items() if name != fields.data.name}),
    )


def _multipart_upload(fields: UploadFields) -> Upload:
    # werkzeug's form parser enforces the body limit itself, chunked bodies included (413).
    upload = request.files.get(fields.file.name)
    if upload is None:
        raise BadRequest(
            f"a multipart upload needs the audio in a field named '{fields.file.name}'",
            code="missing_field",
            param="audio",
        )
    form = request.form
    filename = upload.filename or ""
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    named = form.get(fields.format.name) if fields.format else None
    label = named or CONTENT_TYPES.get(upload.mimetype) or INPUT_NAMES.get(extension)
    return Upload(
        upload.read(),
        _label(label, fields.format.name if fields.format else "format"),
        _optional(form, fields.rate),
        _channels(form, fields.channels),
        MappingProxyType(form.to_dict()),
    )


def _raw_upload() -> Upload:
    params = {key.lower(): value for key, value in request.mimetype_params.items()}
    rate_name = "samplerate" if "samplerate" in params else "rate"
    return Upload(
        read_body(),
        CONTENT_TYPES.get(request.mimetype) or None,
        integer(params.get(rate_name), rate_name, param="rate"),
        _channels(params, CHANNELS),
        MappingProxyType(request.args.to_dict()),
    )


def upload(fields: UploadFields = REFERENCE_UPLOAD) -> Upload:
    """The audio of the request: JSON with base64 audio, a raw ``audio/*`` body, or multipart.

    Bodies are bounded by the app's body limit (413 beyond it, chunked bodies included);
    any other Content-Type is a 415 that says what is accepted.
    """
    mimetype = request.mimetype
    if request.is_json and fields.data is not None:
        return _json_upload(fields)
    if mimetype == "multipart/form-data":
        return _multipart_upload(fields)
    if mimetype.startswith("audio/") or mimetype in CONTENT_TYPES:
        return _raw_upload()
    accepted = [f"JSON with base64 '{fields.data.name}'"] if fields.data is not None else []
    accepted += ["an audio/* body", f"a multipart upload with a '{fields.file.name}' field"]
    raise UnsupportedMedia(
        f"unsupported Content-Type {mimetype or 'none'!r}: send {', '.join(accepted[:-1])} or {accepted[-1]}",
        param="body",
    )
