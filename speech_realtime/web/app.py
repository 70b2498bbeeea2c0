"""The Flask application factory: settings in, one service, the blueprints, one error handler,
one security check before every route."""

from __future__ import annotations

from flask import Flask, Response, request

from ..config import Settings
from ..speech import SpeechService
from ..websocket_upgrade import check_upgrade
from . import errors, ops, security
from .azure_sdk import azure_sdk
from .azure_speech import azure_speech
from .demo import demo
from .openai_audio import openai_audio
from .openapi import openapi
from .realtime_http import realtime_http
from .realtime_passthrough import realtime_passthrough
from .relay import relay
from .speech_api import speech_api


class SpeechFlask(Flask):
    """Flask, answering an ``OPTIONS`` request that is not a CORS preflight (security answers
    those) 204 with ``Allow`` and no body, instead of 200 with an empty ``text/html`` one."""

    def make_default_options_response(self) -> Response:
        adapter = request.url_rule and self.create_url_adapter(request)
        methods = adapter.allowed_methods() if adapter else ["OPTIONS"]
        response = Response(status=204)
        response.headers["Allow"] = ", ".join(sorted(methods))
        del response.headers["Content-Type"]
        return response


def create_app(settings: Settings, *, service: SpeechService | None = None) -> Flask:
    """The WSGI app for ``settings``, on ``service`` (default: a :class:`SpeechService` of the
    settings; tests pass a stand-in)."""
    app = SpeechFlask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.sort_keys = False
    app.extensions["speech"] = service or SpeechService(settings)
    errors.install(app)
    ops.install(app)
    security.install(app, settings)
    app.before_request(_check_upgrade)
    app.register_blueprint(speech_api)
    app.register_blueprint(openai_audio)
    app.register_blueprint(azure_speech)
    app.register_blueprint(azure_sdk)
    app.register_blueprint(realtime_passthrough)
    app.register_blueprint(demo)
    app.register_blueprint(realtime_http)
    # The reference's former Azure Speech routes (/api/speech/*) answer like /api/speech-realtime/*.
    app.register_blueprint(speech_api, url_prefix="/api/speech", name="speech_api_legacy")
    app.register_blueprint(openapi)
    app.register_blueprint(relay)
    return app


def _check_upgrade() -> None:
    """A request routed to a WebSocket route is upgraded only after a valid handshake; a bad one
    is answered in its family's envelope (400, or 426 for the protocol version)."""
    rule = request.url_rule
    if rule is not None and rule.websocket:
        check_upgrade(request.method, request.headers)
