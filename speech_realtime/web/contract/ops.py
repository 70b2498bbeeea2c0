"""The operations routes: health, readiness, metrics, and this contract with its viewer."""

from __future__ import annotations

from .fields import Field
from .operations import GUARD_ERRORS, OPEN, OPS, Operation, Reply

_READINESS = {
    "type": "object",
    "required": ["status"],
    "properties": {
        "status": {"type": "string", "enum": ["ready", "unavailable"]},
        "reason": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        },
    },
}

HEALTHZ = Operation(
    OPEN,
    "The process answers (always open)",
    (
        Reply(
            200,
            "Alive.",
            {
                "application/json": {
                    "type": "object",
                    "required": ["status"],
                    "properties": {"status": {"const": "ok"}},
                }
            },
        ),
    ),
    (),
)
READYZ = Operation(
    OPS,
    "The backend accepts a session, the engine's models are loaded, the breaker is closed",
    (
        Reply(200, "Ready.", {"application/json": _READINESS}),
        Reply(503, "Not ready, with the reason.", {"application/json": _READINESS}),
    ),
)
METRICS = Operation(
    OPS,
    "Prometheus metrics (the sum over every worker)",
    (Reply(200, "Prometheus text exposition.", {"text/plain": {"type": "string"}}),),
)
OPENAPI = Operation(
    OPS,
    "This document (OpenAPI 3.1)",
    (
        Reply(
            200,
            "The OpenAPI document.",
            {"application/json": {"type": "object", "required": ["openapi", "paths"]}},
        ),
    ),
)
DOCS = Operation(
    OPS,
    "This document rendered by Swagger UI (assets served by the service, no CDN)",
    (Reply(200, "The page.", {"text/html": {"type": "string"}}),),
)
DOCS_ASSET = Operation(
    OPS,
    "A Swagger UI asset of the /docs page",
    (
        Reply(
            200,
            "The asset.",
            {
                "text/css": {"type": "string"},
                "text/javascript": {"type": "string"},
                "image/png": {"type": "string", "format": "binary"},
            },
        ),
    ),
    (*GUARD_ERRORS, 404),
    path=(Field("asset", "string", "The asset's file name."),),
)
