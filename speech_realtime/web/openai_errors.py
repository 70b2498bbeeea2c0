"""OpenAI's error envelope ``{"error": {"message", "type", "param", "code"}}`` for ``/v1``.

Maps the service's semantic parameter names and status codes onto OpenAI's, so the official
SDKs raise the matching exception; also the ``error`` event that ends a failed SSE stream.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request

from .errors import ErrorInfo

#: The service's semantic parameters whose OpenAI field has another name (the rest keep theirs);
#: ``format`` depends on the endpoint.
_FIELDS = {"text": "input", "audio": "file", "rate": "file", "channels": "file", "body": None}


def _param(param: str | None) -> str | None:
    if param == "format":
        return "response_format" if request.path.endswith("/audio/speech") else "file"
    return _FIELDS.get(param, param) if param else None


def _error_type(status: int) -> str:
    if status == 401:
        return "authentication_error"
    if status == 403:
        return "permission_error"
    if status == 429:
        return "rate_limit_error"
    return "server_error" if status >= 500 else "invalid_request_error"


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
    return status, {"message": message, "type": _error_type(status), "param": param, "code": code}


def render_error(error: ErrorInfo) -> Response:
    """``{"error": {"message", "type", "param", "code"}}`` with OpenAI's status code."""
    status, body = _openai(error)
    response = jsonify({"error": body})
    response.status_code = status
    response.headers.update(dict(error.headers))
    return response


def error_event(error: ErrorInfo) -> dict[str, Any]:
    """A failure after the first event, as the ``error`` event the SDK's streams raise from."""
    return {"type": "error", "error": _openai(error)[1]}
