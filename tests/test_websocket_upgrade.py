"""A WebSocket handshake is checked before anything upgrades it: a HEAD, a missing or unknown
protocol version, a malformed key is a 400 or 426 in the route family's shape, never a 101 or a
500, on the web app's SDK routes and on the engine alike."""

from __future__ import annotations

import base64

import pytest
from engine_fixtures import FakeModels

from speech_realtime.engine.server import create_engine_app
from speech_realtime.errors import BadRequest, UpgradeRequired
from speech_realtime.websocket_upgrade import check_upgrade

KEY = base64.b64encode(bytes(range(16))).decode()
UPGRADE = {
    "Upgrade": "websocket",
    "Connection": "Upgrade",
    "Sec-WebSocket-Key": KEY,
    "Sec-WebSocket-Version": "13",
}
#: Handshakes that must not be upgraded: (method, headers changed, status, words of the message).
BAD = [
    ("HEAD", {}, 400, "GET"),
    ("HEAD", {"Sec-WebSocket-Key": "nope"}, 400, "GET"),
    ("GET", {"Sec-WebSocket-Version": None}, 426, "no Sec-WebSocket-Version"),
    ("GET", {"Sec-WebSocket-Version": "8"}, 426, "'8'"),
    ("GET", {"Sec-WebSocket-Key": None}, 400, "Sec-WebSocket-Key"),
    ("GET", {"Sec-WebSocket-Key": "nope"}, 400, "Sec-WebSocket-Key"),
    ("GET", {"Sec-WebSocket-Key": base64.b64encode(bytes(15)).decode()}, 400, "16 bytes"),
]


def headers(changes: dict[str, str | None]) -> dict[str, str]:
    merged = {**UPGRADE, **changes}
    return {name: value for name, value in merged.items() if value is not None}


def test_a_valid_handshake_passes() -> None:
    check_upgrade("GET", UPGRADE)


@pytest.mark.parametrize(("method", "changes", "status", "words"), BAD)
def test_a_bad_handshake_is_refused_saying_why(method, changes, status, words) -> None:
    with pytest.raises((BadRequest, UpgradeRequired)) as caught:
        check_upgrade(method, headers(changes))
    assert caught.value.status == status and words in caught.value.message
    if status == 426:
        assert caught.value.headers["Sec-WebSocket-Version"] == "13"


@pytest.mark.parametrize(("method", "changes", "status", "words"), BAD)
@pytest.mark.parametrize("path", ["/cognitiveservices/websocket/v1", "/stt/speech/universal/v2"])
def test_the_sdk_routes_answer_a_bad_handshake_in_azures_shape(
    client, upstream, path, method, changes, status, words
):
    response = client.open(path, method=method, headers=headers(changes))
    assert response.status_code == status
    assert response.mimetype == "text/plain"
    if method == "GET":
        assert words in response.get_data(as_text=True)
    if status == 426:
        assert response.headers["Sec-WebSocket-Version"] == "13"
    assert upstream.connections == 0


@pytest.mark.parametrize(("method", "changes", "status", "words"), BAD)
def test_the_engine_answers_a_bad_handshake_in_the_realtime_shape(method, changes, status, words):
    client = create_engine_app(FakeModels()).test_client()
    response = client.open("/v1/realtime?model=x", method=method, headers=headers(changes))
    assert response.status_code == status
    if method == "GET":
        error = response.get_json()["error"]
        assert error["type"] == "invalid_request_error" and words in error["message"]
    if status == 426:
        assert response.headers["Sec-WebSocket-Version"] == "13"
