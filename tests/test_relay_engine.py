"""The relay over the offline engine with the real models (marked ``models``): a text turn, a
spoken turn (Piper's voice in, Whisper's transcript out), barge-in, and a client leaving
mid-reply. Every receive is under a time limit (:mod:`relay_client`)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import numpy as np
import pytest
from engine_client import speech_pcm
from loopback import serve
from prometheus_client import REGISTRY
from relay_client import RelayClient, audio_of, json_of

#: 20 ms of PCM16 24 kHz: the frame a browser's audio worklet sends.
FRAME = 960
LONG_REPLY = " ".join(f"This is sentence number {n}." for n in range(1, 25))
#: A reply of short sentences: the engine voices one per step and hears the user between steps.
SHORT_STEPS = " ".join(["One.", "Two.", "Three.", "Four.", "Five.", "Six.", "Seven.", "Eight."] * 6)


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def wait_for(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.005)
    return condition()


@pytest.fixture
def relay_url(engine_app) -> Iterator[str]:
    with serve(engine_app) as url:
        yield url


def test_a_text_turn(relay_url: str) -> None:
    with RelayClient(relay_url, timeout=60) as client:
        assert client.next(60)["action"] == "connected"
        client.say("The weather is fine today.")
        messages = client.until("control", "text_done", timeout=60)
    text = "".join(d["delta"] for d in json_of(messages, "text_delta"))
    assert words(text) == words("The weather is fine today.")
    assert len(audio_of(messages)) > 24000  # over half a second of speech
    assert json_of(messages, "error") == []


def test_a_spoken_turn_is_transcribed_and_answered(relay_url: str, models) -> None:
    said = "Please tell me a short story about a cat."
    pcm = speech_pcm(models, said) + bytes(48000)  # a second of silence ends the turn
    with RelayClient(relay_url, timeout=60) as client:
        client.next(60)
        for start in range(0, len(pcm), FRAME * 5):
            client.send_audio(pcm[start : start + FRAME * 5])
        heard = client.until("transcription", timeout=60)
        reply = client.until("control", "text_done", timeout=60)
    assert json_of(heard, "control")[0]["action"] == "speech_started"
    transcript = json_of(heard, "transcription")[0]["text"]
    assert len(set(words(transcript)) & set(words(said))) >= 6, transcript
    assert words("".join(d["delta"] for d in json_of(reply, "text_delta"))) == words(transcript)
    assert audio_of(reply)


#: The bound asserted here on when the reply stops after the user's first speech frame. The
#: target is 300 ms (``scripts/relay_barge_in.py`` measures it: docs/relay.md); the engine hears
#: the user between two sentences of its reply, so on a loaded machine, where Piper takes longer
#: per sentence, the figure grows with the load, and a timed test must not fail for that.
STOP_BOUND_SECONDS = 1.0


def test_barge_in_stops_the_reply(relay_url: str, models) -> None:
    """The user speaks (real time, 20 ms frames) while a long reply is being generated: the
    client is told ``speech_started`` soon after the first frame of their speech was sent, no
    reply audio follows it, and the engine accepted the cancel and the truncation."""
    speech = speech_pcm(models, "Stop, stop, I have heard enough.")
    samples = np.frombuffer(speech, dtype="<i2")
    onset = int(np.flatnonzero(np.abs(samples) > 1000)[0]) * 2 // FRAME * FRAME
    pcm = bytes(FRAME * 10) + speech[onset:] + bytes(48000)
    with RelayClient(relay_url, timeout=60) as client:
        client.next(60)
        client.say(SHORT_STEPS)
        client.until("text_delta", timeout=60)  # the reply is under way
        spoke = None
        for index, start in enumerate(range(0, len(pcm), FRAME)):
            if index == 10:
                spoke = time.monotonic()
            client.send_audio(pcm[start : start + FRAME])
            time.sleep(0.02)
        messages = client.until("transcription", timeout=60)
    before = [(at, m) for at, m in client.received if spoke is not None and at >= spoke]
    interrupted = next(at for at, m in before if isinstance(m, dict) and m.get("action") == "speech_started")
    last_audio = max((at for at, m in before if isinstance(m, bytes) and at <= interrupted), default=spoke)
    late = [at for at, m in before if isinstance(m, bytes) and at > interrupted]
    assert late == []  # nothing of the reply after speech_started (the next reply follows the transcript)
    print(
        f"barge-in: speech_started {interrupted - spoke:.3f} s, last reply audio {last_audio - spoke:.3f} s"
    )
    assert interrupted - spoke <= STOP_BOUND_SECONDS
    assert json_of(messages, "error") == []


def test_a_client_gone_mid_reply_closes_the_upstream_within_a_second(relay_url: str, engine) -> None:
    """The relay's upstream connection is closed within a second (the engine itself lets the
    session go once the sentence it is voicing is done)."""
    open_before = REGISTRY.get_sample_value("speech_upstream_sessions_open") or 0.0
    with RelayClient(relay_url, timeout=60) as client:
        client.next(60)
        client.say(LONG_REPLY)
        client.until("text_delta", timeout=60)
        assert engine.open_sessions == 1
        gone = time.monotonic()
        client.ws.close(timeout=0)
        assert wait_for(lambda: REGISTRY.get_sample_value("speech_upstream_sessions_open") == open_before, 5)
        assert time.monotonic() - gone < 1.0
        assert wait_for(lambda: engine.open_sessions == 0, 10)
