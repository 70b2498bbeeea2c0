"""flask-sock for every WebSocket route (Azure Speech SDK, relay, Realtime pass-through): the
extension, its frame limit, the subprotocols it answers, the shutdown signal."""

from __future__ import annotations

import threading
from collections.abc import Callable

from flask.sansio.blueprints import BlueprintSetupState
from flask_sock import Sock

from ..realtime.client_secrets import PREFIX

sock = Sock()

#: The app's ``extensions`` key of the :class:`Shutdown` set when the server begins to stop
#: (by :class:`~speech_realtime.web.server.SpeechWorker`).
SHUTDOWN = "shutdown"
#: The largest client frame (SDK audio frames hold 100 ms, SSML is limited to 64 KiB); a larger
#: one is closed 1009 as it arrives instead of being buffered without bound.
MAX_FRAME_BYTES = 1 << 20
#: Subprotocols a Realtime client may offer; ``realtime`` is OpenAI's name for the protocol.
SUBPROTOCOLS = ("realtime", "openai-beta.realtime-v1")
#: Subprotocols that carry a value; a client secret (``ek_``, used up by this very connection) may
#: be echoed, an inbound key never is (a long-lived key must not appear in an answer).
SUBPROTOCOL_PREFIXES = (f"openai-insecure-api-key.{PREFIX}", "openai-organization.", "openai-project.")


class RealtimeSubprotocols:
    """The subprotocols the server accepts, as simple-websocket asks (``name in accepted``): the
    Realtime names and the value-carrying ones above. A browser that offers subprotocols needs
    one echoed in the 101 answer; simple-websocket echoes the first offered that is accepted."""

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (name in SUBPROTOCOLS or name.startswith(SUBPROTOCOL_PREFIXES))

    def __bool__(self) -> bool:
        return True


class Shutdown:
    """The server's stop signal, set once: like a :class:`threading.Event`, and it wakes the
    sockets that subscribed, each of which blocks on its own queue rather than on this."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._listeners: list[Callable[[], None]] = []

    def set(self) -> None:
        """Stop (safe from a signal handler on a thread that never subscribes)."""
        self._event.set()
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener()

    def is_set(self) -> bool:
        return self._event.is_set()

    def subscribe(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` when the server stops (at once if it has); returns the unsubscribe."""
        with self._lock:
            self._listeners.append(listener)
        if self._event.is_set():
            listener()

        def unsubscribe() -> None:
            with self._lock:
                self._listeners.remove(listener)

        return unsubscribe


def configure(state: BlueprintSetupState) -> None:
    """flask-sock reads its socket options from the app's config; an app that set a frame
    limit of its own keeps it. The shutdown signal is created here, for the server to set."""
    options = state.app.config.setdefault("SOCK_SERVER_OPTIONS", {})
    options.setdefault("max_message_size", MAX_FRAME_BYTES)
    options.setdefault("subprotocols", RealtimeSubprotocols())
    state.app.extensions.setdefault(SHUTDOWN, Shutdown())
