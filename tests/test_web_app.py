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
    assert set(wrong.headers["Allow"].split(", ")) == {"OPTIONS", "POST"}
    elsewhere = client.get("/no/such/path")
    assert elsewhere.status_code == 404
    assert elsewhere.json["error"]["code"] == "not_found"


def test_body_over_the_limit_is_413(settings, upstream) -> None:
    client = create_app(settings.with_changes(max_body_bytes=4096)).test_client()
    response = client.post("/api/speech-realtime/recognize", json={"audioData": "A" * 8192})
    assert response.status_code == 413
    assert response.json["error"]["code"] == "payload_too_large"
    assert upstream.connections == 0


class Exploding:
    """A service whose recognition (the method the route calls) fails unexpectedly."""

    def __init__(self) -> None:
        self.calls = 0

    def recognize_media(self, *args, **kwargs):
        self.calls += 1
        raise RuntimeError(f"internal detail {API_KEY}")


def test_an_unexpected_exception_is_a_json_500_without_details(settings, caplog) -> None:
    service = Exploding()
    client = create_app(settings, service=service).test_client()
    with caplog.at_level(logging.ERROR):
        response = client.post("/api/speech-realtime/recognize", json={"audioData": "AAAA" * 2000})
    assert service.calls == 1, "the route never reached the service"
    assert response.status_code == 500
    assert response.json == {
        "error": {"code": "internal_error", "message": "internal error; see the service log"}
    }
    body = response.get_data(as_text=True)
    assert "Traceback" not in body and "internal detail" not in body
    logged = [r for r in caplog.records if r.exc_info]
    assert len(logged) == 1
    assert logged[0].exc_info[0] is RuntimeError


def test_the_key_never_reaches_logs(client, upstream, caplog) -> None:
    upstream.script.handshake_status = 401
    with caplog.at_level(logging.DEBUG):
        client.post("/api/speech-realtime/synthesize", json={"text": "Hi."})
        client.post("/api/speech-realtime/recognize", json={"audioData": "AAAA" * 2000})
    assert caplog.records
    assert API_KEY not in caplog.text
