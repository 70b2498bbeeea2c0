"""The two Azure SDK sockets: the loop of :mod:`.socket_loop` carrying out a recognition
machine's effects on a recognition stream, and a synthesis machine's on a synthesis job. The
service announces into the loop's inbox: the stream that it has events ready (only the loop
polls it, so they stay in order), the job each result, numbered, so nothing from a replaced or
cancelled job reaches the next one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import SpeechError
from ..synthesis_job import SynthesisJob
from ..usp import effects as fx
from ..usp import recognition as rec
from ..usp import synthesis as syn
from .socket_loop import SocketLoop

#: Inbox kinds: a recognition stream has events ready; a synthesis job delivered a result.
STREAM, JOB = "stream", "job"


class RecognitionSocket(SocketLoop):
    stream: Any = None  # the open recognition stream, if any

    def service_item(self, kind: str, value: Any) -> list[Any]:
        return self.pending() if kind == STREAM else []  # an old stream's notice finds nothing

    def pending(self) -> list[Any]:
        """Every event the open stream has ready, in order."""
        effects: list[Any] = []
        while self.stream is not None:
            try:
                event = self.stream.poll(0)
            except SpeechError as exc:
                return effects + self.fail(exc)
            if event is None:
                return effects
            effects += self.machine.event(event)
        return effects

    def watch(self, now: float) -> list[Any]:
        return self.machine.tick(now, self.heard) if self.machine.busy else []

    def timer(self) -> float | None:
        return self.machine.next_tick(self.heard)

    def client_stalled(self) -> bool:
        # draining: the client is done, the service not
        return self.machine.state is rec.RecognitionState.LISTENING

    def carry_out(self, effect: Any) -> None:
        if isinstance(effect, fx.Open):
            self.release()
            self.stream = self.service.recognition_stream(
                effect.options,
                rate=effect.rate,
                channels=effect.channels,
                notify=lambda: self.inbox.put((STREAM, None)),
            )
        elif isinstance(effect, fx.Push) and self.stream is not None:
            self.stream.push(effect.pcm)
        elif isinstance(effect, fx.Finish) and self.stream is not None:
            self.stream.finish()
        elif isinstance(effect, fx.Release):
            self.release()

    def release(self) -> None:
        stream, self.stream = self.stream, None
        if stream is not None:
            stream.close()


class SynthesisSocket(SocketLoop):
    job: SynthesisJob | None = None  # the synthesis request running, if any
    jobs = 0  # how many were started: the number tags the running one's results

    def service_item(self, kind: str, value: Any) -> list[Any]:
        number, what, payload = value
        if kind != JOB or self.job is None or number != self.jobs:
            return []  # a cancelled job's last results
        handlers: dict[str, Callable[[Any], list[Any]]] = {
            "audio": self.machine.audio,
            "word": self.machine.word,
            "part": lambda _: self.machine.part_done(),
            "done": lambda _: self.machine.done(),
            "error": self.fail,
        }
        if what in ("done", "error"):
            self.job = None
        return handlers[what](payload)

    def carry_out(self, effect: Any) -> None:
        if isinstance(effect, syn.Speak):
            self.release()
            self.jobs += 1
            number = self.jobs

            def deliver(what: str, payload: Any) -> None:
                self.inbox.put((JOB, (number, what, payload)))

            self.job = SynthesisJob(self.service, effect.steps, deliver)
        elif isinstance(effect, syn.Cancel):
            self.release()

    def release(self) -> None:
        job, self.job = self.job, None
        if job is not None:
            job.cancel()
