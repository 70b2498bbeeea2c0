"""The local engine's WebSocket server: the Realtime API's three path shapes on one port.

``/v1/realtime?model=`` (OpenAI) and ``/openai/v1/realtime?model=`` (Azure GA) speak the GA
dialect, ``/openai/realtime?api-version=&deployment=`` (Azure preview) the preview one; as on
OpenAI, an ``OpenAI-Beta: realtime=v1`` header selects the preview dialect on any path. Any
credentials are accepted: the engine is meant for loopback.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from typing import Any

from flask import Flask, jsonify, request
from flask_sock import ConnectionClosed, Sock
from werkzeug.serving import BaseWSGIServer, make_server

from ..realtime.events import GA, PREVIEW
from .models import Models, shared_models
from .session import EngineSession

log = logging.getLogger(__name__)

PATHS = {"/v1/realtime": GA, "/openai/v1/realtime": GA, "/openai/realtime": PREVIEW}


class _OpenSockets:
    """The engine's open WebSockets, so that stopping the server can close them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sockets: set[Any] = set()

    def add(self, ws: Any) -> None:
        with self._lock:
            self._sockets.add(ws)

    def discard(self, ws: Any) -> None:
        with self._lock:
            self._sockets.discard(ws)

    def close_all(self) -> None:
        with self._lock:
            sockets = list(self._sockets)
        for ws in sockets:
            with contextlib.suppress(Exception):
                ws.close()


def _serve_session(ws: Any, dialect: str, models: Models, model: str) -> None:
    lock = threading.Lock()

    def send(event: dict[str, Any]) -> None:
        with lock:
            ws.send(json.dumps(event, separators=(",", ":")))

    session = EngineSession(dialect, models, send, model=model)
    try:
        session.open()
        while True:
            message = ws.receive()
            if message is None:
                break
            session.handle(message)
    except ConnectionClosed:
        pass
    finally:
        session.close()


def create_engine_app(models: Models | None = None) -> Flask:
    """The engine as a WSGI app (flask-sock WebSocket routes)."""
    models = models or shared_models()
    app = Flask(__name__)
    sock = Sock(app)
    sockets = app.extensions["engine_sockets"] = _OpenSockets()

    for path, dialect in PATHS.items():

        def route(ws: Any, dialect: str = dialect) -> None:
            beta = "realtime=v1" in request.headers.get("OpenAI-Beta", "")
            model = request.args.get("model") or request.args.get("deployment") or "local-echo"
            sockets.add(ws)
            try:
                _serve_session(ws, PREVIEW if beta else dialect, models, model)
            finally:
                sockets.discard(ws)

        sock.route(path, endpoint=f"realtime_{path}")(route)

    @app.get("/health")
    def health() -> Any:
        return jsonify({"status": "ok", "paths": sorted(PATHS)})

    return app


class EngineServer:
    """The engine on a threaded WSGI server; port 0 picks a free port (see :attr:`url`)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, models: Models | None = None) -> None:
        self._app = create_engine_app(models)
        self._server: BaseWSGIServer = make_server(host, port, self._app, threaded=True)
        self.url = f"http://{host}:{self._server.server_port}"
        self._thread: threading.Thread | None = None

    def start(self) -> EngineServer:
        """Serve on a background thread."""
        self._thread = threading.Thread(target=self._server.serve_forever, name="engine", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        """Stop accepting connections and close the open sessions."""
        self._server.shutdown()
        self._server.server_close()
        self._app.extensions["engine_sockets"].close_all()
