"""The official Azure Speech JavaScript SDK (npm, pinned in tests/js) against the service.

``SpeechConfig.fromHost`` synthesizes on ``/tts/cognitiveservices/websocket/v1`` and accepts
audio only after a ``response`` message naming its stream id. The harness is installed by
``scripts/install-js-sdk``; the tests skip, saying why, only when node or npm is missing or the
registry cannot be reached.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from azure_sdk_fixtures import tone, wav_bytes
from node_harness import install_harness

pytestmark = [pytest.mark.sdk, pytest.mark.subprocess]

#: Seconds for node to start, run one SDK call and print its result.
NODE_LIMIT = 60.0


@pytest.fixture(scope="module")
def harness() -> Path:
    return install_harness("install-js-sdk", "the JavaScript SDK")


def node(harness: Path, *args: str) -> dict:
    done = subprocess.run(
        ["node", str(harness / "usp.mjs"), *args], capture_output=True, text=True, timeout=NODE_LIMIT
    )
    assert done.returncode == 0, done.stderr[-2000:] + done.stdout[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_js_sdk_synthesis(harness, sdk_host, upstream):
    result = node(harness, "synthesize", sdk_host, "hello from the scripted server")
    assert result["reason"] == "SynthesizingAudioCompleted", result
    assert result["bytes"] > 44  # the SDK's RIFF header and our raw samples
    words = [word["text"] for word in result["words"]]
    assert words[:5] == ["hello", "from", "the", "scripted", "server"]


def test_js_sdk_recognition(harness, sdk_host, upstream, tmp_path):
    path = tmp_path / "input.wav"
    path.write_bytes(wav_bytes(tone(1.0)))
    result = node(harness, "recognize", sdk_host, str(path))
    assert result["reason"] == "RecognizedSpeech", result
    assert result["text"] == "hello from the scripted server"
    assert result["duration"] > 0


def test_js_sdk_word_boundaries_after_and_inside_emoji(harness, sdk_host, upstream):
    """The JavaScript SDK finds each word in its (UTF-16) input from the end of the last one,
    moved on by the word's ``Length``: code points there would land later words inside earlier ones."""
    text = "😀 Caf😀é and 😀😀 more words"
    result = node(harness, "synthesize", sdk_host, text)
    assert result["reason"] == "SynthesizingAudioCompleted", result
    units = text.encode("utf-16-le")
    for word in result["words"]:
        start, length = word["textOffset"], word["wordLength"]
        assert units[2 * start : 2 * (start + length)].decode("utf-16-le") == word["text"], result["words"]
    assert {"Caf😀é", "more", "words"} <= {word["text"] for word in result["words"]}
