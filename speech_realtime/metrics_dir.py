"""The multiprocess directory of prometheus-client, made before gunicorn forks its workers.

prometheus-client decides when it is imported whether values live in this process or in files
of ``PROMETHEUS_MULTIPROC_DIR`` that ``/metrics`` adds up over the workers. So ``serve`` calls
:func:`multiprocess_directory` before anything imports it (this module does not): a fresh
directory (a stale one would add a previous run's counts), named in the environment for the
workers to inherit, removed when the server ends. Setting that variable is how prometheus-client
is configured; nothing else in the package writes the environment.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)

VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


@contextmanager
def multiprocess_directory() -> Iterator[str | None]:
    """A fresh directory for the workers' metric files, for as long as the block runs.

    Only the process that made it removes it: gunicorn's workers leave through this block too
    (they are forked inside it and end with ``sys.exit``). None when prometheus-client is
    already imported (``main`` called inside a process that uses it, as tests do): the metrics
    then stay per process.
    """
    if "prometheus_client" in sys.modules:
        log.debug("prometheus_client was imported before serve started: metrics are per worker")
        yield None
        return
    owner = os.getpid()
    path = tempfile.mkdtemp(prefix="speech-realtime-metrics-")
    os.environ[VARIABLE] = path
    try:
        yield path
    finally:
        if os.getpid() == owner:
            os.environ.pop(VARIABLE, None)
            shutil.rmtree(path, ignore_errors=True)
