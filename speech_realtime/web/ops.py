"""Operations routes: ``/healthz``, ``/readyz``, ``/metrics``; and :func:`install`, which adds
them with request ids, request metrics and ``Server-Timing`` to an app.

- ``/healthz``: 200 whenever the process answers; it does no work.
- ``/readyz``: 200 when the backend accepts a session with the configured credentials (the
  local engine: when its models are loaded), else 503 with the reason; see
  :mod:`speech_realtime.readiness` for the caching and the seam for the circuit breaker.
- ``/metrics``: Prometheus text; under ``serve --workers N`` the sum over all workers.

Who may call ``/readyz`` and ``/metrics`` is the security hooks' business, not this module's.
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response, current_app, jsonify

from .. import metrics
from ..readiness import ReadinessProbe
from ..speech import SpeechService
from . import request_ids, request_metrics, server_timing
from .contract import ops as contract
from .contract.operations import documented

ops = Blueprint("ops", __name__)

#: The app's ``extensions`` key of its :class:`ReadinessProbe`.
READINESS = "readiness"


@ops.get("/healthz")
@documented(contract.HEALTHZ)
def healthz() -> Response:
    return jsonify({"status": "ok"})


@ops.get("/readyz")
@documented(contract.READYZ)
def readyz() -> tuple[Response, int]:
    readiness = current_app.extensions[READINESS].status()
    return jsonify(readiness.as_json()), 200 if readiness.ready else 503


@ops.get("/metrics")
@documented(contract.METRICS)
def metrics_text() -> Response:
    directory = current_app.extensions["speech"].settings.metrics_dir
    body, content_type = metrics.exposition(directory)
    return Response(body, content_type=content_type, headers={"Cache-Control": "no-store"})


def install(app: Flask) -> None:
    """The ops routes, request ids and request metrics on ``app`` (after its service is set)."""
    service: SpeechService = app.extensions["speech"]
    # An open circuit breaker: not ready, and no check (looked up when asked: test doubles).
    gates = [lambda: service.runner.breaker.readiness_reason()]
    app.extensions.setdefault(READINESS, ReadinessProbe(lambda: service.check(), gates=gates))
    request_ids.install(app)
    request_metrics.install(app)
    server_timing.install(app)
    app.register_blueprint(ops)
