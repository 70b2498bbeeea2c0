"""Injected network delay in the engine (SPEECH_ENGINE_LATENCY_MS): each message a wire's delay
late in each direction, in order, without holding other sessions; an upgrade three round trips."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from engine_client import EngineConnection
from engine_fixtures import FakeModels, user_text

from speech_realtime.config import Settings
from speech_realtime.engine.latency import accept_delay
from speech_realtime.engine.server import EngineServer

DELAY = 0.08


@pytest.fixture
def slow_engine(fake_models: FakeModels) -> Iterator[EngineServer]:
    server = EngineServer(models=fake_models, latency=DELAY).start()
    yield server
    server.stop()


def test_the_setting_is_read_in_milliseconds() -> None:
    assert Settings.from_mapping({"SPEECH_ENGINE_LATENCY_MS": "50"}).engine_latency == 0.05
    assert Settings.from_mapping({}).engine_latency == 0.0


def test_accepting_costs_three_round_trips_and_session_created_one_more_delay(slow_engine) -> None:
    started = time.monotonic()
    with EngineConnection(slow_engine.url):
        opened = time.monotonic() - started
    assert opened >= accept_delay(DELAY) + DELAY == pytest.approx(7 * DELAY)


def test_a_request_and_its_answer_each_take_one_delay_and_keep_their_order(slow_engine) -> None:
    with EngineConnection(slow_engine.url) as conn:
        started = time.monotonic()
        for n in range(5):
            conn.send("conversation.item.create", item=user_text(f"message {n}"))
        events = [event for _ in range(5) for event in conn.until("conversation.item.done")]
        added = [event for event in events if event["type"] == "conversation.item.added"]
        texts = [event["item"]["content"][0]["text"] for event in added]
        elapsed = time.monotonic() - started
    assert texts == [f"message {n}" for n in range(5)]
    # Two delays for the round trip, not one a message: the wire is long, not narrow.
    assert 2 * DELAY <= elapsed < 2 * DELAY + 5 * DELAY


def test_a_slow_session_does_not_hold_another(slow_engine) -> None:
    """Sessions opened at once each pay their own delays, side by side."""
    times: list[float] = []

    def one() -> None:
        started = time.monotonic()
        with EngineConnection(slow_engine.url) as conn:
            conn.send("input_audio_buffer.clear")
            conn.expect("input_audio_buffer.cleared")
        times.append(time.monotonic() - started)

    threads = [threading.Thread(target=one) for _ in range(6)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(times) == 6
    # Each costs 8 delays (upgrade, session.created, the round trip); six in series would be 48.
    assert time.monotonic() - started < 8 * DELAY * 3


def test_a_client_that_leaves_ends_its_session(slow_engine) -> None:
    with EngineConnection(slow_engine.url):
        assert slow_engine.open_sessions == 1
    deadline = time.monotonic() + 10
    while slow_engine.open_sessions and time.monotonic() < deadline:
        time.sleep(0.02)
    assert slow_engine.open_sessions == 0
