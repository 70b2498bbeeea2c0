"""Who may call the service and from where: inbound keys, issued tokens, Origin, Host and CORS.

One ``before_request`` hook (:func:`install`) checks every request before any route runs; a
WebSocket upgrade is an ordinary GET to it, so a refused upgrade is an HTTP answer and no socket
or upstream session ever exists. In order:

1. ``/healthz`` is always open (the process answers);
2. ``Host`` must be an allowed name (:class:`Policy` ``hosts``), else 400: a page whose DNS name
   was rebound to this machine cannot reach the service;
3. an ``Origin`` that is neither allowed (``SPEECH_CORS_ORIGINS``) nor the request's own host is
   refused 403 before any work (CORS alone would let a page POST a "simple" multipart request);
   a preflight from an allowed origin is answered here, with the headers that family's browser
   clients send;
4. with inbound keys: the operations routes need one unless ``SPEECH_OPS_OPEN``; every other
   route needs one in its family's header (:data:`RULES`), compared in constant time with every
   configured key; Azure routes also take a token issued by ``/sts/v1.0/issueToken``
   (signature and expiry checked), and so do the reference routes as ``Bearer``. Missing or
   wrong: 401 in the family's error shape. The demo page (``SPEECH_DEMO``) needs no key: its
   token endpoint answers only the page's own origin (web/demo.py).

The caller's opaque id (an HMAC of its key with the token secret, never the key) goes into
:data:`~speech_realtime.callers.CALLER` for the per-key session cap.

Realtime upgrades and WebRTC calls (:data:`REALTIME_PATHS`) also take a key the way Realtime
clients send one: ``Authorization: Bearer``, ``api-key`` (Azure clients), ``X-API-Key`` (the
reference's), or the ``openai-insecure-api-key.<key>`` WebSocket subprotocol (browsers). There a client secret
(``ek_...``, :mod:`~speech_realtime.realtime.client_secrets`) is taken in any of those places,
or in an ``api-key`` query parameter (rt-client in a browser), with or without inbound keys:
it must be valid, unexpired and unused, and is used up by this request; its claims are left
in ``flask.g.client_secret`` for the route (the session options it fixes).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, g, request

from ..callers import CALLER
from ..config import Settings
from ..errors import BadRequest, SpeechError
from ..realtime import client_secrets
from ..tokens import new_secret, token_claims
from . import errors
from .azure_speech import render_azure
from .openai_errors import render_error as render_openai

#: ``app.extensions`` key of the token signing secret (shared by every worker: made before fork).
TOKEN_SECRET = "azure_token_secret"
#: ``app.extensions`` key of the app's :class:`Policy`.
POLICY = "speech_security"
#: Always open, whatever the configuration.
OPEN_PATHS = ("/healthz",)
#: Operations routes: a key when keys are set, unless ``SPEECH_OPS_OPEN=true``.
OPS_PATHS = ("/readyz", "/metrics", "/openapi.json", "/docs")
#: The Azure token service takes a subscription key only (a token cannot renew itself forever).
ISSUE_TOKEN_PATH = "/sts/v1.0/issueToken"
#: The demo page and, under the prefix, its files and token endpoint: no key while it is enabled.
DEMO_PAGE, DEMO_PREFIX = "/", "/demo"
#: Host names a loopback-bound service answers by default (any port).
LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]")
#: Request headers a preflight may ask for: what the reference, Azure and OpenAI clients send.
CORS_HEADERS = frozenset(
    {
        "authorization",
        "content-type",
        "x-api-key",
        "ocp-apim-subscription-key",
        "x-microsoft-outputformat",
        "x-connectionid",
        "x-request-id",
        "openai-organization",
        "openai-project",
        "openai-beta",
    }
)
#: Header prefixes a preflight may ask for (the openai SDK's ``x-stainless-*`` telemetry).
CORS_HEADER_PREFIXES = ("x-stainless-",)
#: Response headers a browser script may read.
EXPOSED_HEADERS = ", ".join(
    (
        "Retry-After",
        "X-Request-ID",
        "X-Audio-Sample-Rate",
        "X-Audio-Channels",
        "X-Speech-Voice",
        "X-Speech-Speed",
        "X-Speech-Speed-Note",
        "X-Speech-Verbatim",
        "X-Speech-Attempts",
        "Location",  # the WebRTC call's path (POST /v1/realtime/calls)
    )
)
CORS_MAX_AGE = "600"
#: ``app.extensions`` key of the :class:`~..realtime.client_secrets.UsedSecrets` of the app.
USED_SECRETS = "realtime_used_secrets"
#: Realtime WebSocket upgrades (the pass-through and the relay) and WebRTC calls: these take a
#: client secret, and a key in any of the Realtime clients' places (see the module docstring).
REALTIME_PATHS = (
    "/openai/v1/realtime",
    "/v1/realtime",
    "/openai/realtime",
    "/realtime",
    "/api/speech-realtime/ws",
    "/v1/realtime/calls",
)
#: The WebSocket subprotocol prefix that carries a key or client secret from a browser.
KEY_SUBPROTOCOL = "openai-insecure-api-key."


class Unauthorized(SpeechError):
    """No key, or not a valid one, for a route that needs one."""

    status = 401
    code = "invalid_api_key"

    @property
    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="speech-realtime"'}


class Forbidden(SpeechError):
    """A browser origin that is not allowed to call the service."""

    status = 403
    code = "origin_not_allowed"


@dataclass(frozen=True)
class Policy:
    """What :func:`check` enforces, from :class:`Settings` and the token secret."""

    keys: tuple[bytes, ...]  # SHA-256 digests of the inbound keys
    secret: bytes
    ops_open: bool
    origins: frozenset[str]
    any_origin: bool
    hosts: frozenset[str] | None  # None: any Host
    demo: bool = False

    @classmethod
    def from_settings(cls, settings: Settings, secret: bytes) -> Policy:
        hosts: frozenset[str] | None = frozenset(settings.allowed_hosts)
        if "*" in settings.allowed_hosts or (not settings.allowed_hosts and not settings.loopback):
            hosts = None
        elif not settings.allowed_hosts:
            hosts = frozenset(LOCAL_HOSTS)
        return cls(
            keys=tuple(_digest(key) for key in settings.api_keys),
            secret=secret,
            ops_open=settings.ops_open,
            origins=frozenset(settings.cors_origins) - {"*"},
            any_origin="*" in settings.cors_origins,
            hosts=hosts,
            demo=settings.demo_enabled,
        )

    def __repr__(self) -> str:  # keys and secret stay out of every log and traceback
        return f"Policy(keys={len(self.keys)}, ops_open={self.ops_open}, hosts={self.hosts})"

    def caller_id(self, key: bytes) -> str:
        """An opaque id of a key (its digest): the same in every worker, useless for guessing it."""
        return hmac.new(self.secret, b"caller\0" + key, hashlib.sha256).hexdigest()[:24]

    def match_key(self, presented: str) -> str | None:
        """The caller id if ``presented`` is a configured key. Digests of equal length are
        compared with every key in constant time, so neither the key nor its length leaks."""
        candidate = _digest(presented)
        found = None
        for key in self.keys:
            if hmac.compare_digest(candidate, key):
                found = key
        return None if found is None else self.caller_id(found)

    def match_token(self, presented: str) -> str | None:
        """The caller id an unexpired token issued by this service names, else None."""
        claims = token_claims(presented, self.secret)
        subject = claims.get("sub") if claims else None
        return subject if isinstance(subject, str) else None

    def host_allowed(self, host: str) -> bool:
        if self.hosts is None:
            return True
        host = host.lower()
        if host in self.hosts:
            return True
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        return name.rstrip(".") in self.hosts

    def origin_allowed(self, origin: str) -> bool:
        """An allowed origin, or the request's own (a page of this service, Host already checked)."""
        origin = origin.lower().rstrip("/")
        if self.any_origin or origin in self.origins:
            return True
        return self.hosts is not None and urlsplit(origin).netloc == request.host.lower()


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).digest()


def _bearer() -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _reference_credential(policy: Policy) -> str | None:
    """``X-API-Key`` or ``Authorization: Bearer`` (reference routes, operations, unknown paths).
    Bearer may also carry an issued token (the demo page's), except on the operations routes.
    (The relay's upgrades are Realtime paths: :func:`_realtime_presented`.)"""
    key = request.headers.get("X-API-Key")
    if key:
        return policy.match_key(key)
    presented = _bearer()
    if not presented:
        return None
    caller = policy.match_key(presented)
    if caller is None and not _under(request.path, OPS_PATHS):
        caller = policy.match_token(presented)
    return caller


def _openai_credential(policy: Policy) -> str | None:
    """``Authorization: Bearer`` (the openai SDK's ``api_key``)."""
    presented = _bearer()
    return policy.match_key(presented) if presented else None


def _azure_credential(policy: Policy) -> str | None:
    """``Ocp-Apim-Subscription-Key``, or ``Authorization: Bearer`` with an issued token (except on
    the token service itself)."""
    key = request.headers.get("Ocp-Apim-Subscription-Key")
    if key:
        return policy.match_key(key)
    token = _bearer()
    if token and request.path != ISSUE_TOKEN_PATH:
        return policy.match_token(token)
    return None


@dataclass(frozen=True)
class Rule:
    """How one family's clients present a credential, and how a 401 tells them."""

    credential: Callable[[Policy], str | None]
    headers: str


def _realtime_presented() -> str | None:
    """The key or client secret of a Realtime request, wherever its clients put it."""
    offered = (part.strip() for part in request.headers.get("Sec-WebSocket-Protocol", "").split(","))
    subprotocol = next((p[len(KEY_SUBPROTOCOL) :] for p in offered if p.startswith(KEY_SUBPROTOCOL)), None)
    headers = request.headers
    return _bearer() or headers.get("api-key") or headers.get("X-API-Key") or subprotocol or None


def _realtime_credential(policy: Policy) -> str | None:
    presented = _realtime_presented()
    return policy.match_key(presented) if presented else None


def _client_secret(policy: Policy) -> bool:
    """Whether a client secret admitted this Realtime request (then it is used up); raises
    :class:`Unauthorized` for one that is not valid, has expired or was used."""
    presented = _realtime_presented() or request.args.get("api-key")
    if not presented or not presented.startswith(client_secrets.PREFIX):
        return False
    claims = client_secrets.read(presented, policy.secret)
    if claims is None or not current_app.extensions[USED_SECRETS].claim(claims):
        raise Unauthorized(
            "the client secret is not valid: it has expired, was used already or was not issued here"
        )
    g.client_secret = claims
    CALLER.set(claims.caller)
    return True


REFERENCE_RULE = Rule(_reference_credential, "X-API-Key or Authorization: Bearer")
REALTIME_RULE = Rule(
    _realtime_credential,
    f"Authorization: Bearer, api-key, X-API-Key, or the {KEY_SUBPROTOCOL}<key> WebSocket subprotocol",
)
#: The credential rule of each family, by the renderer its errors use (reference: the default).
RULES: dict[errors.Renderer, Rule] = {
    render_azure: Rule(
        _azure_credential, "Ocp-Apim-Subscription-Key, or Authorization: Bearer with a token from issueToken"
    ),
    render_openai: Rule(_openai_credential, "Authorization: Bearer"),
}


def _preflight() -> bool:
    return request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers


def _preflight_response(origin: str) -> Response:
    """204 for an allowed origin, with the methods and those asked-for headers the service takes."""
    asked = request.headers.get("Access-Control-Request-Headers", "")
    allowed = [
        name
        for name in (part.strip().lower() for part in asked.split(","))
        if name in CORS_HEADERS or name.startswith(CORS_HEADER_PREFIXES)
    ]
    response = Response(status=204)
    response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
    if allowed:
        response.headers["Access-Control-Allow-Headers"] = ", ".join(allowed)
    response.headers["Access-Control-Max-Age"] = CORS_MAX_AGE
    return response


def check() -> Response | None:
    """The hook: None lets the request through; a preflight is answered; others raise."""
    CALLER.set(None)  # every request starts as nobody (the thread's context outlives requests)
    if request.path in OPEN_PATHS:
        return None
    policy: Policy = current_app.extensions[POLICY]
    if not policy.host_allowed(request.host):
        raise BadRequest(
            f"the Host header {request.host[:100]!r} is not one this service answers to "
            "(SPEECH_ALLOWED_HOSTS)",
            code="invalid_host",
        )
    origin = request.headers.get("Origin")
    if origin is not None and not policy.origin_allowed(origin):
        raise Forbidden(f"the origin {origin[:100]!r} is not allowed (SPEECH_CORS_ORIGINS)")
    if origin is not None and _preflight():
        return _preflight_response(origin)
    realtime = request.path in REALTIME_PATHS
    if realtime and _client_secret(policy):
        return None
    if not policy.keys or (policy.ops_open and _under(request.path, OPS_PATHS)):
        return None
    if policy.demo and (request.path == DEMO_PAGE or _under(request.path, (DEMO_PREFIX,))):
        return None
    rule = REALTIME_RULE if realtime else RULES.get(errors.family_renderer(), REFERENCE_RULE)
    caller = rule.credential(policy)
    if caller is None:
        if _presented():
            raise Unauthorized(f"the key or token is not valid (expected in {rule.headers})")
        raise Unauthorized(f"a key is required in {rule.headers}", code="missing_api_key")
    CALLER.set(caller)
    return None


def _presented() -> bool:
    names = ("Authorization", "X-API-Key", "Ocp-Apim-Subscription-Key", "api-key")
    return any(request.headers.get(name) for name in names)


def _under(path: str, prefixes: tuple[str, ...]) -> bool:
    return any(path == prefix or path.startswith(prefix + "/") for prefix in prefixes)


def add_cors(response: Response) -> Response:
    """An allowed cross-origin request's answer names its origin, so the browser shows it."""
    origin = request.headers.get("Origin")
    if origin is not None and request.path not in OPEN_PATHS:
        policy: Policy = current_app.extensions[POLICY]
        if policy.host_allowed(request.host) and policy.origin_allowed(origin):
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
        response.vary.add("Origin")
    return response


def install(app: Flask, settings: Settings) -> None:
    """Check every request of ``app`` per ``settings``; the token secret is the settings' (made
    before the workers fork, see the CLI) or a new one for this app."""
    secret = settings.token_secret or new_secret()
    app.extensions[TOKEN_SECRET] = secret
    app.extensions[POLICY] = Policy.from_settings(settings, secret)
    used = os.path.join(settings.metrics_dir, "client-secrets") if settings.metrics_dir else None
    app.extensions[USED_SECRETS] = client_secrets.UsedSecrets(used)
    app.before_request(check)
    app.after_request(add_cors)
