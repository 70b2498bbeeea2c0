"""The two Azure SDK sockets: the loop of :mod:`.socket_loop` carrying out a recognition
machine's effects on a recognition stream, and a synthesis machine's on a synthesis job."""

from __future__ import annotations

import queue
import time
from collections.abc import Callable
from typing import Any

from ..errors import SpeechError
from ..synthesis_job import SynthesisJob
from ..usp import recognition as rec
from ..usp import synthesis as syn
from .socket_loop import SocketLoop


class RecognitionSocket(SocketLoop):
    stream: Any = None  # the open recognition stream, if any

    def service_effects(self, timeout: float) -> list[Any]:
        effects: list[Any] = []
        while self.stream is not None:
            try:
                event = self.stream.poll(timeout)
            except SpeechError as exc:
                return effects + self.fail(exc)
            if event is None:
                return effects
            timeout = 0
            effects += self.machine.event(event)
        return effects

    def watch(self) -> list[Any]:
        return self.machine.tick(time.monotonic(), self.heard) if self.machine.busy else []

    def client_stalled(self) -> bool:
        # draining: the client is done, the service not
        return self.machine.state is rec.RecognitionState.LISTENING

    def carry_out(self, effect: Any) -> None:
        if isinstance(effect, rec.Open):
            self.release()
            self.stream = self.service.recognition_stream(
                effect.options, rate=effect.rate, channels=effect.channels
            )
        elif isinstance(effect, rec.Push) and self.stream is not None:
            self.stream.push(effect.pcm)
        elif isinstance(effect, rec.Finish) and self.stream is not None:
            self.stream.finish()
        elif isinstance(effect, rec.Release):
            self.release()

    def release(self) -> None:
        stream, self.stream = self.stream, None
        if stream is not None:
            stream.close()


class SynthesisSocket(SocketLoop):
    job: SynthesisJob | None = None  # the synthesis request running, if any

    def service_effects(self, timeout: float) -> list[Any]:
        effects: list[Any] = []
        handlers: dict[str, Callable[[Any], list[Any]]] = {
            "audio": self.machine.audio,
            "word": self.machine.word,
            "part": lambda _: self.machine.part_done(),
            "done": lambda _: self.machine.done(),
            "error": self.fail,
        }
        while self.job is not None:
            try:
                kind, value = self.job.results.get(timeout=timeout)
            except queue.Empty:
                return effects
            timeout = 0
            effects += handlers[kind](value)
            if kind in ("done", "error"):
                self.job = None
        return effects

    def carry_out(self, effect: Any) -> None:
        if isinstance(effect, syn.Speak):
            self.job = SynthesisJob(self.service, effect.document)
        elif isinstance(effect, syn.Cancel):
            self.release()

    def release(self) -> None:
        job, self.job = self.job, None
        if job is not None:
            job.cancel()
