"""X-Forwarded-For/-Proto believed only from SPEECH_FORWARDED_ALLOW_IPS: the rule, the middleware,
and gunicorn serving for real (a small app echoing what it saw, and ``speech-realtime serve``'s
access log)."""

from __future__ import annotations

import http.client
import json
import sys
from pathlib import Path

import pytest
from serve_process import ROOT, SERVE, clean_environ, launch

from speech_realtime.config import Settings
from speech_realtime.errors import ConfigError
from speech_realtime.web.forwarded import PEER_KEY, ForwardedFor, TrustedProxies, believe_forwarded
from speech_realtime.web.gunicorn_config import server_options

#: Every request in these tests gives up after this long.
LIMIT = 10.0
FORGED = "198.51.100.9, 203.0.113.7"

ECHO_APP = """
import sys
from flask import Flask, request
from speech_realtime.config import Settings
from speech_realtime.web.server import serve

app = Flask(__name__)


@app.get("/seen")
def seen():
    return {"remote": request.remote_addr, "scheme": request.scheme}


settings = Settings.from_mapping({"SPEECH_FORWARDED_ALLOW_IPS": sys.argv[1]})
serve(app, settings, host="127.0.0.1", port=0)
"""


# -- the rule -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("trusted", "peer", "header", "client"),
    [
        ((), "127.0.0.1", FORGED, "127.0.0.1"),  # nobody trusted: the header is ignored
        (("10.0.0.0/8",), "127.0.0.1", FORGED, "127.0.0.1"),  # the peer is not a trusted proxy
        (("127.0.0.1",), "127.0.0.1", FORGED, "203.0.113.7"),  # rightmost hop, not the forged left
        (("127.0.0.1", "10.0.0.0/8"), "127.0.0.1", "203.0.113.7, 10.1.2.3", "203.0.113.7"),
        (("127.0.0.1",), "127.0.0.1", "10.1.2.3, 127.0.0.1", "10.1.2.3"),
        (("127.0.0.1",), "127.0.0.1", "127.0.0.1", "127.0.0.1"),  # every hop trusted: the leftmost
        (("127.0.0.1",), "127.0.0.1", "<script>", "127.0.0.1"),  # not an address: the peer
        (("*",), "192.0.2.1", "2001:db8::1", "2001:db8::1"),
        (("::1",), "::1", "[2001:db8::2]", "2001:db8::2"),
    ],
)
def test_the_client_is_the_rightmost_untrusted_hop_from_a_trusted_peer(trusted, peer, header, client) -> None:
    assert TrustedProxies(trusted).client(peer, header) == client


def test_the_middleware_sets_remote_addr_and_keeps_the_peer() -> None:
    seen: dict = {}

    def app(environ, start_response):
        seen.update(environ)
        return [b""]

    ForwardedFor(app, TrustedProxies(["127.0.0.1"]))(
        {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": FORGED}, lambda *_: None
    )
    assert seen["REMOTE_ADDR"] == "203.0.113.7" and seen[PEER_KEY] == "127.0.0.1"


def test_an_app_is_wrapped_once_and_only_when_a_proxy_is_trusted() -> None:
    from flask import Flask

    app = Flask(__name__)
    original = app.wsgi_app
    assert believe_forwarded(app, ()) is app and app.wsgi_app == original
    believe_forwarded(believe_forwarded(app, ("127.0.0.1",)), ("127.0.0.1",))
    assert isinstance(app.wsgi_app, ForwardedFor) and app.wsgi_app.app == original


def test_gunicorn_is_given_the_setting_and_not_its_own_loopback_default() -> None:
    settings = Settings.from_mapping({"SPEECH_FORWARDED_ALLOW_IPS": "10.0.0.0/8, 192.0.2.7"})
    assert settings.forwarded_allow_ips == ("10.0.0.0/8", "192.0.2.7")
    assert server_options(settings, host="127.0.0.1", port=0)["forwarded_allow_ips"] == "10.0.0.0/8,192.0.2.7"
    assert server_options(Settings(), host="127.0.0.1", port=0)["forwarded_allow_ips"] == ""


@pytest.mark.parametrize("value", ["10.0.0.1/8", "proxy.example.com", "10.0.0.0/33"])
def test_a_malformed_proxy_entry_is_a_configuration_error(value: str) -> None:
    with pytest.raises(ConfigError, match="SPEECH_FORWARDED_ALLOW_IPS"):
        Settings.from_mapping({"SPEECH_FORWARDED_ALLOW_IPS": value})


# -- served for real ----------------------------------------------------------------------------


def fetch(port: int, path: str, headers: dict[str, str]) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=LIMIT)
    conn.request("GET", path, headers={"Connection": "close", **headers})
    response = conn.getresponse()
    response.body = response.read()  # type: ignore[attr-defined]
    conn.close()
    return response


@pytest.mark.subprocess
@pytest.mark.parametrize(
    ("trusted", "remote", "scheme"),
    [("127.0.0.1", "203.0.113.7", "https"), ("10.0.0.0/8", "127.0.0.1", "http")],
)
def test_gunicorn_believes_forwarding_headers_only_from_configured_proxies(
    tmp_path: Path, trusted: str, remote: str, scheme: str
) -> None:
    script = tmp_path / "echo.py"
    script.write_text(ECHO_APP)
    env = {**clean_environ(), "PYTHONPATH": str(ROOT), "FORWARDED_ALLOW_IPS": "*"}  # gunicorn's own: ignored
    server = launch([sys.executable, str(script), trusted], env)
    try:
        answer = fetch(server.port, "/seen", {"X-Forwarded-For": FORGED, "X-Forwarded-Proto": "https"})
        assert answer.status == 200
        assert json.loads(answer.body) == {"remote": remote, "scheme": scheme}  # type: ignore[attr-defined]
    finally:
        server.stop()


@pytest.mark.subprocess
def test_serve_logs_the_forwarded_client_address(tmp_path: Path, capfd) -> None:
    env = {**clean_environ(), "SPEECH_FORWARDED_ALLOW_IPS": "127.0.0.1", "LOG_FORMAT": "json"}
    env["SPEECH_ENGINE_URL"] = "http://127.0.0.1:9"  # no engine: only /healthz is asked
    server = launch(SERVE, {**env, "TMPDIR": str(tmp_path)}, watchdog=120)
    try:
        forwarded = {"X-Forwarded-For": FORGED, "X-Request-ID": "fwd-1"}
        assert fetch(server.port, "/healthz", forwarded).status == 200
        assert fetch(server.port, "/healthz", {"X-Request-ID": "direct-1"}).status == 200
    finally:
        server.stop()
    lines = [*server.log, *capfd.readouterr().out.splitlines()]
    access = {
        entry["request_id"]: entry["remote"]
        for entry in (json.loads(line) for line in lines if '"logger": "gunicorn.access"' in line)
    }
    assert access["fwd-1"] == "203.0.113.7"
    assert access["direct-1"] == "127.0.0.1"
