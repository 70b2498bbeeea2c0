"""The pass-through and client secrets under ``speech-realtime serve`` with two gunicorn workers:
the upgrade served by the real worker, and a secret used once whichever worker takes it."""

from __future__ import annotations

import json
import urllib.request

import pytest
import websocket
from realtime_clients import raw_socket, receive_json
from serve_process import SERVE, clean_environ, launch

pytestmark = pytest.mark.subprocess

INBOUND = "inbound-key-0123456789"


@pytest.fixture
def served(upstream):
    env = {
        **clean_environ(),
        "AZURE_OPENAI_ENDPOINT": upstream.url,
        "AZURE_OPENAI_KEY": "cloud-key",
        "SPEECH_API_KEYS": INBOUND,
    }
    started = launch([*SERVE, "--workers", "2"], env)
    yield started
    started.stop()


def mint(address: str) -> str:
    request = urllib.request.Request(
        f"http://{address}/v1/realtime/client_secrets",
        data=json.dumps({"session": {"type": "realtime", "instructions": "Be brief."}}).encode(),
        headers={"Authorization": f"Bearer {INBOUND}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.load(answer)["value"]


def test_a_secret_is_used_once_across_workers(served, upstream):
    for _ in range(3):  # several secrets, so that both workers are likely asked
        secret = mint(served.address)
        protocols = ["realtime", f"openai-insecure-api-key.{secret}"]
        with raw_socket(f"ws://{served.address}/v1/realtime", subprotocols=protocols) as ws:
            assert receive_json(ws)["type"] == "session.created"
            assert receive_json(ws)["type"] == "session.updated"
        for _ in range(2):
            with pytest.raises(websocket.WebSocketBadStatusException) as refused:
                raw_socket(f"ws://{served.address}/v1/realtime", subprotocols=protocols).__enter__()
            assert refused.value.status_code == 401
    assert upstream.connections == 3
