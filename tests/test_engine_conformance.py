"""Conformance with a client nobody here wrote: the official openai SDK against the engine.

Each test completes a TTS turn and an STT turn with the SDK's realtime client (GA:
``client.realtime.connect``; preview: ``client.beta.realtime.connect``), reading raw frames so
that every server event is validated against the typed union of its dialect before the SDK
parses it. The engine runs on the fake model set: the SDK checks the protocol, not the voice.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from engine_fixtures import pcm, tone
from openai import OpenAI
from openai_types import validate_server_event

#: Seconds an SDK conversation may take.
LIMIT = 20


def sdk(engine) -> OpenAI:
    port = engine.url.rsplit(":", 1)[1]
    return OpenAI(api_key="not-checked", websocket_base_url=f"ws://127.0.0.1:{port}/v1")


def events_until(conn: Any, dialect: str, last: str) -> list[dict[str, Any]]:
    events = []
    while True:
        event = json.loads(conn.recv_bytes())
        validate_server_event(dialect, event)
        assert conn.parse_event(json.dumps(event)).type == event["type"]
        events.append(event)
        if event["type"] == last:
            return events


SESSIONS = {
    "tts": {
        "ga": {
            "type": "realtime",
            "output_modalities": ["audio"],
            "audio": {"input": {"turn_detection": None}, "output": {"voice": "marin"}},
        },
        "preview": {"modalities": ["text", "audio"], "voice": "sage", "turn_detection": None},
    },
    "stt": {
        "ga": {
            "type": "realtime",
            "output_modalities": ["text"],
            "audio": {"input": {"transcription": {"model": "whisper-1"}, "turn_detection": None}},
        },
        "preview": {
            "modalities": ["text"],
            "input_audio_transcription": {"model": "whisper-1"},
            "turn_detection": None,
        },
    },
}


@contextmanager
def configured(engine, dialect: str, turn: str) -> Iterator[Any]:
    """An SDK connection of ``dialect`` whose session is set up for a ``turn`` (tts or stt).

    The SDK's receive has no timeout: a watchdog closes the connection after ``LIMIT`` seconds,
    so a silent engine fails the test instead of hanging it.
    """
    client = sdk(engine)
    if dialect == "ga":
        manager = client.realtime.connect(model="gpt-realtime")
    else:
        manager = client.beta.realtime.connect(model="gpt-4o-realtime-preview")
    with manager as conn:
        watchdog = threading.Timer(LIMIT, conn.close)
        watchdog.start()
        try:
            events_until(conn, dialect, "session.created")
            conn.session.update(session=SESSIONS[turn][dialect])
            events_until(conn, dialect, "session.updated")
            yield conn
        finally:
            watchdog.cancel()


@pytest.mark.parametrize("dialect", ["ga", "preview"])
def test_sdk_tts_turn(fake_engine, dialect: str) -> None:
    text = "The official client can talk to the engine."
    with configured(fake_engine, dialect, "tts") as conn:
        conn.conversation.item.create(
            item={"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
        )
        conn.response.create()
        events = events_until(conn, dialect, "response.done")
    delta = "response.output_audio.delta" if dialect == "ga" else "response.audio.delta"
    audio = b"".join(base64.b64decode(e["delta"]) for e in events if e["type"] == delta)
    assert len(audio) == 2 * int(0.1 * 8 * 24000)  # the fake voice: 0.1 s of tone per word
    assert events[-1]["response"]["status"] == "completed"
    assert events[-1]["response"]["output"][0]["content"][0]["transcript"] == text


@pytest.mark.parametrize("dialect", ["ga", "preview"])
def test_sdk_stt_turn(fake_engine, fake_models, dialect: str) -> None:
    text = fake_models.transcript = "Recognition works through the official client."
    with configured(fake_engine, dialect, "stt") as conn:
        conn.input_audio_buffer.append(audio=base64.b64encode(pcm(tone(1.0))).decode())
        conn.input_audio_buffer.commit()
        events = events_until(conn, dialect, "conversation.item.input_audio_transcription.completed")
    assert events[-1]["transcript"] == text
    assert "".join(e["delta"] for e in events if e["type"].endswith("transcription.delta")) == text
