"""The OpenAPI 3.1 document of an app, written from the declarations on its views.

The generator walks the app's url map: each rule's view carries an
:class:`~.operations.Operation` (see :func:`~.operations.documented`), except the
:data:`INTERNAL_ENDPOINTS`; :func:`undeclared` names those that do not. ``HEAD`` and
``OPTIONS`` (added by Flask to every rule, answered by Flask and the CORS hook) are not listed.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from werkzeug.routing import Rule

from ... import __version__
from .fields import Field
from .operations import (
    API_KEY,
    AZURE_TOKEN,
    BEARER,
    ERROR_TEXT,
    FAMILIES,
    REALTIME_KEY,
    SUBSCRIPTION_KEY,
    Operation,
    Reply,
    declaration,
)

#: Rules with no contract: Flask's static files (the app serves none).
INTERNAL_ENDPOINTS = frozenset({"static"})
_AUTOMATIC_METHODS = frozenset({"HEAD", "OPTIONS"})
_CONVERTER = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")

SECURITY_SCHEMES = {
    API_KEY: {"type": "apiKey", "in": "header", "name": "X-API-Key", "description": "An inbound key."},
    BEARER: {"type": "http", "scheme": "bearer", "description": "An inbound key as a bearer token."},
    SUBSCRIPTION_KEY: {
        "type": "apiKey",
        "in": "header",
        "name": "Ocp-Apim-Subscription-Key",
        "description": "An inbound key, as Azure Speech clients send their subscription key.",
    },
    REALTIME_KEY: {
        "type": "apiKey",
        "in": "header",
        "name": "api-key",
        "description": "An inbound key or a client secret, as Azure's Realtime clients send a key.",
    },
    AZURE_TOKEN: {
        "type": "http",
        "scheme": "bearer",
        "description": "A token from POST /sts/v1.0/issueToken (valid for ten minutes).",
    },
}

ERROR_SCHEMAS = {
    "ReferenceError": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "param": {"type": "string", "description": "The request field at fault."},
                },
            }
        },
    },
    "OpenAIError": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["message", "type", "param", "code"],
                "properties": {
                    "message": {"type": "string"},
                    "type": {"type": "string"},
                    "param": {"type": ["string", "null"]},
                    "code": {"type": ["string", "null"]},
                },
            }
        },
    },
    "AzureError": {"type": "string", "description": "Azure's short plain-text error."},
}

REQUEST_ID = {
    "description": "The request's id: the client's X-Request-ID when valid, else a new one.",
    "required": True,
    "schema": {"type": "string"},
}
RETRY_AFTER = {"description": "Seconds to wait before trying again.", "schema": {"type": "string"}}

DESCRIPTION = """\
REST speech-to-text and text-to-speech over the Azure OpenAI / OpenAI Realtime API or a built-in
offline engine. Four families of routes, each with its own clients' field names, keys and error
shape: the reference API, the OpenAI audio API (/v1), the Azure Speech REST API, and the Azure
Speech SDK's WebSocket paths (listed as GET with a 101 answer; `x-websocket: true`).
Keys are checked only when the service has inbound keys (SPEECH_API_KEYS)."""


def openapi_path(rule: str) -> str:
    """A werkzeug rule as an OpenAPI path: ``/v1/models/<path:model>`` -> ``/v1/models/{model}``."""
    return _CONVERTER.sub(r"{\1}", rule)


def undeclared(app: Flask) -> list[Rule]:
    """The rules of ``app`` whose view has no declaration (a test keeps this empty)."""
    return [
        rule
        for rule in app.url_map.iter_rules()
        if rule.endpoint not in INTERNAL_ENDPOINTS and declaration(app.view_functions[rule.endpoint]) is None
    ]


def _parameter(spec: Field, location: str) -> dict[str, Any]:
    parameter = {"name": spec.name, "in": location, "schema": spec.schema()}
    if spec.required or location == "path":
        parameter["required"] = True
    if spec.description:
        parameter["description"] = spec.description
    return parameter


def _response(reply: Reply) -> dict[str, Any]:
    response: dict[str, Any] = {"description": reply.description}
    # flask-sock writes a WebSocket's 101 itself: it carries no request id.
    headers = {"X-Request-ID": REQUEST_ID} if reply.status != 101 else {}
    headers.update(
        {spec.name: {"schema": spec.schema(), "description": spec.description} for spec in reply.headers}
    )
    if headers:
        response["headers"] = headers
    if reply.content:
        response["content"] = {media: {"schema": dict(schema)} for media, schema in reply.content.items()}
    return response


def _error_response(operation: Operation, status: int) -> dict[str, Any]:
    family = operation.family
    headers: dict[str, Any] = {"X-Request-ID": REQUEST_ID}
    if status in (429, 503):
        headers["Retry-After"] = RETRY_AFTER
    return {
        "description": ERROR_TEXT[status],
        "headers": headers,
        "content": {family.error_media: {"schema": {"$ref": f"#/components/schemas/{family.error_schema}"}}},
    }


def _operation(operation: Operation, operation_id: str) -> dict[str, Any]:
    document: dict[str, Any] = {
        "operationId": operation_id,
        "tags": [operation.family.tag],
        "summary": operation.summary,
    }
    if operation.description:
        document["description"] = operation.description
    parameters = [_parameter(spec, "path") for spec in operation.path]
    parameters += [_parameter(spec, "query") for spec in operation.query]
    parameters += [_parameter(spec, "header") for spec in operation.headers]
    if parameters:
        document["parameters"] = parameters
    if operation.bodies:
        document["requestBody"] = {
            "required": True,
            "content": {media: {"schema": dict(schema)} for media, schema in operation.bodies.items()},
        }
    responses = {str(reply.status): _response(reply) for reply in operation.replies}
    responses.update({str(status): _error_response(operation, status) for status in operation.errors})
    document["responses"] = responses
    security = operation.family.security if operation.security is None else operation.security
    document["security"] = [{name: []} for name in security]
    if operation.websocket:
        document["x-websocket"] = True
    return document


def openapi_document(app: Flask) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every declared route of ``app``."""
    paths: dict[str, dict[str, Any]] = {}
    seen: dict[tuple[str, str], Operation] = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint in INTERNAL_ENDPOINTS:
            continue
        operation = declaration(app.view_functions[rule.endpoint])
        if operation is None:
            continue
        path = openapi_path(rule.rule)
        methods = sorted((rule.methods or set()) - _AUTOMATIC_METHODS)
        for method in methods:
            key = (path, method)
            if key in seen:  # a WebSocket route and its plain-GET answer share one declaration
                if seen[key] is not operation:
                    raise ValueError(f"{method} {path} has two different declarations")
                continue
            seen[key] = operation
            operation_id = rule.endpoint if len(methods) == 1 else f"{rule.endpoint}.{method.lower()}"
            paths.setdefault(path, {})[method.lower()] = _operation(operation, operation_id)
    return {
        "openapi": "3.1.0",
        "info": {"title": "speech-realtime", "version": __version__, "description": DESCRIPTION},
        "tags": [{"name": family.tag, "description": family.description} for family in FAMILIES],
        "paths": paths,
        "components": {"schemas": ERROR_SCHEMAS, "securitySchemes": SECURITY_SCHEMES},
    }
