"""Shutdown with Azure Speech SDK sockets open: drained within seconds, no SDK call left waiting.

The sans-I/O part drives the USP machines' ``drain`` input; the end-to-end part runs
``speech-realtime serve`` over the scripted upstream, opens sockets with the official Python SDK,
sends SIGTERM, and times what the SDK sees and when the process exits. Every SDK call and every
wait runs under a time limit.
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pytest
from azure_sdk_fixtures import quiet, tone, wav_bytes, within
from conftest import API_KEY
from serve_process import SERVE, clean_environ, launch
from test_usp_recognition import RID, audio, ctx, sent, start
from test_usp_synthesis import context, machine, ssml

from speech_realtime.options import Ended, Phrase, SpeechStarted
from speech_realtime.usp import effects as fx
from speech_realtime.usp import recognition as rec
from speech_realtime.usp import synthesis as syn
from speech_realtime.usp.frames import parse

#: What the SDK and the process get once SIGTERM is sent (the graceful timeout is 35 s).
STOP_LIMIT = 5.0


def closes(effects) -> list[tuple[int, str]]:
    return [(e.code, e.reason) for e in effects if isinstance(e, fx.Close)]


# -- the machines ---------------------------------------------------------------------------------


def test_an_idle_recognition_socket_closes_1000_at_once():
    machine_ = rec.RecognitionMachine(rec.Mode.CONVERSATION, {})
    assert machine_.drain() == [fx.Close(1000, fx.SHUTDOWN_REASON)]
    assert machine_.state is rec.RecognitionState.CLOSED
    assert machine_.drain() == [] and machine_.drain_expired() == []


def test_a_listening_turn_is_finished_transcribed_ended_then_closed():
    machine_ = rec.RecognitionMachine(rec.Mode.CONVERSATION, {})
    start(machine_)
    machine_.event(SpeechStarted(0.1))
    assert machine_.drain() == [fx.Finish()]
    assert machine_.state is rec.RecognitionState.DRAINING
    assert machine_.receive(audio(bytes(3200))) == []  # the client's audio after the drain is dropped
    assert machine_.receive(ctx("c" * 32)) == []  # and no new turn starts
    effects = machine_.event(Phrase("heard so far", 0.1, 0.5)) + machine_.event(Ended())
    assert [path for path, _ in sent(effects)] == ["speech.phrase", "speech.endDetected", "turn.end"]
    assert sent(effects)[0][1]["DisplayText"] == "heard so far"
    assert fx.Release() in effects
    assert closes(effects) == [(1000, fx.SHUTDOWN_REASON)]
    assert effects.index(fx.Release()) < len(effects) - 1  # the close comes last
    assert machine_.state is rec.RecognitionState.CLOSED


def test_a_turn_that_does_not_end_in_time_closes_4000():
    machine_ = rec.RecognitionMachine(rec.Mode.INTERACTIVE, {})
    start(machine_)
    machine_.drain()
    effects = machine_.drain_expired()
    assert effects == [fx.Release(), fx.Close(fx.SHUTTING_DOWN, "the service is shutting down")]
    assert machine_.event(Ended()) == []


def test_a_turn_announced_but_not_started_closes_4000():
    machine_ = rec.RecognitionMachine(rec.Mode.INTERACTIVE, {})
    machine_.receive(ctx(RID))
    assert closes(machine_.drain()) == [(fx.SHUTTING_DOWN, fx.SHUTDOWN_REASON)]


def test_an_idle_synthesis_socket_closes_4000_at_once():
    # never 1000: the SDK's next request may be on its way, and a 1000 would leave it waiting
    idle, _ = machine()
    assert idle.drain() == [syn.Close(fx.SHUTTING_DOWN, fx.SHUTDOWN_REASON)]
    waiting, _ = machine()
    waiting.receive(context())
    assert closes(waiting.drain()) == [(fx.SHUTTING_DOWN, fx.SHUTDOWN_REASON)]


def test_a_running_synthesis_completes_then_closes():
    synthesis, encoders = machine()
    synthesis.receive(context())
    synthesis.receive(ssml("Hello there."))
    assert synthesis.drain() == []
    assert synthesis.receive(context()) == []  # no new request while draining
    effects = synthesis.audio(bytes(4800)) + synthesis.part_done() + synthesis.done()
    paths = [parse(e.frame).path for e in effects if isinstance(e, syn.Send)]
    assert paths[0] == "audio" and paths[-1] == "turn.end"
    assert effects[-1] == syn.Close(fx.SHUTTING_DOWN, fx.SHUTDOWN_REASON)
    assert encoders[0].closed


def test_a_synthesis_that_does_not_finish_in_time_is_cancelled_and_closed_4000():
    synthesis, _ = machine()
    synthesis.receive(context())
    synthesis.receive(ssml("Hello there."))
    synthesis.drain()
    assert synthesis.drain_expired() == [syn.Cancel(), syn.Close(fx.SHUTTING_DOWN, fx.SHUTDOWN_REASON)]


# -- speech-realtime serve and the SDK -------------------------------------------------------------


@dataclass
class Serve:
    """A running ``speech-realtime serve``: the process and its WebSocket host for the SDK."""

    process: subprocess.Popen
    host: str
    log: list[str]

    def terminate(self) -> float:
        """SIGTERM, then the seconds until the process exits (fails past the limit)."""
        sent_at = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_LIMIT + 5)
        except subprocess.TimeoutExpired:
            pytest.fail("serve did not exit after SIGTERM")
        return time.monotonic() - sent_at


@pytest.fixture
def serve(upstream) -> Iterator[Serve]:
    """``speech-realtime serve`` on 127.0.0.1:0 over the scripted upstream (default worker model)."""
    env = clean_environ()
    env.update(
        {
            "AZURE_OPENAI_ENDPOINT": upstream.url,
            "AZURE_OPENAI_KEY": API_KEY,
            "AZURE_OPENAI_REALTIME_DEPLOYMENT": "gpt-realtime-test",
        }
    )
    started = launch(SERVE, env)
    try:
        yield Serve(started.process, f"ws://{started.address}", started.log)
    finally:
        print("".join(started.log))  # shown when the test fails
        if started.process.poll() is None:
            started.process.kill()
        started.process.wait(timeout=10)


@pytest.mark.subprocess
@pytest.mark.sdk
def test_a_continuous_recognition_gets_its_phrase_and_stops_when_serve_is_stopped(serve, upstream):
    speechsdk = pytest.importorskip("azure.cognitiveservices.speech")
    stream = speechsdk.audio.PushAudioInputStream()
    config = speechsdk.SpeechConfig(host=serve.host)
    recognizer = speechsdk.SpeechRecognizer(config, audio_config=speechsdk.audio.AudioConfig(stream=stream))
    speaking, stopped = threading.Event(), threading.Event()
    phrases: list[str] = []
    cancellations: list[tuple[object, str]] = []
    recognizer.speech_start_detected.connect(lambda e: speaking.set())
    recognizer.recognized.connect(lambda e: phrases.append(e.result.text))
    recognizer.canceled.connect(
        lambda e: cancellations.append((e.cancellation_details.reason, e.cancellation_details.error_details))
    )
    recognizer.session_stopped.connect(lambda e: stopped.set())
    within(lambda: recognizer.start_continuous_recognition_async().get())
    done = threading.Event()
    pcm = wav_bytes(np.concatenate([quiet(0.3), tone(10.0)]))[44:]  # one long utterance, still going

    def microphone() -> None:
        for at in range(0, len(pcm), 3200):
            if done.wait(0.1):
                return
            stream.write(pcm[at : at + 3200])

    threading.Thread(target=microphone, daemon=True).start()
    try:
        assert speaking.wait(10), "the service never detected the speech"
        sent_at = time.monotonic()
        serve.process.send_signal(signal.SIGTERM)
        assert stopped.wait(STOP_LIMIT) or cancellations, "the SDK saw nothing after SIGTERM"
        seen = time.monotonic() - sent_at
        exited = serve.process.wait(timeout=STOP_LIMIT)
    finally:
        done.set()
    print(f"the SDK saw the session stop {seen:.2f} s after SIGTERM; serve exited with {exited}")
    assert phrases == ["hello from the scripted server"]  # the audio heard so far, transcribed
    # turn.end, then close 1000: the SDK reconnects to go on listening and, with no service
    # left on the port, reports a connection failure at once
    for reason, details in cancellations:
        assert reason == speechsdk.CancellationReason.Error and "Connection" in details, details
    within(lambda: recognizer.stop_continuous_recognition_async().get())
    stream.close()


@pytest.mark.subprocess
@pytest.mark.sdk
def test_an_idle_synthesizer_socket_does_not_hold_serves_exit(serve, upstream):
    speechsdk = pytest.importorskip("azure.cognitiveservices.speech")
    synthesizer = speechsdk.SpeechSynthesizer(speechsdk.SpeechConfig(host=serve.host), audio_config=None)
    result = within(lambda: synthesizer.speak_text_async("hello there").get())
    assert result.reason == speechsdk.ResultReason.SynthesizingAudioCompleted
    seconds = serve.terminate()  # the synthesizer's socket stays open, idle
    print(f"serve exited {seconds:.2f} s after SIGTERM with an idle SDK socket open")
    assert seconds < STOP_LIMIT


def wait_for(condition, limit: float = 10.0) -> bool:
    """Whether ``condition()`` holds within ``limit`` seconds (polled)."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.mark.subprocess
@pytest.mark.sdk
@pytest.mark.parametrize(("chunk_delay", "completes"), [(0.5, True), (30.0, False)])
def test_a_synthesis_in_progress_completes_or_is_closed_4000(serve, upstream, chunk_delay, completes):
    speechsdk = pytest.importorskip("azure.cognitiveservices.speech")
    upstream.reset(chunk_delay=chunk_delay)
    synthesizer = speechsdk.SpeechSynthesizer(speechsdk.SpeechConfig(host=serve.host), audio_config=None)
    future = synthesizer.speak_text_async("hello there")
    assert wait_for(lambda: upstream.client_events("response.create")), "the synthesis never started"
    sent_at = time.monotonic()
    serve.process.send_signal(signal.SIGTERM)
    result = within(future.get, STOP_LIMIT + 2)
    print(f"the synthesis ended {time.monotonic() - sent_at:.2f} s after SIGTERM: {result.reason}")
    if completes:
        assert result.reason == speechsdk.ResultReason.SynthesizingAudioCompleted
        assert result.audio_data
    else:
        details = result.cancellation_details
        assert details.error_code == speechsdk.CancellationErrorCode.ConnectionFailure, details.error_details
        assert "shutting down" in details.error_details
    serve.process.wait(timeout=STOP_LIMIT)
