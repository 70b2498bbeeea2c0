"""gunicorn's configuration for ``serve``, from :class:`Settings`: every server setting in one place.

- ``worker_class``: :class:`~speech_realtime.web.server.SpeechWorker`, gunicorn's thread worker
  with bounds on slow, idle and stalled clients (why threads: :mod:`.server`);
- ``threads``: the worker's share of ``SPEECH_MAX_SESSIONS`` and ``SPEECH_MAX_WEBSOCKETS`` plus
  :data:`HEADROOM_THREADS` (:func:`thread_budget`), unless ``serve --threads`` says otherwise;
- ``timeout`` (the arbiter kills a worker whose heartbeat stops this long): above the request
  deadline ``SPEECH_REQUEST_TIMEOUT``, so a request that runs to its deadline is answered by the
  service, never cut by gunicorn;
- ``graceful_timeout``: ``SPEECH_GRACEFUL_TIMEOUT`` plus :data:`~.drain.KILL_MARGIN`, a backstop:
  workers end their own drain (:mod:`.drain`) at ``SPEECH_GRACEFUL_TIMEOUT``;
- ``forwarded_allow_ips``: ``SPEECH_FORWARDED_ALLOW_IPS`` (empty: nobody), the only peers whose
  ``X-Forwarded-Proto`` gunicorn believes; the same list decides whose ``X-Forwarded-For`` sets
  the client address in the logs (:mod:`.forwarded`). gunicorn's own default would trust
  loopback, and its ``FORWARDED_ALLOW_IPS`` variable is overridden, so ``Settings`` stays the one
  place configuration is read;
- the access log in the service's format, ``pre_fork`` giving each worker its slot, the
  metrics of an exited worker folded in, and no control socket.
"""

from __future__ import annotations

import math
from typing import Any

from .. import metrics
from ..config import Settings
from .access_log import TEXT_ACCESS_FORMAT, logger_class
from .drain import KILL_MARGIN, assign_slot

#: Threads beyond sessions and WebSockets: cheap routes, bodies being read, requests refused 503.
HEADROOM_THREADS = 8
#: How far gunicorn's worker timeout lies beyond the request deadline.
TIMEOUT_MARGIN = 30
#: The worker class, named as gunicorn loads it (the worker module imports this one).
WORKER_CLASS = "speech_realtime.web.server.SpeechWorker"


def thread_budget(settings: Settings) -> int:
    """Threads per worker: one per upstream session and WebSocket of the largest share, and
    some headroom."""
    first = settings.with_changes(worker_slot=0)
    return first.worker_sessions + first.worker_websockets + HEADROOM_THREADS


def server_options(
    settings: Settings, *, host: str, port: int, workers: int = 1, threads: int | None = None
) -> dict[str, Any]:
    """gunicorn settings for ``serve`` (see the module's docstring for each one's reason)."""
    settings = settings.with_changes(workers=max(1, workers))
    return {
        "bind": f"{host}:{port}",
        "workers": settings.workers,
        "threads": max(1, threads or thread_budget(settings)),
        "worker_class": WORKER_CLASS,
        "timeout": int(settings.request_timeout) + TIMEOUT_MARGIN,
        "graceful_timeout": math.ceil(settings.graceful_timeout + KILL_MARGIN),
        "forwarded_allow_ips": ",".join(settings.forwarded_allow_ips),
        "pre_fork": assign_slot,
        "control_socket_disable": True,
        "accesslog": "-",
        "access_log_format": TEXT_ACCESS_FORMAT,
        "logger_class": logger_class(settings.log_format),
        "loglevel": settings.log_level.lower(),
        "child_exit": lambda _arbiter, worker: metrics.worker_exited(worker.pid, settings.metrics_dir),
    }
