"""How both Azure Speech front ends answer an error over HTTP: Azure's status and a short
plain-text body (no JSON envelope)."""

from __future__ import annotations

from flask import Response

from .errors import ErrorInfo


def render_azure(error: ErrorInfo) -> Response:
    """Azure's REST errors: the status and a short plain-text body (no JSON envelope)."""
    response = Response(error.message, status=error.status, mimetype="text/plain")
    response.headers.update(dict(error.headers))
    return response
