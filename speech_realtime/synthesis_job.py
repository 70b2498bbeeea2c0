"""One Azure SDK synthesis request on a thread: each SSML part read in turn through the service.

The SDK front end's socket starts a :class:`SynthesisJob` for each ``ssml`` frame and takes what
it produces from :attr:`SynthesisJob.results`: ``("audio", pcm)``, ``("word", WordTiming)``,
``("part", None)`` at the end of each part, then ``("done", None)`` or ``("error", SpeechError)``.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any

from .errors import SpeechError, UpstreamError
from .options import AudioChunk, SynthesisOptions, WordTiming, clamp_speed
from .speech import SpeechService
from .ssml import Break, Document

log = logging.getLogger(__name__)


class SynthesisJob:
    """One synthesis request on a thread: each SSML part read in turn, results into a queue."""

    def __init__(self, service: SpeechService, document: Document) -> None:
        self.results: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._service = service
        self._document = document
        self._cancelled = threading.Event()
        self._current: Any = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="azure-sdk-synthesis", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for part in self._document.parts:
                if not isinstance(part, Break):
                    self._read(part)
                if self._cancelled.is_set():
                    return
                self.results.put(("part", None))
            self.results.put(("done", None))
        except SpeechError as exc:
            self.results.put(("error", exc))
        except Exception:  # a bug must not leave the SDK waiting: report it and end the turn
            log.exception("azure sdk: synthesis job failed")
            self.results.put(("error", UpstreamError("the synthesis failed; see the service log")))

    def _read(self, part: Any) -> None:
        options = SynthesisOptions(
            voice=part.voice,
            speed=clamp_speed(part.speed),
            instructions=f"Speak in a {part.style} style." if part.style else None,
        )
        stream = self._service.synthesize_events(part.text, options)
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
                    self.results.put(("audio", item.data))
                elif isinstance(item, WordTiming):
                    self.results.put(("word", item))
        finally:
            stream.close()

    def cancel(self) -> None:
        self._cancelled.set()
        with self._lock:
            current = self._current
        if current is not None:
            current.close()
