"""Microsoft's rt-client (npm, pinned in tests/js-realtime) on ``/openai/realtime``, the Azure
preview shape, with the ``api-key`` header: a spoken reply and a refused event, against
``speech-realtime serve`` as deployed.

The harness is installed by ``scripts/install-js-realtime``; the test skips, saying why, only
when node or npm is missing or the registry cannot be reached.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from node_harness import install_harness
from realtime_clients import INBOUND, served_process

pytestmark = [pytest.mark.sdk, pytest.mark.subprocess]

#: Seconds for node to start, run the session and print its result.
NODE_LIMIT = 60.0


@pytest.fixture(scope="module")
def harness() -> Path:
    return install_harness("install-js-realtime", "rt-client")


def test_rt_client_speaks_the_preview_protocol_through_the_service(harness, upstream):
    with served_process(upstream.url) as base:
        done = subprocess.run(
            ["node", str(harness / "rt.mjs"), base, INBOUND, "any-deployment", "hello from rt client"],
            capture_output=True,
            text=True,
            timeout=NODE_LIMIT,
        )
    assert done.returncode == 0, done.stderr[-2000:] + done.stdout[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["seen"][0] == "session.created"
    assert "response.audio.delta" in result["seen"] and "response.done" in result["seen"]
    assert result["transcript"] == "hello from rt client"
    assert result["refusal"]["param"] == "session.tools"
    assert upstream.handshakes[0]["path"].startswith("/openai/realtime?api-version=")
    assert "deployment=gpt-realtime" in upstream.handshakes[0]["path"]
    assert all("tools" not in event.get("session", {}) for event in upstream.client_events())
