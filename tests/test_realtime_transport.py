"""URLs per backend, and connection failures translated into the service's errors."""

from __future__ import annotations

import base64
import hashlib
import socket
import threading
import time

import pytest

from speech_realtime.config import Backend, Settings
from speech_realtime.errors import (
    ConfigError,
    RateLimited,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from speech_realtime.realtime.events import Dialect
from speech_realtime.realtime.transport import Connection, Endpoint, endpoint_for, retry_after
from speech_realtime.speech import SpeechService


def test_azure_ga_url_has_model_and_no_api_version() -> None:
    settings = Settings.from_mapping(
        {"AZURE_OPENAI_ENDPOINT": "https://res.openai.azure.com/", "AZURE_OPENAI_REALTIME_DEPLOYMENT": "rt"}
    )
    endpoint = endpoint_for(settings)
    assert endpoint.url == "wss://res.openai.azure.com/openai/v1/realtime?model=rt"
    assert endpoint.dialect == "ga"


def test_azure_preview_url_has_api_version_and_deployment() -> None:
    settings = Settings.from_mapping(
        {
            "AZURE_OPENAI_ENDPOINT": "https://res.openai.azure.com",
            "AZURE_OPENAI_REALTIME_DEPLOYMENT": "gpt-4o-realtime-preview",
            "AZURE_OPENAI_API_VERSION": "2025-04-01-preview",
        }
    )
    assert endpoint_for(settings).url == (
        "wss://res.openai.azure.com/openai/realtime?api-version=2025-04-01-preview"
        "&deployment=gpt-4o-realtime-preview"
    )


def test_openai_url_and_http_endpoints_use_plain_ws() -> None:
    openai = endpoint_for(Settings.from_mapping({"OPENAI_API_KEY": "k"}))
    assert openai.url == "wss://api.openai.com/v1/realtime?model=gpt-realtime"
    local = endpoint_for(Settings.from_mapping({"AZURE_OPENAI_ENDPOINT": "http://127.0.0.1:9"}))
    assert local.url.startswith("ws://127.0.0.1:9/openai/v1/realtime")


def test_keys_never_appear_in_urls() -> None:
    settings = Settings.from_mapping({"AZURE_OPENAI_ENDPOINT": "https://r", "AZURE_OPENAI_KEY": "SECRET"})
    assert "SECRET" not in endpoint_for(settings).url


def test_credentials_in_a_configured_url_never_reach_messages() -> None:
    settings = Settings.from_mapping({"SPEECH_ENGINE_URL": "http://user:SECRET@127.0.0.1:9"})
    assert endpoint_for(settings).host == "127.0.0.1:9"


def test_connection_refused_is_upstream_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    endpoint = Endpoint("azure", f"ws://127.0.0.1:{port}/openai/v1/realtime?model=m", "ga", "m")
    with pytest.raises(UpstreamUnavailable):
        Connection.open(endpoint, {}, timeout=1)


def test_a_server_that_never_answers_the_handshake_times_out() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted: list[socket.socket] = []
    threading.Thread(target=lambda: accepted.append(listener.accept()[0]), daemon=True).start()
    endpoint = Endpoint("azure", f"ws://127.0.0.1:{listener.getsockname()[1]}/x", "ga", "m")
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout):
        Connection.open(endpoint, {}, timeout=0.5)
    assert time.monotonic() - started < 1.5
    listener.close()


def _server_sending(frames: list[bytes]) -> socket.socket:
    """A WebSocket server on loopback that answers one handshake, then sends ``frames`` (raw)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def serve() -> None:
        conn, _ = listener.accept()
        request = b""
        while b"\r\n\r\n" not in request:
            request += conn.recv(4096)
        key = next(
            line.split(b":", 1)[1].strip()
            for line in request.split(b"\r\n")
            if line.lower().startswith(b"sec-websocket-key:")
        )
        accept = base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
        conn.sendall(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n" + b"".join(frames)
        )
        conn.recv(4096)  # until the client hangs up
        conn.close()

    threading.Thread(target=serve, daemon=True).start()
    return listener


def _text_frame(payload: bytes) -> bytes:
    return bytes([0x81, len(payload)]) + payload


def test_text_messages_are_decoded_and_one_that_is_not_utf8_fails_the_connection() -> None:
    listener = _server_sending([_text_frame('{"type":"caf\u00e9"}'.encode()), _text_frame(b'{"t":"\xff"}')])
    endpoint = Endpoint("azure", f"ws://127.0.0.1:{listener.getsockname()[1]}/x", "ga", "m")
    with Connection.open(endpoint, {}, timeout=2) as conn:
        assert conn.receive(time.monotonic() + 2, 2) == '{"type":"caf\u00e9"}'
        with pytest.raises(UpstreamError, match="not UTF-8"):
            conn.receive(time.monotonic() + 2, 2)
        assert conn.fileno() == -1
    listener.close()


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("inf", 3600),
        ("-5", 0),
        ("1e300", 3600),
        ("nan", 1),
        ("2.5", 3),
        ("soon", 1),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0),
    ],
)
def test_any_upstream_retry_after_becomes_0_to_3600_seconds(
    settings, upstream, header: str, seconds: int
) -> None:
    upstream.script.handshake_status = 429
    upstream.script.retry_after = header
    with pytest.raises(RateLimited) as caught:
        SpeechService(settings).check()
    assert caught.value.retry_after == seconds


def test_an_http_date_retry_after_counts_from_now() -> None:
    assert retry_after("Wed, 21 Oct 2015 07:30:00 GMT", now=1445412480.0) == 120


@pytest.mark.parametrize(
    "env",
    [
        {"SPEECH_BACKEND": "local"},
        {"SPEECH_ENGINE_URL": "ftp://engine"},
        {"AZURE_OPENAI_ENDPOINT": "http://"},
    ],
)
def test_a_configuration_without_a_usable_url_is_a_config_error(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        endpoint_for(Settings.from_mapping(env))


def test_endpoint_types_say_what_they_are() -> None:
    endpoint = endpoint_for(Settings.from_mapping({"SPEECH_ENGINE_URL": "http://127.0.0.1:9"}))
    assert endpoint.backend is Backend.LOCAL
    assert endpoint.dialect is Dialect.GA
