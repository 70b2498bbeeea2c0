"""The Azure Speech SDK's WebSocket protocol (USP) on the paths the SDKs use with ``host=``.

A thin flask-sock layer: each socket gets a sans-I/O machine from :mod:`speech_realtime.usp`,
and this module only moves frames and service events in and carries the machine's effects out
(send a frame, open/feed/finish/release a recognition stream, run/cancel a synthesis job, close).
Sessions are per turn: an idle socket holds no upstream session and no slot. While a turn runs,
a watchdog ends it when neither the client nor the service made progress for
``SPEECH_CLIENT_TIMEOUT`` seconds, so no SDK call waits forever.

Shutdown: the server sets the app's ``extensions[SHUTDOWN]`` event when it begins a graceful
stop; each socket's loop sees it within :data:`IDLE_RECEIVE_SECONDS` and drains: an idle socket
closes at once, a running turn ends properly and then the socket closes, and whatever is still
running after :data:`DRAIN_SECONDS` closes 4000 ("the service is shutting down").
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from flask import Blueprint, current_app, request
from flask.sansio.blueprints import BlueprintSetupState
from flask_sock import ConnectionClosed, Sock

from ..audio import PCM16
from ..audio.encoder import Encoder
from ..errors import BadRequest, SpeechError, UpstreamError
from ..languages import fixed_language
from ..options import AudioChunk, SynthesisOptions, WordTiming, clamp_speed
from ..speech import SpeechService
from ..ssml import Break, Document
from ..usp import recognition as rec
from ..usp import synthesis as syn
from ..usp.frames import FrameError, parse
from ..voices import resolve_voice
from .azure_speech import render_azure
from .errors import register_family

log = logging.getLogger(__name__)

azure_sdk = Blueprint("azure_sdk", __name__)
_sock = Sock()

RECOGNITION_PATHS = {
    "/speech/recognition/interactive/cognitiveservices/v1": rec.Mode.INTERACTIVE,
    "/speech/recognition/conversation/cognitiveservices/v1": rec.Mode.CONVERSATION,
    "/speech/recognition/dictation/cognitiveservices/v1": rec.Mode.DICTATION,
    "/speech/universal/v2": rec.Mode.CONVERSATION,
    # endpoint= without a path: the mode comes in speech.context (phraseDetection.mode)
    "/stt/speech/universal/v2": rec.Mode.CONVERSATION,
}
SYNTHESIS_PATHS = ("/cognitiveservices/websocket/v1", "/tts/cognitiveservices/websocket/v1")
#: The prefixes of these paths that the Azure REST family does not already cover.
PREFIXES = ("/speech/universal", "/stt", "/tts")

#: How long the loop waits for one source while a turn runs before looking at the other.
TICK_SECONDS = 0.02
#: How long an idle socket blocks in receive between checks (no turn: only shutdown to watch for).
IDLE_RECEIVE_SECONDS = 0.5
#: How long a running turn may take to end once shutdown begins (recognition: the last phrases
#: of the audio heard; synthesis: the rest of the speech) before the socket closes 4000.
DRAIN_SECONDS = 5.0
#: The app's ``extensions`` key of the :class:`threading.Event` set when the server begins to
#: stop (by :class:`~speech_realtime.web.server.SpeechWorker`).
SHUTDOWN = "shutdown"
#: The largest client frame (SDK audio frames hold 100 ms, SSML is limited to 64 KiB); a larger
#: one is closed 1009 as it arrives instead of being buffered without bound.
MAX_FRAME_BYTES = 1 << 20


def _service() -> SpeechService:
    return current_app.extensions["speech"]


def _shutdown() -> threading.Event:
    return current_app.extensions[SHUTDOWN]


class _Socket:
    """The loop shared by both machines: receive, collect service events, watch, apply."""

    def __init__(
        self,
        ws: Any,
        machine: rec.Recognition | syn.Synthesis,
        service: SpeechService,
        idle_limit: float,
        shutdown: threading.Event | None = None,
    ) -> None:
        self.ws = ws
        self.machine = machine
        self.service = service
        self.idle_limit = idle_limit
        self.progress = self.heard = time.monotonic()
        self.open = True
        self.shutdown = shutdown or threading.Event()  # none: a socket nothing will shut down
        self.drain_until: float | None = None

    def run(self) -> None:
        try:
            while self.open:
                busy = self.machine.busy
                data = self.ws.receive(timeout=0 if busy else IDLE_RECEIVE_SECONDS)
                effects: list[Any] = []
                if busy:  # first: the client's frame may end this turn and start another
                    effects += self.service_effects(TICK_SECONDS if data is None else 0)
                    if effects:
                        self.progress = time.monotonic()
                if data is not None:
                    self.progress = self.heard = time.monotonic()
                    try:
                        effects += self.machine.receive(parse(data))
                    except FrameError as exc:
                        effects += self.machine.refuse(str(exc))
                effects += self.watch() + self.drain()
                if self.machine.busy and time.monotonic() - self.progress > self.idle_limit:
                    level = logging.INFO if self.client_stalled() else logging.WARNING
                    log.log(level, "azure sdk: turn made no progress for %g s; ending it", self.idle_limit)
                    self.progress = time.monotonic()
                    effects += self.machine.idle()
                self.apply(effects)
        except ConnectionClosed:
            level = logging.INFO if self.machine.busy else logging.DEBUG  # mid-turn: the turn is lost
            log.log(level, "azure sdk: client closed the socket")
        except Exception:  # a bug must not leave the SDK waiting: close with an error code
            log.exception("azure sdk: socket failed")
            with contextlib.suppress(Exception):
                self.ws.close(reason=1011, message="internal error; see the service log")
        finally:
            self.release()

    def apply(self, effects: Iterable[Any]) -> None:
        pending = deque(effects)
        while pending and self.open:
            effect = pending.popleft()
            try:
                if isinstance(effect, rec.Send):
                    self.ws.send(effect.frame)
                elif isinstance(effect, rec.Close):
                    log.info("azure sdk: closing %d: %s", effect.code, effect.reason)
                    self.open = False
                    self.ws.close(reason=effect.code, message=effect.reason)
                else:
                    self.carry_out(effect)
            except SpeechError as exc:
                pending.extendleft(reversed(self.fail(exc)))

    def drain(self) -> list[Any]:
        """Once the server is stopping: the machine's drain, then its expiry after the bound."""
        if self.drain_until is None:
            if not self.shutdown.is_set():
                return []
            self.drain_until = time.monotonic() + DRAIN_SECONDS
            log.info("azure sdk: the service is stopping; draining the socket")
            return self.machine.drain()
        if time.monotonic() < self.drain_until:
            return []
        log.warning("azure sdk: the turn did not end within %g s of shutdown; closing", DRAIN_SECONDS)
        return self.machine.drain_expired()

    def fail(self, error: SpeechError) -> list[Any]:
        """The service failed the turn: the machine's effects, and one log line for operators.

        An upstream, capacity or timeout failure is a WARNING; input the service refused
        (an unknown language, say) is the client's business and only INFO.
        """
        level = logging.WARNING if error.status >= 500 or error.status == 429 else logging.INFO
        log.log(level, "azure sdk: the turn failed: %s: %s", error.code, error.message)
        return self.machine.fail(error)

    # -- per machine ---------------------------------------------------------------------------

    def service_effects(self, timeout: float) -> list[Any]:
        raise NotImplementedError

    def watch(self) -> list[Any]:
        """Effects that are due by time alone (none, unless a machine has timers)."""
        return []

    def client_stalled(self) -> bool:
        """Whether a turn with no progress waits for the client (else the upstream failed it)."""
        return False

    def carry_out(self, effect: Any) -> None:
        raise NotImplementedError

    def release(self) -> None:
        raise NotImplementedError


class _RecognitionSocket(_Socket):
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
        return self.machine.state is rec.State.LISTENING  # draining: the client is done, the service not

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


class _Job:
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


class _SynthesisSocket(_Socket):
    job: _Job | None = None  # the synthesis request running, if any

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
            self.job = _Job(self.service, effect.document)
        elif isinstance(effect, syn.Cancel):
            self.release()

    def release(self) -> None:
        job, self.job = self.job, None
        if job is not None:
            job.cancel()


def _recognition_route(mode: rec.Mode) -> Callable[[Any], None]:
    def route(ws: Any) -> None:
        service = _service()
        machine = rec.Recognition(
            mode, request.args.to_dict(), fixed_language=fixed_language(service.endpoint.backend)
        )
        _RecognitionSocket(ws, machine, service, service.settings.client_timeout, _shutdown()).run()

    return route


def _synthesis_route(ws: Any) -> None:
    service = _service()
    dialect = service.endpoint.dialect
    machine = syn.Synthesis(
        lambda output: Encoder(output, PCM16, streaming=True),
        check_voice=lambda name: resolve_voice(name, dialect),
        query=request.args.to_dict(),
    )
    _SynthesisSocket(ws, machine, service, service.settings.client_timeout, _shutdown()).run()


def _not_upgraded() -> None:
    """A plain GET on a WebSocket path: Azure's kind of 400 that says what the path is for.

    Without this route werkzeug refuses the request while routing, with a message about
    the browser that helps no one.
    """
    raise BadRequest(f"{request.path} is a Speech SDK WebSocket endpoint: connect with a WebSocket upgrade")


def _endpoint(path: str) -> str:
    return "usp_" + path.strip("/").replace("/", "_")


register_family(azure_sdk, PREFIXES, render_azure)


@azure_sdk.record_once
def _configure(state: BlueprintSetupState) -> None:
    """flask-sock reads its socket options from the app's config; an app that set a frame
    limit of its own keeps it. The shutdown event is created here, for the server to set."""
    state.app.config.setdefault("SOCK_SERVER_OPTIONS", {}).setdefault("max_message_size", MAX_FRAME_BYTES)
    state.app.extensions.setdefault(SHUTDOWN, threading.Event())


for _path, _mode in RECOGNITION_PATHS.items():
    _sock.route(_path, bp=azure_sdk, endpoint=_endpoint(_path))(_recognition_route(_mode))
for _path in SYNTHESIS_PATHS:
    _sock.route(_path, bp=azure_sdk, endpoint=_endpoint(_path))(_synthesis_route)
for _path in (*RECOGNITION_PATHS, *SYNTHESIS_PATHS):
    azure_sdk.add_url_rule(_path, _endpoint(_path) + "_http", _not_upgraded, methods=["GET"])
