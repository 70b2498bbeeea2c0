"""The seed-004 relay's routes: ``/realtime`` (the path the seed's front end uses) and
``/api/speech-realtime/ws``.

Auth, Host and Origin are checked by :mod:`.security` before the upgrade, as for every route
(reference keys: ``X-API-Key``, ``Authorization: Bearer``, or the ``openai-insecure-api-key.``
subprotocol that browsers can set); a refused upgrade is an HTTP answer and opens nothing. A
client secret that admitted the upgrade fixes the voice and instructions it was minted with. The
connection itself is :class:`~.relay_loop.RelayLoop` over a
:class:`~speech_realtime.relay.conversation.RelayMachine`.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, current_app, g, request

from ..errors import BadRequest, SpeechError
from ..relay import messages
from ..relay.conversation import RelayLimits, RelayMachine
from ..relay.upstream import DEFAULT_INSTRUCTIONS
from ..voices import resolve_voice
from .context import speech_service
from .contract.operations import documented
from .contract.realtime import RELAY_SOCKET
from .relay_loop import RelayLoop
from .sdk_setup import SHUTDOWN, configure, sock
from .sdk_wire import WebSocketWire

relay = Blueprint("relay", __name__)

PATHS = ("/realtime", "/api/speech-realtime/ws")
#: The subprotocol the relay answers a browser that offers it (with its key in
#: ``openai-insecure-api-key.<key>``, which is never echoed back).
SUBPROTOCOL = "realtime"


def _minted() -> tuple[str | None, str | None]:
    """The voice and instructions fixed by the client secret that admitted the upgrade, if one
    did (security leaves its claims in ``g.client_secret``; ``session`` in either dialect)."""
    session = getattr(g.get("client_secret"), "session", None)
    if not isinstance(session, dict):
        return None, None
    audio = session.get("audio")
    output = audio.get("output") if isinstance(audio, dict) else None
    voice = output.get("voice") if isinstance(output, dict) else session.get("voice")
    instructions = session.get("instructions")
    return (voice if isinstance(voice, str) else None), (
        instructions if isinstance(instructions, str) else None
    )


@documented(RELAY_SOCKET)
def _route(ws: Any) -> None:
    service = speech_service()
    settings = service.settings
    wire = WebSocketWire(ws)
    minted_voice, minted_instructions = _minted()
    try:
        voice = resolve_voice(minted_voice or settings.relay_voice, service.endpoint.dialect)
    except SpeechError as exc:
        source = "the client secret's voice" if minted_voice else "SPEECH_RELAY_VOICE"
        wire.send(messages.error("invalid_configuration", f"{source}: {exc.message}"))
        wire.close(1011, "invalid configuration")
        return
    machine = RelayMachine(
        service.endpoint.dialect,
        RelayLimits.from_settings(settings),
        instructions=minted_instructions or settings.relay_instructions or DEFAULT_INSTRUCTIONS,
        voice=voice,
        transcribe_model=settings.transcribe_model,
        greeting=settings.relay_greeting,
        now=time.monotonic(),
    )
    RelayLoop(
        wire,
        machine,
        service.runner,
        ping_interval=settings.relay_ping_interval,
        shutdown=current_app.extensions.get(SHUTDOWN),
        count=service.counters.add,
    ).run()


@documented(RELAY_SOCKET)
def _not_upgraded() -> None:
    """A plain GET on the relay's path: a 400 that says what the path is for."""
    raise BadRequest(f"{request.path} is the relay's WebSocket endpoint: connect with a WebSocket upgrade")


relay.record_once(configure)
for _path in PATHS:
    _endpoint = "relay_" + _path.strip("/").replace("/", "_").replace("-", "_")
    sock.route(_path, bp=relay, endpoint=_endpoint)(_route)
    relay.add_url_rule(_path, _endpoint + "_http", _not_upgraded, methods=["GET"])
