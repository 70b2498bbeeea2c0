"""The Azure Speech SDK's WebSocket protocol (USP) on the paths the SDKs use with ``host=``.

The routes only: each socket gets a sans-I/O machine from :mod:`speech_realtime.usp` and runs in
a socket of :mod:`.sdk_sockets` (the loop: :mod:`.socket_loop`; flask-sock's options and the
shutdown event: :mod:`.sdk_setup`). The loop moves frames and service events in and carries the
machine's effects out (send a frame, open/feed/finish/release a recognition stream, run/cancel a
synthesis job, close). Sessions are per turn: an idle socket holds no upstream session and no
slot. While a turn runs, a watchdog ends it when neither the client nor the service made
progress for ``SPEECH_CLIENT_TIMEOUT`` seconds, so no SDK call waits forever; an idle socket is
pinged, and closed after ``SPEECH_SDK_IDLE_TIMEOUT`` seconds (see :mod:`.socket_loop`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, current_app, request

from ..audio import PCM16
from ..audio.encoder import Encoder
from ..composition import plan_document
from ..errors import BadRequest
from ..languages import fixed_language
from ..usp import recognition as rec
from ..usp import synthesis as syn
from .azure_errors import render_azure
from .context import speech_service
from .contract.azure import WEBSOCKET
from .contract.operations import documented
from .errors import register_family
from .sdk_setup import SHUTDOWN, Shutdown, configure, sock
from .sdk_sockets import RecognitionSocket, SynthesisSocket
from .sdk_wire import WebSocketWire
from .socket_loop import SocketLimits

azure_sdk = Blueprint("azure_sdk", __name__)

RECOGNITION_PATHS = {
    "/speech/recognition/interactive/cognitiveservices/v1": rec.Mode.INTERACTIVE,
    "/speech/recognition/conversation/cognitiveservices/v1": rec.Mode.CONVERSATION,
    "/speech/recognition/dictation/cognitiveservices/v1": rec.Mode.DICTATION,
    "/speech/universal/v2": rec.Mode.CONVERSATION,
    # endpoint= without a path: the mode comes in speech.context (phraseDetection.mode)
    "/stt/speech/universal/v2": rec.Mode.CONVERSATION,
}
SYNTHESIS_PATHS = ("/cognitiveservices/websocket/v1", "/tts/cognitiveservices/websocket/v1")
#: The prefixes of these paths that the Azure REST family does not already cover.
PREFIXES = ("/speech/universal", "/stt", "/tts")


def _shutdown() -> Shutdown:
    return current_app.extensions[SHUTDOWN]


def _recognition_route(mode: rec.Mode) -> Callable[[Any], None]:
    @documented(WEBSOCKET)
    def route(ws: Any) -> None:
        service = speech_service()
        machine = rec.RecognitionMachine(
            mode, request.args.to_dict(), fixed_language=fixed_language(service.endpoint.backend)
        )
        limits = SocketLimits.from_settings(service.settings)
        RecognitionSocket(WebSocketWire(ws), machine, service, limits, _shutdown()).run()

    return route


@documented(WEBSOCKET)
def _synthesis_route(ws: Any) -> None:
    service = speech_service()
    machine = syn.SynthesisMachine(
        lambda output: Encoder(output, PCM16, streaming=True),
        plan=lambda document: plan_document(service, document),
        query=request.args.to_dict(),
    )
    limits = SocketLimits.from_settings(service.settings)
    SynthesisSocket(WebSocketWire(ws), machine, service, limits, _shutdown()).run()


@documented(WEBSOCKET)
def _not_upgraded() -> None:
    """A plain GET on a WebSocket path: Azure's kind of 400 that says what the path is for.

    Without this route werkzeug refuses the request while routing, with a message about
    the browser that helps no one.
    """
    raise BadRequest(f"{request.path} is a Speech SDK WebSocket endpoint: connect with a WebSocket upgrade")


def _endpoint(path: str) -> str:
    return "usp_" + path.strip("/").replace("/", "_")


register_family(azure_sdk, PREFIXES, render_azure)
azure_sdk.record_once(configure)

for _path, _mode in RECOGNITION_PATHS.items():
    sock.route(_path, bp=azure_sdk, endpoint=_endpoint(_path))(_recognition_route(_mode))
for _path in SYNTHESIS_PATHS:
    sock.route(_path, bp=azure_sdk, endpoint=_endpoint(_path))(_synthesis_route)
for _path in (*RECOGNITION_PATHS, *SYNTHESIS_PATHS):
    azure_sdk.add_url_rule(_path, _endpoint(_path) + "_http", _not_upgraded, methods=["GET"])
