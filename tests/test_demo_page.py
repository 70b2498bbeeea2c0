"""The demo page in a real browser: headless Chromium (Debian's) driven by selenium.

``speech-realtime serve`` runs on 127.0.0.1:0 over the offline engine; Chromium's fake
microphone plays a WAV the engine's Piper voice made of :data:`SENTENCE` followed by silence,
in a loop. The page records and transcribes it, speaks a streamed synthesis, and converses over
the relay. The service has an inbound key the browser never sees: the page works with the
short-lived token and relay secret of ``POST /demo/session``. Chromium and chromedriver come
from ``scripts/install-browser`` (apt); where they cannot be had the tests are skipped with its
reason. A screenshot of each test's page is kept under ``test-output/`` (git-ignored) and its
path printed.
"""

from __future__ import annotations

import http.client
import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from serve_process import ROOT, SERVE, Started, clean_environ, launch

from speech_realtime.audio.wav import write_wav

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium (the test extra) is not installed")
from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

pytestmark = [pytest.mark.subprocess, pytest.mark.models]

SENTENCE = "The quick brown fox jumps over the lazy dog."
#: Silence after the sentence in the fake microphone's loop: one utterance per loop for the VAD.
PAUSE_SECONDS = 14.0
#: A typed message whose echoed answer (about 20 s) outlasts a whole loop of the microphone, so
#: the loop's next utterance interrupts it wherever in the loop it starts.
LONG_MESSAGE = (
    "Here is a long message for the echo model to read back, so that its answer is still playing "
    "when the microphone speaks again, one sentence after another, for many seconds on end. "
    "It goes on about the weather, the river, the hills and the long road home, and then it "
    "counts the trees by the water, one by one, until someone finally interrupts it."
)
RATE = 24000
KEY = "demo-test-KEY-never-in-the-browser-0123"
SCREENSHOTS = ROOT / "test-output"


def words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


def heard_most(text: str) -> bool:
    """Whether ``text`` holds all but at most one word of :data:`SENTENCE`."""
    heard = set(words(text))
    return sum(word in heard for word in words(SENTENCE)) >= len(words(SENTENCE)) - 1


@pytest.fixture(scope="module")
def browser_paths() -> tuple[str, str]:
    """Chromium and chromedriver, installed by the project's own script when missing."""
    try:
        done = subprocess.run(
            [str(ROOT / "scripts" / "install-browser")], capture_output=True, text=True, timeout=900
        )
    except subprocess.TimeoutExpired:
        pytest.skip("scripts/install-browser did not finish within 15 minutes")
    if done.returncode != 0:
        pytest.skip(f"headless Chromium cannot be had here: {done.stderr.strip()[-300:]}")
    browser, driver = done.stdout.split()
    return browser, driver


@pytest.fixture(scope="module")
def server(engine) -> Iterator[Started]:
    env = {
        **clean_environ(),
        "SPEECH_ENGINE_URL": engine.url,
        "SPEECH_REQUEST_TIMEOUT": "60",
        "SPEECH_API_KEYS": KEY,  # the page must do everything with its demo session, never a key
    }
    started = launch([*SERVE, "--workers", "1"], env)
    yield started
    started.stop()


def call(server: Started, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json", "X-API-Key": KEY}
        connection.request(method, path, body=data, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.fixture(scope="module")
def microphone_wav(server: Started, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fake microphone's loop: the sentence in the engine's voice, then a pause. Each
    capture starts at the top of the file."""
    status, pcm = call(
        server, "POST", "/api/speech-realtime/synthesize", {"text": SENTENCE, "format": "pcm"}
    )
    assert status == 200, pcm[:300]
    path = tmp_path_factory.mktemp("microphone") / "sentence.wav"
    path.write_bytes(write_wav(pcm + bytes(int(PAUSE_SECONDS * RATE) * 2), RATE))
    return path


@pytest.fixture
def browser(browser_paths, microphone_wav: Path, tmp_path: Path, request: pytest.FixtureRequest):
    binary, driver_path = browser_paths
    options = Options()
    options.binary_location = binary
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--autoplay-policy=no-user-gesture-required",
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={microphone_wav}",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1000,1400",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(30)
    yield driver
    SCREENSHOTS.mkdir(exist_ok=True)
    shot = SCREENSHOTS / f"demo-page-{request.node.name}.png"
    driver.save_screenshot(str(shot))
    print(f"\nscreenshot of the demo page: {shot}")
    logs = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    if logs:
        print("browser console errors:", *logs, sep="\n  ")
    driver.quit()


def open_page(browser, server: Started) -> None:
    browser.get(f"http://127.0.0.1:{server.port}/")
    wait(browser, 30).until(lambda d: "ready" in text(d, "session-status"), "no demo session")


def wait(browser, seconds: float) -> WebDriverWait:
    return WebDriverWait(browser, seconds, poll_frequency=0.1)


def text(browser, element_id: str) -> str:
    return browser.find_element(By.ID, element_id).text


def data(browser, element_id: str, name: str) -> str:
    return browser.find_element(By.ID, element_id).get_attribute(f"data-{name}") or ""


def test_the_page_transcribes_a_recording(browser, server: Started, microphone_wav: Path) -> None:
    open_page(browser, server)
    speech = (len(microphone_wav.read_bytes()) - 44) / 2 / RATE - PAUSE_SECONDS
    browser.find_element(By.ID, "record").click()
    wait(browser, 20 + 2 * speech).until(
        lambda d: float(data(d, "record-status", "seconds") or 0) >= speech + 1.5, "the recording never grew"
    )
    browser.find_element(By.ID, "record-stop").click()
    wait(browser, 90).until(lambda d: text(d, "recognize-text"), text(browser, "record-status"))
    assert heard_most(text(browser, "recognize-text")), text(browser, "recognize-text")
    assert text(browser, "record-status").startswith("done")


def test_the_page_speaks_a_synthesis_as_it_streams(browser, server: Started) -> None:
    open_page(browser, server)
    box = browser.find_element(By.ID, "synth-text")
    box.clear()
    box.send_keys("The first sentence is short. The second one comes a little later. A third ends it.")
    browser.find_element(By.ID, "speak").click()
    wait(browser, 90).until(
        lambda d: data(d, "synth-status", "phase") in ("done", "failed"), "the synthesis never ended"
    )
    names = ("phase", "chunks", "first-audio-ms", "end-ms", "played")
    status = {name: data(browser, "synth-status", name) for name in names}
    assert status["phase"] == "done", text(browser, "synth-status")
    assert int(status["chunks"]) >= 2
    assert int(status["first-audio-ms"]) < int(status["end-ms"])  # played before the stream ended
    assert float(status["played"]) > 2.0  # the audio went through the page's audio graph


def relay_present(server: Started) -> bool:
    status, _ = call(server, "GET", "/realtime")
    return status != 404


def test_the_page_converses_over_the_relay(browser, server: Started) -> None:
    if not relay_present(server):
        pytest.skip("the relay (/realtime) is not in this build")
    open_page(browser, server)
    browser.find_element(By.ID, "converse").click()
    wait(browser, 15).until(lambda d: data(d, "status", "state") == "listening", "never connected")

    def turn_done(driver) -> bool:
        states = data(driver, "status", "history").split(",")
        return "speaking" in states and states[-1] == "listening"

    wait(browser, 90).until(turn_done, lambda: data(browser, "status", "history"))
    history = data(browser, "status", "history").split(",")
    assert history[:2] == ["idle", "listening"]
    assert history.index("thinking") < history.index("speaking")
    users = browser.find_elements(By.CSS_SELECTOR, "#transcript li.user")
    replies = browser.find_elements(By.CSS_SELECTOR, "#transcript li.assistant")
    assert users and heard_most(users[0].text), [u.text for u in users]
    assert replies and heard_most(replies[0].text), [r.text for r in replies]
    assert replies[0].get_attribute("data-done") == "true"
    timeline = data(browser, "status", "timeline")
    assert "interrupted" not in replies[0].get_attribute("class"), timeline  # heard to its end

    # Barge-in: the microphone's next loop speaks while the answer to a long message plays.
    browser.find_element(By.ID, "message").send_keys(LONG_MESSAGE)
    browser.find_element(By.ID, "send").click()

    def long_reply_cut(driver) -> bool:
        cut = driver.find_elements(By.CSS_SELECTOR, "#transcript li.assistant.interrupted")
        return any(words(item.text)[:4] == words(LONG_MESSAGE)[:4] for item in cut)

    wait(browser, 60).until(long_reply_cut, lambda: data(browser, "status", "timeline"))
    assert data(browser, "status", "state") != "speaking"

    browser.find_element(By.ID, "converse-stop").click()
    wait(browser, 10).until(lambda d: data(d, "status", "state") == "idle", "the conversation never closed")
