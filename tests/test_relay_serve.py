"""The relay under ``speech-realtime serve`` (gunicorn and its worker), over the scripted
conversation upstream: a text turn, and SIGTERM closing a live relay 1001 (marker ``subprocess``)."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator

import pytest
from conftest import API_KEY
from relay_client import RelayClient, audio_of, json_of
from relay_upstream import ConversationServer
from serve_process import SERVE, Started, clean_environ, launch

pytestmark = pytest.mark.subprocess


@pytest.fixture
def served(conversation_server: ConversationServer) -> Iterator[tuple[Started, str]]:
    conversation_server.reset()
    env = clean_environ()
    env.update(
        {
            "AZURE_OPENAI_ENDPOINT": conversation_server.url,
            "AZURE_OPENAI_KEY": API_KEY,
            "AZURE_OPENAI_REALTIME_DEPLOYMENT": "gpt-realtime-test",
        }
    )
    started = launch(SERVE, env)
    try:
        yield started, f"http://{started.address}"
    finally:
        print("".join(started.log))  # shown when the test fails
        if started.process.poll() is None:
            started.process.kill()
        started.process.wait(timeout=10)


def test_a_text_turn_under_serve_and_sigterm_closes_the_relay(served, conversation_server) -> None:
    started, url = served
    with RelayClient(url) as client:
        assert client.next()["action"] == "connected"
        client.say("hello under gunicorn")
        turn = client.until("control", "text_done")
        assert audio_of(turn) and json_of(turn, "text_delta")
        stopped = time.monotonic()
        started.process.send_signal(signal.SIGTERM)
        code, messages = client.closed(10)
    assert code == 1001 and json_of(messages, "error")[-1]["code"] == "shutting_down"
    assert time.monotonic() - stopped < 5
    started.process.wait(timeout=30)
    assert conversation_server.ended
