"""What one route takes and answers (:class:`Operation`), and the families' shared parts.

A route is declared by decorating its view with :func:`documented`; the OpenAPI generator
(:mod:`.document`) reads the declaration of every url rule of the app, so a route registered
twice (the legacy ``/api/speech`` prefix) or on several paths (the Azure recognition modes)
is described at each of them. A :class:`Family` says how a front end's clients authenticate
and what its error answers look like: the reference envelope, OpenAI's, or Azure's plain text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeVar

from .fields import Field

#: The view attribute that holds a route's :class:`Operation`.
ATTRIBUTE = "openapi_operation"

View = TypeVar("View", bound=Callable[..., Any])


@dataclass(frozen=True)
class Family:
    """An API family: its tag, how its clients present a key, and its error answer."""

    tag: str
    description: str
    security: tuple[str, ...]
    error_media: str
    error_schema: str


#: Security scheme names (see :data:`..document.SECURITY_SCHEMES`).
API_KEY, BEARER, SUBSCRIPTION_KEY, AZURE_TOKEN = "apiKey", "bearer", "subscriptionKey", "azureToken"
REALTIME_KEY = "realtimeApiKey"

REFERENCE = Family(
    "reference",
    "The reference API (/api/speech-realtime, and its former prefix /api/speech).",
    (API_KEY, BEARER),
    "application/json",
    "ReferenceError",
)
OPENAI = Family("openai", "The OpenAI audio API (/v1).", (BEARER,), "application/json", "OpenAIError")
AZURE = Family(
    "azure",
    "The Azure Speech REST API and the Speech SDK's WebSocket paths.",
    (SUBSCRIPTION_KEY, AZURE_TOKEN),
    "text/plain",
    "AzureError",
)
OPS = Family(
    "operations",
    "Health, readiness, metrics and this contract: a key when keys are set, unless SPEECH_OPS_OPEN.",
    (API_KEY, BEARER),
    "application/json",
    "ReferenceError",
)
#: ``/healthz``: always open.
OPEN = Family("operations", OPS.description, (), "application/json", "ReferenceError")
REALTIME = Family(
    "realtime",
    "Realtime clients and browsers: the pass-through (/v1/realtime, /openai/v1/realtime, "
    "/openai/realtime), client secrets and WebRTC calls. An inbound key or a client secret, in "
    "Authorization: Bearer, api-key, X-API-Key or the openai-insecure-api-key.<value> WebSocket "
    "subprotocol.",
    (BEARER, REALTIME_KEY, API_KEY),
    "application/json",
    "OpenAIError",
)
#: The seed-004 relay: Realtime credentials, the reference API's error envelope.
RELAY = Family(REALTIME.tag, REALTIME.description, REALTIME.security, "application/json", "ReferenceError")
#: The demo page: open while ``SPEECH_DEMO`` is on (404 when off).
DEMO = Family(
    "demo",
    "The demo page and its same-origin session endpoint (SPEECH_DEMO).",
    (),
    "application/json",
    "ReferenceError",
)
FAMILIES = (REFERENCE, OPENAI, AZURE, REALTIME, DEMO, OPS)

#: What each documented error status means, whatever the family's envelope.
ERROR_TEXT = MappingProxyType(
    {
        400: "Bad request: a field, the body, the Host header or the WebSocket handshake is not valid.",
        401: "A key (or an issued token) is missing or wrong (only when SPEECH_API_KEYS is set).",
        403: "The request's Origin is not allowed (SPEECH_CORS_ORIGINS).",
        404: "Not found.",
        408: "The client sent its request body too slowly.",
        413: "The request body (or the audio) is larger than the limit.",
        415: "The Content-Type is not one this route takes, or the bytes are not decodable audio.",
        422: "The backend's content filter stopped the response.",
        426: "The WebSocket handshake names a protocol version other than 13.",
        429: "Too many sessions for this key, or the backend's rate limit; see Retry-After.",
        502: "The backend failed or refused the session (upstream_error, upstream_auth, upstream_config).",
        503: "No free upstream session slot, the circuit breaker is open, or the service is draining; "
        "see Retry-After.",
        501: "Not available on this backend (WebRTC calls on the offline engine: use the WebSocket "
        "relay or pass-through).",
        504: "The backend did not answer within the request deadline.",
    }
)
#: Every route can answer these: the Host check, the key check and the Origin check.
GUARD_ERRORS = (400, 401, 403)
#: A route that reads a body and runs a backend session can also answer these.
SESSION_ERRORS = (*GUARD_ERRORS, 408, 413, 415, 422, 429, 502, 503, 504)


@dataclass(frozen=True)
class Reply:
    """A success answer: its status, its media types with their schemas, its headers."""

    status: int
    description: str
    content: Mapping[str, Mapping[str, Any]] = field(default_factory=lambda: MappingProxyType({}))
    headers: tuple[Field, ...] = ()


@dataclass(frozen=True)
class Operation:
    """One route's contract: what it takes (path, query, headers, bodies by media type) and
    answers (success replies, then the error statuses in its family's shape).

    ``security``: the schemes this route takes when not its family's (``None``: the family's).
    ``websocket``: a WebSocket upgrade route, described as a GET whose success is 101 (the
    OpenAPI 3.1 has no WebSocket operations); ``x-websocket`` says so in the document.
    """

    family: Family
    summary: str
    replies: tuple[Reply, ...]
    errors: tuple[int, ...] = GUARD_ERRORS
    description: str = ""
    path: tuple[Field, ...] = ()
    query: tuple[Field, ...] = ()
    headers: tuple[Field, ...] = ()
    bodies: Mapping[str, Mapping[str, Any]] = field(default_factory=lambda: MappingProxyType({}))
    security: tuple[str, ...] | None = None
    websocket: bool = False


def documented(operation: Operation) -> Callable[[View], View]:
    """Attach ``operation`` to a view (put it under the route decorator)."""

    def attach(view: View) -> View:
        setattr(view, ATTRIBUTE, operation)
        return view

    return attach


def declaration(view: Callable[..., Any]) -> Operation | None:
    """The :class:`Operation` a view was declared with, if any."""
    return getattr(view, ATTRIBUTE, None)
