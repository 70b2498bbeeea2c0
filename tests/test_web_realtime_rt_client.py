"""Microsoft's rt-client (npm, pinned in tests/js-realtime) on ``/openai/realtime``, the Azure
preview shape, with the ``api-key`` header: a spoken reply and a refused event.

The harness is installed by ``scripts/install-js-realtime``; the test skips, saying why, only
when node or npm is missing or the registry cannot be reached.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from loopback import serve

from speech_realtime.web import create_app

pytestmark = [pytest.mark.sdk, pytest.mark.subprocess]

ROOT = Path(__file__).resolve().parent.parent
#: Seconds for node to start, run the session and print its result.
NODE_LIMIT = 60.0
INBOUND = "inbound-key-0123456789"


@pytest.fixture(scope="module")
def harness() -> Path:
    if not shutil.which("node") or not shutil.which("npm"):
        pytest.skip("node and npm are needed for the rt-client test and are not installed")
    done = subprocess.run(
        [str(ROOT / "scripts" / "install-js-realtime")], capture_output=True, text=True, timeout=600
    )
    if done.returncode != 0:
        pytest.skip(f"rt-client could not be installed from npm: {done.stderr.strip()[-300:]}")
    return Path(done.stdout.strip())


def test_rt_client_speaks_the_preview_protocol_through_the_service(harness, settings, upstream):
    app = create_app(settings.with_changes(api_keys=(INBOUND,)))
    with serve(app) as base:
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
    assert "deployment=gpt-realtime-test" in upstream.handshakes[0]["path"]
    assert all("tools" not in event.get("session", {}) for event in upstream.client_events())
