"""The session runner and the streams built on it, against the scripted server on loopback."""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from speech_realtime.audio import float_to_pcm16
from speech_realtime.errors import BadRequest, Saturated, SpeechError, UpstreamError, UpstreamTimeout
from speech_realtime.options import (
    AudioChunk,
    Ended,
    Hypothesis,
    Phrase,
    RecognitionOptions,
    SpeechStarted,
    SpeechStopped,
    SynthesisOptions,
    WordTiming,
)
from speech_realtime.realtime.events import parse_server_event, tts_session_update
from speech_realtime.realtime.runner import TurnStream
from speech_realtime.realtime.transport import Connection
from speech_realtime.speech import SpeechService
from speech_realtime.text import corpus_word_error_rate

RATE = 16000


@pytest.fixture
def service(settings) -> SpeechService:
    return SpeechService(settings)


def wait_until(condition: Callable[[], bool], timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


def tone(seconds: float) -> bytes:
    t = np.arange(int(seconds * RATE)) / RATE
    return float_to_pcm16(0.3 * np.sin(2 * np.pi * 440 * t))


def silence(seconds: float) -> bytes:
    return bytes(2 * int(seconds * RATE))


def drain(stream, timeout: float = 3.0) -> list[Any]:
    events: list[Any] = []
    deadline = time.monotonic() + timeout
    while not events or not isinstance(events[-1], Ended):
        assert time.monotonic() < deadline, f"no end in time; got {events}"
        event = stream.poll(0.1)
        if event is not None:
            events.append(event)
    return events


# -- slots ------------------------------------------------------------------------------------------


def test_a_held_slot_counts_against_the_session_limit(settings, upstream) -> None:
    service = SpeechService(settings.with_changes(max_sessions=1))
    with service.hold():
        with pytest.raises(Saturated):
            service.synthesize("Hello.")
        with pytest.raises(Saturated), service.hold():
            pass
    assert upstream.connections == 0
    assert service.synthesize("Hello.").audio


def test_closing_a_stalled_stream_releases_its_session_at_once(settings, upstream) -> None:
    service = SpeechService(settings.with_changes(max_sessions=1))
    upstream.script.chunk_delay = 0.2
    stream = service.synthesize_stream("A slow sentence to read.", SynthesisOptions(voice="alloy"))
    assert next(stream)
    stream.close()
    assert service.synthesize("Room again.").audio


def test_close_from_another_thread_ends_a_wait_for_upstream(settings, upstream) -> None:
    service = SpeechService(settings.with_changes(max_sessions=1, receive_timeout=10, request_timeout=10))
    upstream.script.mode = "silence"
    stream = service.synthesize_stream("Nobody answers.")
    outcome: list[object] = []

    def read() -> None:
        try:
            outcome.append(next(stream, "ended"))
        except Exception as exc:  # a close is never an error for the reader
            outcome.append(exc)

    reader = threading.Thread(target=read)
    started = time.monotonic()
    reader.start()
    wait_until(lambda: len(upstream.client_events("response.create")) == 1)
    stream.close()
    reader.join(2)
    assert not reader.is_alive() and outcome == ["ended"]
    assert time.monotonic() - started < 2
    with service.hold():
        pass


class _Abortable:
    """A connection stand-in: ``abort()`` ends the wait of the generator using it."""

    def __init__(self) -> None:
        self.aborted = threading.Event()

    def abort(self) -> None:
        self.aborted.set()


def _results(connected: Callable[[Any], None]) -> Any:
    """A turn's results: a short wait for each (ended early by an abort), and a release that takes
    a moment, the two windows in which a close from another thread meets the consumer."""
    conn = _Abortable()
    connected(conn)
    try:
        while True:
            if conn.aborted.wait(random.random() / 5000):
                raise UpstreamError("the connection was aborted")
            yield b"chunk"
    finally:
        time.sleep(random.random() / 5000)


def test_close_from_any_thread_never_surfaces_as_an_error_in_the_consumer() -> None:
    failures: list[BaseException] = []
    aborted: list[SpeechError] = []
    for _ in range(300):
        stream = TurnStream(_results, aborted=aborted.append)

        def consume(stream: TurnStream[bytes] = stream) -> None:
            try:
                for _ in stream:
                    time.sleep(random.random() / 5000)  # sending the chunk on
            except BaseException as exc:
                failures.append(exc)

        consumer = threading.Thread(target=consume)
        closers = [threading.Thread(target=stream.close) for _ in range(2)]
        consumer.start()
        time.sleep(random.random() / 1000)
        for closer in closers:
            closer.start()
        for thread in (consumer, *closers):
            thread.join(2)
            assert not thread.is_alive()
    assert failures == [] and aborted == []


def test_the_connector_can_be_swapped(settings, upstream) -> None:
    """A pool of pre-connected sessions plugs in here: anything with ``connect(timeout)``."""
    default = SpeechService(settings)
    timeouts: list[float] = []

    class Counting:
        def connect(self, timeout: float) -> Connection:
            timeouts.append(timeout)
            return default.runner.connector.connect(timeout)

    service = SpeechService(settings, connector=Counting())
    assert service.synthesize("Hello.").audio
    assert service.recognize_media(bytes(9600), "pcm16").text
    assert len(timeouts) == 2 and all(0 < t <= settings.connect_timeout for t in timeouts)


# -- the duplex connection --------------------------------------------------------------------------


def test_duplex_receives_without_a_deadline_pings_and_reports_the_close_reason(service, upstream) -> None:
    upstream.script.mode = "close_after_update"
    upstream.script.close_code = 4000
    upstream.script.close_reason = "session over"
    with service.runner.duplex() as conn:
        assert parse_server_event(conn.receive_idle(2)).type == "session.created"
        conn.ping(b"hi")
        conn.send(tts_session_update("ga", voice="alloy", audio_format="pcm16"))
        assert parse_server_event(conn.receive_idle(2)).type == "session.updated"
        with pytest.raises(UpstreamError):
            conn.receive_idle(2)
        assert conn.close_reason == (4000, "session over")


def test_check_runs_as_a_turn_of_the_runner(service, upstream) -> None:
    result = service.check()
    assert result["sessionCreated"] is True
    assert [e["type"] for e in upstream.client_events()] == ["session.update"]


# -- synthesis events -----------------------------------------------------------------------------


def test_synthesis_events_give_audio_and_word_timings_in_order(service, upstream) -> None:
    text = "Four words read aloud"
    items = list(service.synthesize_events(text, SynthesisOptions(speed=1.25, instructions="Warmly.")))
    audio = b"".join(item.data for item in items if isinstance(item, AudioChunk))
    words = [item for item in items if isinstance(item, WordTiming)]
    assert " ".join(w.text for w in words) == text
    offsets = [w.offset for w in words]
    assert offsets == sorted(offsets) and offsets[0] == 0
    assert words[-1].offset + words[-1].duration == pytest.approx(len(audio) / 48000, abs=0.002)
    update = upstream.client_events("session.update")[0]["session"]
    assert update["audio"]["output"]["speed"] == 1.25
    assert update["instructions"].endswith("Warmly.")


def test_synthesis_options_are_checked_before_any_session(service, upstream) -> None:
    with pytest.raises(BadRequest) as caught:
        SynthesisOptions(speed=2.0)
    assert caught.value.param == "speed"
    with pytest.raises(BadRequest) as caught:
        service.synthesize_events("Hi.", SynthesisOptions(voice="nobody"))
    assert upstream.connections == 0


# -- streaming recognition ------------------------------------------------------------------------


def test_streaming_recognition_yields_events_per_utterance_as_audio_arrives(service, upstream) -> None:
    upstream.script.transcripts = ("first phrase", "second one")
    stream = service.recognition_stream(RecognitionOptions(language="en-US"), rate=RATE)
    audio = silence(0.3) + tone(0.5) + silence(0.4) + tone(0.3) + silence(0.3)
    pusher = threading.Thread(
        target=lambda: [stream.push(audio[i : i + 3200]) for i in range(0, len(audio), 3200)]
    )
    pusher.start()
    pusher.join(5)
    stream.finish()
    events = drain(stream)
    kinds = [type(e) for e in events]
    assert kinds.count(SpeechStarted) == 2 and kinds.count(SpeechStopped) == 2
    assert Hypothesis in kinds
    phrases = [e for e in events if isinstance(e, Phrase)]
    assert [p.text for p in phrases] == ["first phrase", "second one"]
    assert phrases[0].offset == pytest.approx(0.3, abs=0.05)
    assert phrases[1].offset == pytest.approx(1.2, abs=0.05)
    assert phrases[0].duration == pytest.approx(0.7, abs=0.05)  # the speech and the VAD's 200 ms
    assert [w.text for w in phrases[1].words] == ["second", "one"]
    update = upstream.client_events("session.update")[0]["session"]["audio"]["input"]
    assert update["turn_detection"]["create_response"] is False
    assert update["transcription"]["language"] == "en"  # ISO-639-1 upstream
    assert not upstream.client_events("response.create")
    assert stream.poll(0.01) is None


def test_finish_commits_speech_still_in_progress(service, upstream) -> None:
    upstream.script.transcripts = ("cut short",)
    with service.recognition_stream(rate=24000) as stream:
        stream.push(float_to_pcm16(0.3 * np.sin(np.arange(12000) / 3)))
        stream.finish()
        phrases = [e for e in drain(stream) if isinstance(e, Phrase)]
    assert [p.text for p in phrases] == ["cut short"]
    assert len(upstream.client_events("input_audio_buffer.commit")) == 1


def test_stereo_input_is_downmixed_and_partial_samples_wait_for_the_rest(service, upstream) -> None:
    stereo = np.repeat(np.frombuffer(tone(0.4) + silence(0.3), dtype="<i2"), 2).tobytes()
    with service.recognition_stream(rate=RATE, channels=2) as stream:
        stream.push(stereo[:3])
        stream.push(stereo[3:])
        stream.finish()
        assert [e.text for e in drain(stream) if isinstance(e, Phrase)] == [upstream.script.transcript]


def test_a_recognition_stream_holds_a_slot_until_it_ends(settings, upstream) -> None:
    service = SpeechService(settings.with_changes(max_sessions=1))
    stream = service.recognition_stream()
    with pytest.raises(Saturated):
        service.recognition_stream()
    stream.finish()
    drain(stream)
    service.recognition_stream().close()


def test_upstream_failures_are_raised_from_poll_and_release_the_session(settings, upstream) -> None:
    service = SpeechService(settings.with_changes(max_sessions=1))
    upstream.script.mode = "error_event"
    stream = service.recognition_stream(rate=RATE)
    stream.push(tone(0.3) + silence(0.3))
    with pytest.raises(UpstreamError, match="upstream code: oops"):
        drain(stream)
    with pytest.raises(UpstreamError, match="upstream code: oops"):
        stream.poll(0)
    with pytest.raises(UpstreamError):
        stream.push(tone(0.1))
    service.recognition_stream().close()


def test_an_upstream_that_goes_quiet_after_finish_times_out(settings, upstream) -> None:
    service = SpeechService(settings.with_changes(receive_timeout=0.3))
    upstream.script.mode = "silence"
    stream = service.recognition_stream(rate=RATE)
    stream.push(tone(0.3) + silence(0.3))
    stream.finish()
    with pytest.raises(UpstreamTimeout):
        drain(stream)


def test_bad_stream_parameters_are_refused_before_any_session(service, upstream) -> None:
    for kwargs, param in (({"rate": 0}, "rate"), ({"channels": 9}, "channels")):
        with pytest.raises(BadRequest) as caught:
            service.recognition_stream(**kwargs)
        assert caught.value.param == param
    with pytest.raises(BadRequest) as caught:
        RecognitionOptions(language="x" * 10_000)
    assert caught.value.param == "language"
    assert upstream.connections == 0


# -- sockets are released ---------------------------------------------------------------------------


def _our_sockets_to(port: int) -> list[str]:
    """TCP states of this process's sockets whose remote end is ``port`` (from /proc)."""
    inodes = set()
    for fd in Path("/proc/self/fd").iterdir():
        target = os.readlink(fd) if fd.exists() else ""
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    states = []
    for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[9] in inodes and int(fields[2].rsplit(":", 1)[1], 16) == port:
                states.append(fields[3])
    return states


def test_no_socket_is_left_open_after_the_upstream_closes(service, upstream) -> None:
    """websocket-client's close() returns early once the peer closed; the socket then sat in
    CLOSE-WAIT until garbage collection (0x08 in /proc/net/tcp)."""
    upstream.script.mode = "close_before_done"
    with pytest.raises(UpstreamError) as caught:
        service.synthesize("Hello there.")
    assert caught.value is not None  # the traceback (and the connection) is still referenced
    assert _our_sockets_to(upstream.port) == []


def test_an_upstream_failure_mid_stream_is_counted_but_a_close_by_the_caller_is_not(
    service, upstream
) -> None:
    upstream.script.mode = "close_before_done"
    broken = service.synthesize_stream("The upstream hangs up in the middle of this.")
    with pytest.raises(UpstreamError):
        list(broken)
    assert service.counters.snapshot()["streams_aborted"] == 1

    upstream.reset(chunk_delay=0.5)
    stream = service.synthesize_stream("A slow reading that the caller gives up on.")
    assert next(stream)
    reader = threading.Thread(target=lambda: next(stream, None))
    reader.start()
    wait_until(lambda: len(upstream.client_events("response.create")) == 1)
    stream.close()  # whether the reader is waiting inside the stream or not yet
    reader.join(2)
    assert service.counters.snapshot()["streams_aborted"] == 1


# -- on the local engine (real models) --------------------------------------------------------------


def test_streaming_recognition_on_the_local_engine(engine_settings) -> None:
    service = SpeechService(engine_settings)
    sentences = ["Please send the report before Friday.", "The weather is sunny today."]
    pcm = [service.synthesize(s).audio for s in sentences]  # PCM16 24 kHz
    pause = bytes(2 * 24000)
    audio = pause + pcm[0] + pause + pcm[1] + pause
    with service.recognition_stream(RecognitionOptions(language="en"), rate=24000) as stream:
        for start in range(0, len(audio), 4800):  # 100 ms at a time
            stream.push(audio[start : start + 4800])
        stream.finish()
        events = drain(stream, timeout=60)
    phrases = [e for e in events if isinstance(e, Phrase)]
    assert corpus_word_error_rate(zip(sentences, (p.text for p in phrases), strict=False)) <= 0.2, phrases
    assert len(phrases) == 2
    assert phrases[0].offset == pytest.approx(1.0, abs=0.4)
    assert phrases[1].offset > phrases[0].offset + phrases[0].duration - 0.5
    assert any(isinstance(e, SpeechStarted) for e in events)


# -- deadlines measure progress ------------------------------------------------------------------


def test_a_reading_that_keeps_sending_audio_outlives_the_request_timeout(settings, upstream) -> None:
    service = SpeechService(settings.with_changes(request_timeout=0.6, receive_timeout=0.6))
    upstream.script.chunks, upstream.script.chunk_delay = 8, 0.25
    started = time.monotonic()
    speech = service.synthesize("A reading long enough to be given time for all of its audio. " * 2)
    assert time.monotonic() - started > 1.5
    assert speech.audio


def test_progress_never_outlasts_the_bound_the_input_gives(settings, upstream) -> None:
    # "Hi." may be 0.3 s of speech (0.6 s with its retry): 0.6 + 0.6 s in all, progress or not.
    service = SpeechService(settings.with_changes(request_timeout=0.6, receive_timeout=0.6))
    upstream.script.chunks, upstream.script.chunk_delay = 20, 0.25
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout, match="request deadline"):
        service.synthesize("Hi.")
    assert time.monotonic() - started < 1.2 + 0.5


def test_a_reading_too_long_to_serve_is_refused_before_connecting(settings, upstream) -> None:
    service = SpeechService(settings.with_changes(max_text_chars=20_000))
    with pytest.raises(BadRequest, match="longest reading is 60 minutes") as caught:
        service.synthesize("word " * 2000, SynthesisOptions(speed=0.25))
    assert caught.value.param == "text"
    assert upstream.connections == 0
    assert service.synthesize("word " * 200, SynthesisOptions(speed=0.25)).audio
