"""flask-sock for the Azure Speech SDK routes: the extension, its frame limit, the shutdown event."""

from __future__ import annotations

import threading

from flask.sansio.blueprints import BlueprintSetupState
from flask_sock import Sock

sock = Sock()

#: The app's ``extensions`` key of the :class:`threading.Event` set when the server begins to
#: stop (by :class:`~speech_realtime.web.server.SpeechWorker`).
SHUTDOWN = "shutdown"
#: The largest client frame (SDK audio frames hold 100 ms, SSML is limited to 64 KiB); a larger
#: one is closed 1009 as it arrives instead of being buffered without bound.
MAX_FRAME_BYTES = 1 << 20


def configure(state: BlueprintSetupState) -> None:
    """flask-sock reads its socket options from the app's config; an app that set a frame
    limit of its own keeps it. The shutdown event is created here, for the server to set."""
    state.app.config.setdefault("SOCK_SERVER_OPTIONS", {}).setdefault("max_message_size", MAX_FRAME_BYTES)
    state.app.extensions.setdefault(SHUTDOWN, threading.Event())
