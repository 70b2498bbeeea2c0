"""The local engine's WebSocket server: the Realtime API's three path shapes on one port.

``/v1/realtime?model=`` (OpenAI) and ``/openai/v1/realtime?model=`` (Azure GA) speak the GA
dialect, ``/openai/realtime?api-version=&deployment=`` (Azure preview) the preview one; as on
OpenAI, an ``OpenAI-Beta: realtime=v1`` header selects the preview dialect on any path, and
``intent=transcription`` opens a transcription session (:mod:`.transcription_session`). Any
credentials are accepted: the engine is meant for loopback.

Each connection is served by one thread that owns its :class:`~.session.EngineSession`: it
reads the messages that came (without blocking while the session has work queued; up to
:data:`MESSAGES_PER_STEP`), handles them, advances the work one step, and sends the events; so
audio streamed during a long response is examined between two of its sentences. A client that
goes away ends the loop; the session's work is closed quietly and the thread ends.

With a ``latency`` (``SPEECH_ENGINE_LATENCY_MS``), each socket is seen through a wire that long
(:mod:`.latency`) and the upgrade is answered only after the three round trips a cloud
connection costs.

:meth:`EngineServer.drain` (``speech-realtime engine`` on SIGTERM) lets the sessions in flight
end: new connections get a 503 (which the service retries on a fresh connection, so behind a
load balancer another replica takes them), ``/ready`` answers 503 so that a readiness probe
takes the engine out of rotation (``/health``, for liveness, stays 200), and sessions whose
client has not said anything yet (a pool's pre-connected ones) are closed at once with 1001.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, jsonify, request
from flask_sock import ConnectionClosed, Sock
from werkzeug.serving import BaseWSGIServer, make_server

from ..errors import SpeechError
from ..realtime.events import Dialect
from ..websocket_upgrade import check_upgrade
from .latency import DelayedSocket, accept_delay
from .models import ModelSet, shared_models
from .parsing import MAX_AUDIO_B64
from .render import Event
from .session import EngineSession

log = logging.getLogger(__name__)

PATHS = {"/v1/realtime": Dialect.GA, "/openai/v1/realtime": Dialect.GA, "/openai/realtime": Dialect.PREVIEW}
#: Largest client message; an append of the largest base64 audio fits with room to spare.
MAX_MESSAGE_BYTES = MAX_AUDIO_B64 + 1024 * 1024
#: How long a session with nothing to do waits for a message before it checks that its socket is
#: still open: when simple-websocket refuses an oversized message it wakes the waiting reader
#: before it marks the socket closed, so a wait with no timeout would never end.
IDLE_CHECK_SECONDS = 1.0
#: The most messages handled between two steps of work: more than a real-time client sends
#: during one (64 frames of 20 ms), so its audio is examined between two sentences of a
#: response; a client sending faster still waits for the work, as before (back-pressure).
MESSAGES_PER_STEP = 64
#: WebSocket close code for an endpoint going away (RFC 6455 7.4.1).
GOING_AWAY = 1001
DRAINING = "the engine is shutting down; connect again (another replica, or this one restarted)"


class _OpenSockets:
    """The engine's open WebSockets, and whether each client has spoken yet: stopping the
    server closes them all, a drain those that have not (a client's pre-connected session,
    waiting for a request that may never come)."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._sockets: dict[Any, bool] = {}

    def __len__(self) -> int:
        with self._changed:
            return len(self._sockets)

    def add(self, ws: Any) -> None:
        with self._changed:
            self._sockets[ws] = False

    def spoke(self, ws: Any) -> None:
        with self._changed:
            if ws in self._sockets:
                self._sockets[ws] = True

    def discard(self, ws: Any) -> None:
        with self._changed:
            self._sockets.pop(ws, None)
            self._changed.notify_all()

    def close_all(self, *, silent_only: bool = False) -> None:
        with self._changed:
            sockets = [ws for ws, spoken in self._sockets.items() if not (silent_only and spoken)]
        for ws in sockets:
            with contextlib.suppress(Exception):
                ws.close(GOING_AWAY, "the engine is shutting down")

    def wait_empty(self, timeout: float) -> bool:
        """Whether every socket closed within ``timeout`` seconds."""
        with self._changed:
            return self._changed.wait_for(lambda: not self._sockets, timeout)


def serve_session(ws: Any, session: EngineSession, spoke: Callable[[], None] = lambda: None) -> None:
    """Drive ``session`` over ``ws`` until the client goes away; ``spoke`` is called at the
    client's first message."""

    def send(events: list[Event]) -> None:
        for item in events:
            ws.send(json.dumps(item, separators=(",", ":")))

    silent = True
    try:
        send(session.open())
        while ws.connected:
            message = ws.receive(timeout=0 if session.busy else IDLE_CHECK_SECONDS)
            if message is not None and silent:
                silent = False
                spoke()
            handled = 0
            while message is not None:  # what came during a step: a barge-in is heard now
                send(session.handle(message))
                handled += 1
                if not session.busy or handled == MESSAGES_PER_STEP:
                    break
                message = ws.receive(timeout=0)
            if session.busy:
                send(session.step())
    except (ConnectionClosed, OSError):
        pass
    finally:
        log.debug("engine session %s: client gone", session.id)
        session.close()


def create_engine_app(models: ModelSet | None = None, *, latency: float = 0.0) -> Flask:
    """The engine as a WSGI app (flask-sock WebSocket routes); ``latency``: seconds of injected
    delay each way."""
    models = models or shared_models()
    app = Flask(__name__)
    app.config["ENGINE_LATENCY"] = latency
    app.config["ENGINE_DRAINING"] = False
    app.config["SOCK_SERVER_OPTIONS"] = {"max_message_size": MAX_MESSAGE_BYTES}
    sock = Sock(app)
    sockets = app.extensions["engine_sockets"] = _OpenSockets()
    app.before_request(_check_upgrade)

    for path, dialect in PATHS.items():

        def route(ws: Any, dialect: Dialect = dialect) -> None:
            beta = "realtime=v1" in request.headers.get("OpenAI-Beta", "")
            model = request.args.get("model") or request.args.get("deployment") or "local-echo"
            transcription = request.args.get("intent") == "transcription"
            session = EngineSession(
                Dialect.PREVIEW if beta else dialect, models, model=model, transcription=transcription
            )
            threading.current_thread().name = f"engine-{session.id}"
            sockets.add(ws)
            wire = DelayedSocket(ws, latency) if latency > 0 else ws
            try:
                serve_session(wire, session, lambda: sockets.spoke(ws))
            finally:
                if wire is not ws:
                    wire.close()
                sockets.discard(ws)

        sock.route(path, endpoint=f"realtime_{path}")(route)

    @app.get("/health")
    def health() -> Any:
        """Alive (a liveness probe): 200 while the process serves, drain included."""
        status = "draining" if app.config["ENGINE_DRAINING"] else "ok"
        return jsonify({"status": status, "paths": sorted(PATHS), "sessions": len(sockets)})

    @app.get("/ready")
    def ready() -> Any:
        """Taking sessions (a readiness probe): 503 once a drain began."""
        if app.config["ENGINE_DRAINING"]:
            return jsonify({"status": "draining"}), 503, {"Retry-After": "1"}
        return jsonify({"status": "ready"})

    return app


def _check_upgrade() -> Any:
    """Upgrade only after a valid WebSocket handshake; a bad one is answered 400 (or 426 for
    the protocol version) in the Realtime API's error shape."""
    if request.url_rule is None or not request.url_rule.websocket:
        return None
    if current_app.config["ENGINE_DRAINING"]:
        body = {"error": {"type": "server_error", "code": "draining", "message": DRAINING}}
        return jsonify(body), 503, {"Retry-After": "1"}
    try:
        check_upgrade(request.method, request.headers)
    except SpeechError as exc:
        body = {"error": {"type": "invalid_request_error", "code": exc.code, "message": exc.message}}
        return jsonify(body), exc.status, exc.headers
    latency = current_app.config.get("ENGINE_LATENCY", 0.0)
    if latency > 0:
        time.sleep(accept_delay(latency))  # TCP, TLS and the upgrade on a wire that long
    return None


class EngineServer:
    """The engine on a threaded WSGI server; port 0 picks a free port (see :attr:`url`)."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, models: ModelSet | None = None, *, latency: float = 0.0
    ) -> None:
        self._app = create_engine_app(models, latency=latency)
        self._server: BaseWSGIServer = make_server(host, port, self._app, threaded=True)
        self.url = f"http://{host}:{self._server.server_port}"
        self._thread: threading.Thread | None = None

    @property
    def open_sessions(self) -> int:
        """How many sessions are being served now."""
        return len(self._app.extensions["engine_sockets"])

    def start(self) -> EngineServer:
        """Serve on a background thread."""
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="engine", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever(poll_interval=0.1)  # a drain's stop is seen within 0.1 s

    def drain(self, timeout: float) -> None:
        """Refuse new sessions (503, and ``/health`` says so), close those whose client has not
        spoken, let the others end within ``timeout`` seconds, then :meth:`stop`."""
        self._app.config["ENGINE_DRAINING"] = True
        sockets: _OpenSockets = self._app.extensions["engine_sockets"]
        log.info("draining: %d sessions open", len(sockets))
        sockets.close_all(silent_only=True)
        if not sockets.wait_empty(timeout):
            log.warning("draining: closing %d sessions still open", len(sockets))
        self.stop()

    def stop(self) -> None:
        """Stop accepting connections and close the open sessions."""
        self._server.shutdown()
        self._server.server_close()
        self._app.extensions["engine_sockets"].close_all()
