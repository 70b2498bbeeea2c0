"""The Flask application factory and the one place errors become HTTP responses."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

from ..config import Settings
from ..errors import SpeechError
from ..speech import SpeechService
from .speech_api import speech_api

log = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "invalid_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    """The JSON error body every failure is answered with."""
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    response.headers.update(headers or {})
    return response


def _speech_error(exc: SpeechError) -> Response:
    if exc.status >= 500:
        log.warning("%s: %s", exc.code, exc.message)
    return error_response(exc.status, exc.code, exc.message, exc.headers)


def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    code = _HTTP_CODES.get(status, "http_error")
    return error_response(status, code, exc.description or exc.name)


def _unexpected(exc: Exception) -> Response:
    log.exception("unexpected error")
    return error_response(500, "internal_error", "internal error; see the service log")


def create_app(settings: Settings, *, service: SpeechService | None = None, **service_options: Any) -> Flask:
    """The WSGI app for ``settings``; ``service_options`` go to :class:`SpeechService`."""
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.sort_keys = False
    app.extensions["speech"] = service or SpeechService(settings, **service_options)
    app.register_blueprint(speech_api)
    app.register_error_handler(SpeechError, _speech_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
    return app
