"""The Realtime routes for browsers and Realtime clients: the pass-through and relay upgrades,
client secrets and WebRTC calls (OpenAI's GA shapes), and the demo page.

A session's fields are written from the same allow-list the policy checks
(:data:`~speech_realtime.realtime.session_fields.GA_SESSION`), and a secret's lifetime from the
bounds :func:`~speech_realtime.realtime.client_secrets.lifetime` enforces.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...realtime.client_secrets import DEFAULT_SECONDS, MIN_SECONDS
from ...realtime.session_fields import GA_SESSION, SESSION_TYPE, AllowList
from .fields import Field, object_schema
from .operations import BEARER, DEMO, GUARD_ERRORS, REALTIME, RELAY, SESSION_ERRORS, Operation, Reply


def allow_list_schema(allowed: AllowList) -> dict[str, Any]:
    """JSON Schema of an object the policy's allow-list admits: listed fields only, a nested
    list an object checked the same way, ``True`` any value (the upstream checks it)."""
    properties: dict[str, Any] = {
        name: allow_list_schema(value) if isinstance(value, Mapping) else {}
        for name, value in allowed.items()
    }
    return {"type": "object", "properties": properties, "additionalProperties": False}


def _session_schema() -> dict[str, Any]:
    schema = allow_list_schema(GA_SESSION)
    schema["properties"] = {
        **schema["properties"],
        "type": {"const": SESSION_TYPE},
        "model": {"description": "Ignored: the service's configured model or deployment answers."},
    }
    schema["description"] = (
        "A GA Realtime session; only these fields (tools and tool_choice too with "
        "SPEECH_REALTIME_TOOLS=true). The options given are fixed for the connection."
    )
    return schema


SESSION = Field("session", "object", "The session options to fix.", schema_extra=_session_schema())
EXPIRES_AFTER = Field(
    "expires_after",
    "object",
    "When the secret expires.",
    schema_extra={
        "properties": {
            "anchor": {"const": "created_at"},
            "seconds": {
                "type": "integer",
                "minimum": MIN_SECONDS,
                "default": DEFAULT_SECONDS,
                "description": "At most SPEECH_REALTIME_SECRET_MAX_SECONDS (default 600).",
            },
        },
    },
)

CLIENT_SECRET = Operation(
    REALTIME,
    "A short-lived, single-use client secret for a browser (OpenAI's GA shape)",
    (
        Reply(
            200,
            "The secret, when it expires, and the session it fixes.",
            {
                "application/json": {
                    "type": "object",
                    "required": ["value", "expires_at", "session"],
                    "properties": {
                        "value": {"type": "string", "pattern": "^ek_"},
                        "expires_at": {"type": "integer"},
                        "session": {"type": "object"},
                    },
                }
            },
        ),
    ),
    (*GUARD_ERRORS, 413, 415),
    "Needs an inbound key (a client secret cannot mint another). The secret is good for one "
    "connection (pass-through, relay or WebRTC call) until it expires.",
    bodies={"application/json": object_schema((EXPIRES_AFTER, SESSION))},
    security=(BEARER,),
)

_SDP = {"type": "string", "pattern": "^\\s*v=0"}
CALL = Operation(
    REALTIME,
    "A WebRTC call: the browser's SDP offer forwarded to the cloud backend with the service's "
    "credentials",
    (
        Reply(
            201,
            "The upstream's SDP answer (Location: the call, when the upstream gives one).",
            {"application/sdp": {"type": "string"}},
            (Field("Location", "string", "The call's path at the upstream."),),
        ),
    ),
    (*SESSION_ERRORS, 501),
    "With a client secret or an inbound key. The session may not change an option the client "
    "secret fixed. 501 on the offline engine: use the WebSocket relay or pass-through instead.",
    bodies={
        "application/sdp": _SDP,
        "multipart/form-data": object_schema(
            (
                Field("sdp", "string", "The SDP offer.", required=True, schema_extra=_SDP),
                Field("session", "string", "The session (JSON text), as for a client secret."),
            )
        ),
    },
)

PASSTHROUGH = Operation(
    REALTIME,
    "Realtime pass-through: upgrade to a WebSocket speaking the Realtime API",
    (Reply(101, "Switching Protocols: Realtime events both ways, client events through the policy."),),
    (*GUARD_ERRORS, 426, 429, 502, 503, 504),
    "A WebSocket route (x-websocket). The upstream session opens before the upgrade, so a "
    "refusal is an HTTP answer. The query's model, deployment and api-version choose nothing. "
    "A plain GET without an upgrade is a 400 saying so.",
    websocket=True,
)

RELAY_SOCKET = Operation(
    RELAY,
    "The seed-004 relay: upgrade to a WebSocket for a live conversation",
    (Reply(101, "Switching Protocols: the relay's JSON messages and PCM16 24 kHz frames."),),
    (*GUARD_ERRORS, 426),
    "A WebSocket route (x-websocket); see docs/relay.md for its messages. A plain GET without an "
    "upgrade is a 400 saying so.",
    websocket=True,
)

DEMO_PAGE = Operation(
    DEMO,
    "The demo page (404 when SPEECH_DEMO is off)",
    (Reply(200, "The page.", {"text/html": {"type": "string"}}),),
    (400, 403, 404),
)
DEMO_FILE = Operation(
    DEMO,
    "A file of the demo page (its scripts and style)",
    (
        Reply(
            200,
            "The file.",
            {"text/javascript": {"type": "string"}, "text/css": {"type": "string"}},
        ),
    ),
    (400, 403, 404),
    path=(Field("name", "string", "The file's name."),),
)
DEMO_SESSION = Operation(
    DEMO,
    "The demo page's credentials: a short-lived token and a single-use relay secret (same origin "
    "only)",
    (
        Reply(
            200,
            "The token for the REST calls and the relay's subprotocols.",
            {
                "application/json": {
                    "type": "object",
                    "required": ["token", "expires_at", "relay"],
                    "properties": {
                        "token": {"type": "string"},
                        "expires_at": {"type": "integer"},
                        "relay": {
                            "type": "object",
                            "required": ["path", "protocols", "expires_at"],
                            "properties": {
                                "path": {"type": "string"},
                                "protocols": {"type": "array", "items": {"type": "string"}},
                                "expires_at": {"type": "integer"},
                            },
                        },
                    },
                }
            },
        ),
    ),
    (400, 403, 404),
    "Answered only to a request whose Origin is the service's own host.",
)
