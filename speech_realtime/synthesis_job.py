"""One Azure SDK synthesis request on a thread: each planned part read in turn through the service.

The SDK front end's socket starts a :class:`SynthesisJob` for each ``ssml`` frame, with the steps
:func:`~.composition.plan_document` made of it (checked before the turn began); the job hands
what it produces to ``deliver(kind, value)``: ``("audio", pcm)``, ``("word", WordTiming)``,
``("part", None)`` at the end of each part, then ``("done", None)`` or ``("error", SpeechError)``.
Nothing is delivered after :meth:`SynthesisJob.cancel` returns but what was already on its way.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Callable
from typing import Any

from .errors import SpeechError, UpstreamError
from .options import AudioChunk, WordTiming
from .readings import Reading, Step
from .speech import SpeechService

log = logging.getLogger(__name__)


class SynthesisJob:
    """One synthesis request on a thread: each SSML part read in turn, results to ``deliver``."""

    def __init__(
        self, service: SpeechService, steps: tuple[Step, ...], deliver: Callable[[str, Any], None]
    ) -> None:
        self._deliver = deliver
        self._service = service
        self._steps = steps
        self._cancelled = threading.Event()
        self._current: Any = None
        self._lock = threading.Lock()
        # The request's context (its caller, for the per-key cap; its request id) goes along.
        self._thread = threading.Thread(
            target=contextvars.copy_context().run, args=(self._run,), name="azure-sdk-synthesis", daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        try:
            for step in self._steps:
                if isinstance(step, Reading):
                    self._read(step)
                if self._cancelled.is_set():
                    return
                self._deliver("part", None)
            self._deliver("done", None)
        except SpeechError as exc:
            self._deliver("error", exc)
        except Exception:  # a bug must not leave the SDK waiting: report it and end the turn
            log.exception("azure sdk: synthesis job failed")
            self._deliver("error", UpstreamError("the synthesis failed; see the service log"))

    def _read(self, reading: Reading) -> None:
        stream = self._service.synthesize_events(reading.text, reading.options)
        with self._lock:
            self._current = stream
            if self._cancelled.is_set():
                stream.close()
                return
        try:
            for item in stream:
                if self._cancelled.is_set():
                    return
                if isinstance(item, AudioChunk):
                    self._deliver("audio", item.data)
                elif isinstance(item, WordTiming):
                    self._deliver("word", item)
        finally:
            stream.close()

    def cancel(self) -> None:
        self._cancelled.set()
        with self._lock:
            current = self._current
        if current is not None:
            current.close()
