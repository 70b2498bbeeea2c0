"""The Realtime pass-through: ``/openai/v1/realtime`` (Azure GA), ``/v1/realtime`` (OpenAI GA)
and ``/openai/realtime`` (Azure preview), for Realtime clients with the cloud key held here.

Each connection gets one upstream session from the session runner (a slot, the per-key cap,
the circuit breaker, the metrics) on the configured backend, in the client's dialect
(:mod:`..realtime.passthrough`: the query's model or deployment picks nothing). The session is
opened *before* the upgrade, so a refusal (no free slot 429, breaker open or upstream down 503,
bad handshake 400) is an ordinary HTTP answer in OpenAI's error envelope and a failed upstream
never leaves an upgraded socket behind. Then :class:`~.realtime_bridge.Bridge` carries the
events both ways through the :class:`~..realtime.policy.PassthroughPolicy` (limits from
``SPEECH_REALTIME_*``; the options of the client secret that admitted it, if any, fixed).

A browser offering WebSocket subprotocols gets one echoed in the 101 answer, as browsers
require: ``realtime`` when offered, else the first Realtime one (``openai-beta.realtime-v1``,
``openai-insecure-api-key.<client secret>``; never one carrying an inbound key, so a browser
passing a key this way must also offer ``realtime``). The set applies to every flask-sock route of the app,
so the relay's upgrades echo them too.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from flask import Blueprint, Response, current_app, g, request
from flask_sock import ConnectionClosed
from simple_websocket import Server

from ..errors import BadRequest
from ..realtime.passthrough import client_dialect, upstream_endpoint
from ..realtime.policy import Limits, PassthroughPolicy
from ..realtime.transport import Connection
from .context import speech_service
from .contract.operations import documented
from .contract.realtime import PASSTHROUGH
from .errors import register_family
from .openai_errors import render_error
from .realtime_bridge import Bridge
from .sdk_setup import SHUTDOWN, Shutdown, configure

realtime_passthrough = Blueprint("realtime_passthrough", __name__)

PATHS = ("/openai/v1/realtime", "/v1/realtime", "/openai/realtime")
class _Upgraded(Response):
    """The WSGI answer after the socket was served (what flask-sock answers for its routes)."""

    def __init__(self, mode: str) -> None:
        super().__init__()
        self.mode = mode

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.mode == "gunicorn":
            raise StopIteration()
        if self.mode == "werkzeug":
            return super().__call__(*args, **kwargs)
        return []


@documented(PASSTHROUGH)
def _not_upgraded() -> None:
    """A plain GET on a pass-through path: a 400 that says what the path is for."""
    raise BadRequest(f"{request.path} is a Realtime WebSocket endpoint: connect with a WebSocket upgrade")


@documented(PASSTHROUGH)
def _passthrough() -> Response:
    service = speech_service()
    settings = service.settings
    dialect = client_dialect(request.path, request.headers)
    endpoint = upstream_endpoint(settings, dialect)
    claims = g.get("client_secret")
    policy = PassthroughPolicy(
        dialect, Limits.from_settings(settings), time.monotonic(), claims.session if claims else None
    )
    shutdown: Shutdown = current_app.extensions[SHUTDOWN]

    def connect(timeout: float) -> Connection:
        return Connection.open(endpoint, service.auth.headers(), timeout=timeout)

    with service.runner.duplex(connect) as conn:
        ws = Server(request.environ, **current_app.config.get("SOCK_SERVER_OPTIONS", {}))
        Bridge(ws, conn, policy, shutdown).run()
        with contextlib.suppress(ConnectionClosed, OSError):  # the bridge closed it, or the client
            ws.close()
    return _Upgraded(ws.mode)


register_family(realtime_passthrough, ("/openai/v1/realtime", "/openai/realtime"), render_error)
realtime_passthrough.record_once(configure)
for _path in PATHS:
    _name = "passthrough_" + _path.strip("/").replace("/", "_")
    realtime_passthrough.add_url_rule(_path, _name, _passthrough, websocket=True)
    realtime_passthrough.add_url_rule(_path, _name + "_http", _not_upgraded, methods=["GET"])
