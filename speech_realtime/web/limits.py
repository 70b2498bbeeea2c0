"""What one worker process allows its clients, and how ``/info`` shows the limits in force.

``SPEECH_MAX_SESSIONS`` and ``SPEECH_MAX_WEBSOCKETS`` are totals for the whole ``serve``
process; :meth:`Settings.worker_sessions` and :meth:`Settings.worker_websockets` give each
worker a fixed share (see :func:`speech_realtime.config.share` for why a share and not a
counter shared between processes).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import Settings


@dataclass(frozen=True)
class ClientLimits:
    """What one worker allows its clients; from :class:`Settings` and the worker's slot."""

    timeout: float
    max_websockets: int
    graceful_timeout: float = 30.0

    @classmethod
    def from_settings(cls, settings: Settings) -> ClientLimits:
        return cls(settings.client_timeout, settings.worker_websockets, settings.graceful_timeout)


def limits_info(settings: Settings) -> dict[str, object]:
    """The ``limits`` of ``/info``: the totals in force and the share of the worker answering."""
    return {
        "workers": settings.workers,
        "maxSessions": settings.max_sessions,
        "maxWebsockets": settings.max_websockets,
        "thisWorker": {
            "slot": settings.worker_slot,
            "maxSessions": settings.worker_sessions,
            "maxWebsockets": settings.worker_websockets,
        },
        "gracefulTimeout": settings.graceful_timeout,
    }
