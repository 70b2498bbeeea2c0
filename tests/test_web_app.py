"""The app factory's error handling: JSON for every failure, no stack traces, no secrets."""

from __future__ import annotations

import logging

from conftest import API_KEY

from speech_realtime.web import create_app


def test_unknown_path_and_method_are_json(client) -> None:
    missing = client.get("/api/speech-realtime/nothing")
    assert missing.status_code == 404
    assert missing.json["error"]["code"] == "not_found"
    wrong = client.get("/api/speech-realtime/synthesize")
    assert wrong.status_code == 405
    assert wrong.json["error"]["code"] == "method_not_allowed"


def test_body_over_the_limit_is_413(settings, upstream) -> None:
    client = create_app(settings.with_changes(max_body_bytes=4096)).test_client()
    response = client.post("/api/speech-realtime/recognize", json={"audioData": "A" * 8192})
    assert response.status_code == 413
    assert response.json["error"]["code"] == "payload_too_large"
    assert upstream.connections == 0


def test_an_unexpected_exception_is_a_json_500_without_details(settings, caplog) -> None:
    class Exploding:
        def recognize(self, *args, **kwargs):
            raise RuntimeError(f"internal detail {API_KEY}")

    client = create_app(settings, service=Exploding()).test_client()
    with caplog.at_level(logging.ERROR):
        response = client.post("/api/speech-realtime/recognize", json={"audioData": "AAAA" * 2000})
    assert response.status_code == 500
    assert response.json == {
        "error": {"code": "internal_error", "message": "internal error; see the service log"}
    }
    assert "Traceback" not in response.get_data(as_text=True)


def test_the_key_never_reaches_logs(client, upstream, caplog) -> None:
    upstream.script.handshake_status = 401
    with caplog.at_level(logging.DEBUG):
        client.post("/api/speech-realtime/synthesize", json={"text": "Hi."})
        client.post("/api/speech-realtime/recognize", json={"audioData": "AAAA" * 2000})
    assert caplog.records
    assert API_KEY not in caplog.text
