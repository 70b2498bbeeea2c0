"""A streaming recognition turn on one upstream session: push audio, poll events, any threads.

:class:`RecognitionStream` wraps the sans-I/O :class:`~.recognition.VadTranscription` with
the I/O: it holds a session slot and a connection from the :class:`~.runner.SessionRunner`
from the moment it is made until it ends or is closed; a background thread reads server events
and feeds them to the machine; :meth:`push` converts audio to the wire format (PCM16 24 kHz,
resampled with :class:`~speech_realtime.audio.StreamResampler`) and sends it. The machine is
only touched under one lock, so ``push`` may be called from one thread while ``poll`` is
called from the same or another.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack

import numpy as np

from .. import metrics
from ..audio import PCM16, StreamResampler, downmix, float_to_pcm16, pcm16_to_float
from ..errors import BadRequest, SpeechError, UpstreamError, UpstreamTimeout
from ..options import Ended, RecognitionEvent
from .events import parse_server_event
from .recognition import VadTranscription
from .runner import SessionRunner
from .session import ClientEvent
from .transport import Connection

#: How long close() waits for the reader thread after waking it.
_READER_JOIN_SECONDS = 2.0


class RecognitionStream:
    """Streaming recognition: ``push(pcm16le)``, ``finish()``, ``poll(timeout)``, ``close()``.

    Events are :class:`SpeechStarted`, :class:`Hypothesis`, :class:`Phrase`,
    :class:`SpeechStopped` and finally :class:`Ended` (after :meth:`finish`). A failure is
    raised from :meth:`poll` (and from :meth:`push` once known). After :meth:`finish`, the
    upstream must deliver the rest within ``idle`` seconds of silence. The session is released
    when :class:`Ended` or a failure is polled, or at :meth:`close` (idempotent). ``notify`` is
    called (from the stream's thread) whenever an event or failure becomes ready to poll, so a
    caller can block on its own queue instead of polling.
    """

    def __init__(
        self,
        runner: SessionRunner,
        machine: VadTranscription,
        *,
        rate: int,
        channels: int,
        idle: float,
        notify: Callable[[], None] | None = None,
    ) -> None:
        self._machine = machine
        self._notify = notify or (lambda: None)
        self._channels = channels
        self._frame = 2 * channels
        self._rate = rate
        self._resampler = StreamResampler(rate, PCM16.sample_rate)
        self._idle = idle
        self._lock = threading.Lock()
        self._events: queue.Queue[RecognitionEvent | SpeechError] = queue.Queue()
        self._remainder = b""
        self._failure: SpeechError | None = None
        self._finished_at: float | None = None
        self._last_event = time.monotonic()
        self._closing = False
        self._ended = False
        self._stack = ExitStack()
        try:
            session = runner.session(None, transcription=machine.transcription_session)
            self._conn: Connection = self._stack.enter_context(session)
            self._send(machine.start())
        except BaseException:
            self._stack.close()
            raise
        self._reader = threading.Thread(target=self._read, name="recognition-stream", daemon=True)
        self._reader.start()

    # -- the caller's side --------------------------------------------------------------------

    def push(self, pcm16le: bytes) -> None:
        """Append little-endian PCM16 at the stream's rate and channel count."""
        if self._failure is not None:
            raise self._failure
        data = self._remainder + pcm16le
        whole = len(data) - len(data) % self._frame
        self._remainder = data[whole:]
        if not whole:
            return
        samples = downmix(pcm16_to_float(data[:whole]).reshape(-1, self._channels))
        metrics.audio_in(len(samples) / self._rate)
        wire = float_to_pcm16(self._resampler.push(samples))
        with self._lock:
            self._send(self._machine.push(wire))

    def finish(self) -> None:
        """No more audio: what is left is committed; :class:`Ended` follows the last phrase."""
        if self._failure is not None:
            raise self._failure
        if self._remainder:
            raise BadRequest("the audio ends in the middle of a sample", code="invalid_audio", param="audio")
        tail = float_to_pcm16(self._resampler.push(np.zeros(0, dtype=np.float32), last=True))
        with self._lock:
            if self._finished_at is not None:
                return
            self._send(self._machine.push(tail))
            self._send(self._machine.finish())
            self._finished_at = time.monotonic()
            self._take_events()

    def poll(self, timeout: float) -> RecognitionEvent | None:
        """The next event, or None if none comes within ``timeout`` seconds (or after
        :class:`Ended`); a failure is raised, and raised again by later calls."""
        if self._failure is not None:
            raise self._failure
        if self._ended:
            return None
        try:
            item = self._events.get(timeout=timeout)
        except queue.Empty:
            self._check_idle()
            return None
        if isinstance(item, SpeechError):
            self._failure = item
            self.close()
            raise item
        if isinstance(item, Ended):
            self._ended = True
            self.close()
        return item

    def close(self) -> None:
        """Release the upstream session now (idempotent; safe from any thread)."""
        with self._lock:
            if self._closing:
                return
            self._closing = True
        self._conn.abort()
        if threading.current_thread() is not self._reader:
            self._reader.join(_READER_JOIN_SECONDS)
        self._stack.close()

    def __enter__(self) -> RecognitionStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ----------------------------------------------------------------------------

    def _check_idle(self) -> None:
        if self._finished_at is None or self._failure is not None:
            return
        quiet_since = max(self._finished_at, self._last_event)
        if time.monotonic() - quiet_since > self._idle:
            self._failure = UpstreamTimeout(f"upstream sent nothing for {self._idle:g} s")
            self.close()
            raise self._failure

    def _send(self, events: list[ClientEvent]) -> None:
        for event in events:
            self._conn.send(event)

    def _take_events(self) -> None:
        events = self._machine.take_events()
        for event in events:
            self._events.put(event)
        if events:
            self._notify()

    def _read(self) -> None:
        try:
            while not self._machine.done:
                message = self._conn.receive_idle(None)
                self._last_event = time.monotonic()
                event = parse_server_event(message)
                with self._lock:
                    self._send(self._machine.feed(event))
                    self._take_events()
        except SpeechError as exc:
            if not self._closing:
                self._events.put(exc)
                self._notify()
        except Exception as exc:  # a bug must not hang the poller: report it as an upstream failure
            if not self._closing:
                self._events.put(UpstreamError(f"recognition stream failed ({type(exc).__name__})"))
                self._notify()
        with contextlib.suppress(Exception):
            if self._machine.done:
                self._conn.close()
