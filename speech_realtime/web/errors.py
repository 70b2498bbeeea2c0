"""One error handler for the whole app, rendering the envelope of the API family a request was for.

Every API family (the reference, Azure Speech REST, the OpenAI audio API, ...) has its own
error body. A family registers the path prefixes it serves and a renderer; the one handler
turns any failure (a :class:`SpeechError`, a werkzeug ``HTTPException`` such as the 404 of an
unknown path or the 405 of a wrong method, or an unexpected exception) into an
:class:`ErrorInfo` and hands it to the renderer of the family the request was for: the
family of the blueprint whose route matched, else the longest registered prefix of the
path, else the reference envelope ``{"error": {"code", "message"}}``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from flask import Blueprint, Flask, Response, current_app, has_app_context, jsonify, request
from flask.sansio.blueprints import BlueprintSetupState
from werkzeug.exceptions import HTTPException

from ..errors import PayloadTooLarge, SpeechError

log = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "invalid_request",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    413: "payload_too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    431: "headers_too_large",
}
_HTTP_PARAMS = {413: "body"}
INTERNAL_MESSAGE = "internal error; see the service log"


def body_too_large(limit: int) -> PayloadTooLarge:
    """The 413 for a request body over ``limit`` bytes (werkzeug's own 413s say the same)."""
    return PayloadTooLarge(f"the request body is larger than the limit of {limit} bytes", param="body")


@dataclass(frozen=True)
class ErrorInfo:
    """What a failure means for the client, independent of any family's envelope.

    ``param`` is the semantic input at fault (``text``, ``voice``, ``audio``, ``rate``, ...,
    see :class:`speech_realtime.errors.SpeechError`); each renderer maps it onto its own
    field names. ``headers`` are the extra headers the answer must carry (``Retry-After``,
    ``Allow``).
    """

    status: int
    code: str
    message: str
    param: str | None = None
    headers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def from_exception(cls, exc: BaseException) -> ErrorInfo:
        """The client's view of ``exc``; unexpected exceptions become a 500 with no details."""
        if isinstance(exc, SpeechError):
            return cls(exc.status, exc.code, exc.message, exc.param, MappingProxyType(dict(exc.headers)))
        if isinstance(exc, HTTPException):
            status = exc.code or 500
            headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
            message = exc.description or exc.name
            if status == 413 and has_app_context() and current_app.config.get("MAX_CONTENT_LENGTH"):
                message = body_too_large(current_app.config["MAX_CONTENT_LENGTH"]).message
            return cls(
                status,
                _HTTP_CODES.get(status, "http_error"),
                message,
                _HTTP_PARAMS.get(status),
                MappingProxyType(headers),
            )
        return cls(500, "internal_error", INTERNAL_MESSAGE)


Renderer = Callable[[ErrorInfo], Response]


REFERENCE_FIELDS = MappingProxyType(
    {"text": "text", "voice": "voiceName", "audio": "audioData", "rate": "sampleRate", "body": "body"}
)


def render_reference(error: ErrorInfo) -> Response:
    """The reference API's envelope: ``{"error": {"code", "message"}}``.

    When the input at fault is known, ``"param"`` names it in the reference's own field
    names (``voice`` -> ``voiceName``, ``audio`` -> ``audioData``, ``rate`` -> ``sampleRate``).
    """
    body: dict[str, str] = {"code": error.code, "message": error.message}
    if error.param:
        body["param"] = REFERENCE_FIELDS.get(error.param, error.param)
    response = jsonify({"error": body})
    response.status_code = error.status
    response.headers.update(dict(error.headers))
    return response


@dataclass
class _Registry:
    """The families of one app: renderers by blueprint name and by path prefix."""

    by_blueprint: dict[str, Renderer] = field(default_factory=dict)
    by_prefix: dict[str, Renderer] = field(default_factory=dict)

    def renderer(self, path: str, blueprint: str | None) -> Renderer:
        for name in _blueprint_chain(blueprint):
            if name in self.by_blueprint:
                return self.by_blueprint[name]
        matches = [prefix for prefix in self.by_prefix if _under(path, prefix)]
        return self.by_prefix[max(matches, key=len)] if matches else render_reference


def _blueprint_chain(blueprint: str | None) -> list[str]:
    """``a.b.c`` -> ``["a.b.c", "a.b", "a"]``: a nested blueprint falls back to its parents."""
    if not blueprint:
        return []
    parts = blueprint.split(".")
    return [".".join(parts[:n]) for n in range(len(parts), 0, -1)]


def _under(path: str, prefix: str) -> bool:
    stem = prefix.rstrip("/")
    return path == stem or path.startswith(stem + "/")


def _registry(app: Flask) -> _Registry:
    return app.extensions.setdefault("speech_error_families", _Registry())


def register_family(target: Flask | Blueprint, prefixes: tuple[str, ...], render: Renderer) -> None:
    """Render the errors of requests under ``prefixes`` (and of ``target``'s routes) with ``render``.

    ``target`` is the app, or a blueprint (then the family is registered on every app the
    blueprint is registered on, and errors raised in its routes use ``render`` whatever
    their path). A prefix covers the path itself and everything below it, so 404s of
    unknown paths and 405s of wrong methods under it get the family's envelope too.
    """
    if isinstance(target, Blueprint):

        def record(state: BlueprintSetupState) -> None:
            registry = _registry(state.app)
            registry.by_blueprint[f"{state.name_prefix}.{state.name}".lstrip(".")] = render
            for prefix in prefixes:
                registry.by_prefix[prefix] = render

        target.record(record)  # every registration, under each name it is given
        return
    registry = _registry(target)
    for prefix in prefixes:
        registry.by_prefix[prefix] = render


def error_info(exc: BaseException) -> ErrorInfo:
    """:meth:`ErrorInfo.from_exception`, logging what operators need: 5xx causes, once."""
    info = ErrorInfo.from_exception(exc)
    if not isinstance(exc, SpeechError | HTTPException):
        log.error("unexpected error", exc_info=exc)
    elif info.status >= 500:
        log.warning("%s: %s", info.code, info.message)
    return info


def family_renderer() -> Renderer:
    """The renderer of the family the current request is for (also tells other hooks its family)."""
    return _registry(current_app).renderer(request.path, request.blueprint)


def render_error(info: ErrorInfo) -> Response:
    """``info`` in the envelope of the family the current request is for.

    A renderer that fails is logged and replaced by the reference envelope, so an error
    answer is never Flask's HTML page.
    """
    render = family_renderer()
    try:
        return render(info)
    except Exception:
        log.exception("the error renderer for %s failed", request.path)
        return render_reference(info)


def handle_error(exc: Exception) -> Response:
    """The app's one error handler (registered for ``Exception`` by :func:`install`)."""
    return render_error(error_info(exc))


def install(app: Flask) -> None:
    """Make :func:`handle_error` answer every failure of ``app``."""
    _registry(app)
    app.register_error_handler(Exception, handle_error)
