"""A real browser (headless Chromium) opens the pass-through with a client secret in the
``openai-insecure-api-key.`` subprotocol: the handshake must echo a subprotocol it offered, or
Chromium fails the connection. Skipped, saying why, where Chromium is not installed."""

from __future__ import annotations

import functools
import http.server
import json
import queue
import shutil
import subprocess
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from loopback import serve

from speech_realtime.web import create_app

pytestmark = pytest.mark.subprocess

INBOUND = "inbound-key-0123456789"
#: Seconds for Chromium to start, load the page, run its socket and print the page.
BROWSER_LIMIT = 60.0
PAGE = """<html><body><script>
const seen = [];
const report = () => fetch("/report?" + encodeURIComponent(seen.join(",")));
const ws = new WebSocket(%(url)s, %(protocols)s);
ws.onopen = () => { seen.push("open:" + ws.protocol); };
ws.onmessage = (e) => { seen.push(JSON.parse(e.data).type); if (seen.length > 2) { ws.close(); report(); } };
ws.onerror = () => { seen.push("error"); report(); };
</script></body></html>"""


@pytest.fixture(scope="module")
def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.skip("Chromium is not installed (Debian's chromium package): the browser check needs it")
    return found


class _Pages(http.server.SimpleHTTPRequestHandler):
    """Serves the test's page; ``GET /report?<what the page saw>`` hands the page's report over."""

    reports: queue.Queue[str]

    def do_GET(self) -> None:
        if self.path.startswith("/report?"):
            self.reports.put(urllib.parse.unquote(self.path.partition("?")[2]))
            self.send_response(204)
            self.end_headers()
            return
        super().do_GET()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def pages(tmp_path: Path) -> Iterator[tuple[Path, str, queue.Queue[str]]]:
    """A directory served on loopback, its origin, and the reports its pages send."""
    reports: queue.Queue[str] = queue.Queue()
    handler = type("Pages", (_Pages,), {"reports": reports})
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(tmp_path))
    )
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield tmp_path, f"http://127.0.0.1:{server.server_port}", reports
    server.shutdown()
    thread.join(5)


def browse(chromium: str, url: str, reports: queue.Queue[str]) -> str:
    """What the page at ``url`` reports, within the limit; the browser is stopped after."""
    browser = subprocess.Popen(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", url],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        return reports.get(timeout=BROWSER_LIMIT)
    finally:
        browser.terminate()
        try:
            browser.wait(timeout=10)
        except subprocess.TimeoutExpired:
            browser.kill()
            browser.wait(timeout=10)


@pytest.mark.parametrize("with_realtime", [True, False])
def test_chromium_connects_with_a_secret_in_the_subprotocol(
    chromium, pages, settings, upstream, with_realtime
):
    directory, origin, reports = pages
    app = create_app(settings.with_changes(api_keys=(INBOUND,), cors_origins=(origin,)))
    secret = app.test_client().post(
        "/v1/realtime/client_secrets",
        json={"session": {"instructions": "Be brief."}},
        headers={"Authorization": f"Bearer {INBOUND}"},
    )
    key_protocol = f"openai-insecure-api-key.{secret.get_json()['value']}"
    protocols = ["realtime", key_protocol] if with_realtime else [key_protocol]
    with serve(app) as base:
        url = f"ws{base.removeprefix('http')}/v1/realtime"
        (directory / "page.html").write_text(
            PAGE % {"url": json.dumps(url), "protocols": json.dumps(protocols)}
        )
        shown = browse(chromium, f"{origin}/page.html", reports)
    assert shown.split(",") == [f"open:{protocols[0]}", "session.created", "session.updated"]
    assert upstream.client_events("session.update")[0]["session"]["instructions"] == "Be brief."
