"""The answers the server gives itself (bad request line, headers too large, late request, a
WebSocket beyond its budget, a request refused while draining), as bytes for the socket, in
the envelope of the API family the request's path belongs to.

They come before (or instead of) the app, so they are rendered by the app's own family
mechanism (:func:`speech_realtime.web.errors.render_error`) in a request context made for the
path: ``/v1`` paths get OpenAI's envelope, Azure paths Azure's body, the rest the reference's.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from http import HTTPStatus
from types import MappingProxyType
from typing import Any

from flask import Flask
from gunicorn.http import errors as http_errors

from ..errors import SpeechError
from .errors import INTERNAL_MESSAGE, ErrorInfo, render_error

log = logging.getLogger(__name__)

#: Headers the wire answer sets itself.
_FRAMING = ("content-length", "connection")


#: gunicorn's parse errors: the status and code each is answered with (first match wins). A
#: header the app tried to send is the app's fault, not the client's.
_STATUS_FOR: tuple[tuple[type[Exception], int, str], ...] = (
    (http_errors.InvalidResponseHeader, 500, "internal_error"),
    (http_errors.InvalidResponseHeaderName, 500, "internal_error"),
    (http_errors.LimitRequestLine, 414, "uri_too_long"),
    (http_errors.LimitRequestHeaders, 431, "headers_too_large"),
    (http_errors.UnsupportedTransferCoding, 501, "not_implemented"),
    (http_errors.ExpectationFailed, 417, "expectation_failed"),
    (http_errors.ForbiddenProxyRequest, 403, "forbidden"),
    (http_errors.ConfigurationProblem, 500, "internal_error"),
    (http_errors.ParseException, 400, "invalid_request"),
)


def classify(exc: BaseException) -> tuple[int, str, str, dict[str, str]]:
    """Status, code, message and headers of the answer to a failure gunicorn caught."""
    if isinstance(exc, SpeechError):
        return exc.status, exc.code, exc.message, dict(exc.headers)
    status, code = next(((s, c) for kind, s, c in _STATUS_FOR if isinstance(exc, kind)), (500, ""))
    if code and status < 500:
        return status, code, str(exc) or HTTPStatus(status).phrase, {}
    return 500, "internal_error", INTERNAL_MESSAGE, {}


def _status_line(status: int) -> str:
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Error"
    return f"HTTP/1.1 {status} {reason}"


def _wire(status: int, headers: list[tuple[str, str]], body: bytes) -> bytes:
    lines = [
        _status_line(status),
        *(f"{name}: {value}" for name, value in headers if name.lower() not in _FRAMING),
        f"Content-Length: {len(body)}",
        "Connection: close",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def error_bytes(status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> bytes:
    """A complete HTTP/1.1 answer with the reference's JSON error body; the connection closes."""
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    return _wire(status, [("Content-Type", "application/json"), *(headers or {}).items()], body)


def family_error_bytes(
    app: Any, path: str, status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> bytes:
    """The answer for a request to ``path`` in its family's envelope (the reference's when the
    app is not a Flask app or the path is unknown); the connection closes."""
    if not isinstance(app, Flask) or not path.startswith("/"):
        return error_bytes(status, code, message, headers)
    info = ErrorInfo(status, code, message, None, MappingProxyType(dict(headers or {})))
    try:
        with app.test_request_context(path):
            response = render_error(info)
            return _wire(response.status_code, list(response.headers.items()), response.get_data())
    except Exception:  # never worse than the reference envelope
        log.exception("could not render the %d answer for %s", status, path)
        return error_bytes(status, code, message, headers)
