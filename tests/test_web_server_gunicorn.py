"""What web/server.py relies on and decides without a process: the gunicorn internals the worker
touches, shares of the limits, OPTIONS, the server's own answers per family, request prefetching."""

from __future__ import annotations

import importlib.metadata
import json

import pytest
from gunicorn.arbiter import Arbiter
from gunicorn.workers.gthread import TConn, ThreadWorker

from speech_realtime.config import Settings, share
from speech_realtime.errors import ConfigError
from speech_realtime.web import create_app
from speech_realtime.web.limits import ClientLimits, limits_info
from speech_realtime.web.prefetch import PREFETCH_BODY_LIMIT, Prefetch, body_to_wait_for, request_path
from speech_realtime.web.server import server_options, thread_budget
from speech_realtime.web.wire_errors import family_error_bytes

#: Every method and attribute of gunicorn's gthread worker that SpeechWorker overrides or uses.
WORKER_METHODS = (
    "handle",
    "handle_request",
    "handle_error",
    "handle_exit",
    "handle_quit",
    "accept",
    "enqueue_req",
    "on_pending_socket_readable",
    "on_client_socket_readable",
    "murder_pending",
    "murder_keepalived",
    "_cap_keepalive",
    "is_parent_alive",
    "init_process",
    "load_wsgi",
    "finish_request",
)
WORKER_ATTRIBUTES = ("poller", "pending_conns", "keepalived_conns", "nr_conns", "tpool", "method_queue")
CONN_ATTRIBUTES = ("sock", "parser", "initialized", "data_ready", "timeout")


def test_gunicorn_is_the_pinned_major_version() -> None:
    assert importlib.metadata.version("gunicorn").split(".")[0] == "27"


def test_every_gthread_internal_the_worker_relies_on_is_there() -> None:
    for name in WORKER_METHODS:
        assert callable(getattr(ThreadWorker, name, None)), name
    for name in ("handle_int", "handle_quit", "handle_term", "stop", "WORKERS", "LISTENERS"):
        assert hasattr(Arbiter, name), name
    names = ThreadWorker.__init__.__code__.co_names  # the attributes its constructor sets
    for name in WORKER_ATTRIBUTES:
        assert name in names, name
    conn_names = TConn.__init__.__code__.co_names
    for name in CONN_ATTRIBUTES:
        assert name in conn_names, name
    assert callable(TConn.init) and callable(TConn.close)


def test_the_limits_are_totals_shared_out_among_workers() -> None:
    assert [share(32, 3, slot) for slot in range(3)] == [11, 11, 10]
    settings = Settings(max_sessions=32, max_websockets=5, workers=3)
    assert [settings.with_changes(worker_slot=s).worker_sessions for s in range(3)] == [11, 11, 10]
    assert [settings.with_changes(worker_slot=s).worker_websockets for s in range(3)] == [2, 2, 1]
    assert thread_budget(settings) == 11 + 2 + 8
    assert server_options(settings, host="127.0.0.1", port=0, workers=3)["threads"] == 21
    limits = ClientLimits.from_settings(settings.with_changes(worker_slot=2))
    assert limits.max_websockets == 1
    info = limits_info(settings.with_changes(worker_slot=2))
    assert info["maxSessions"] == 32 and info["workers"] == 3
    assert info["thisWorker"] == {"slot": 2, "maxSessions": 10, "maxWebsockets": 1}


def test_more_workers_than_sessions_is_refused() -> None:
    with pytest.raises(ConfigError, match="SPEECH_MAX_SESSIONS"):
        Settings(max_sessions=2, workers=3).check_workers()
    with pytest.raises(ConfigError, match="SPEECH_MAX_WEBSOCKETS"):
        Settings(max_websockets=2, workers=3).check_workers()
    Settings(max_websockets=0, workers=3).check_workers()


def test_graceful_timeout_is_a_setting() -> None:
    assert Settings.from_mapping({"SPEECH_GRACEFUL_TIMEOUT": "7"}).graceful_timeout == 7
    with pytest.raises(ConfigError):
        Settings.from_mapping({"SPEECH_GRACEFUL_TIMEOUT": "0"})
    assert server_options(Settings(graceful_timeout=7), host="h", port=1)["graceful_timeout"] == 12


@pytest.fixture
def app(settings):
    return create_app(settings)


def test_info_shows_the_limits_in_force(app) -> None:
    limits = app.test_client().get("/api/speech-realtime/info").json["limits"]
    assert limits["maxSessions"] == 32 and limits["thisWorker"]["maxSessions"] == 32


@pytest.mark.parametrize("path", ["/api/speech-realtime/info", "/v1/audio/speech", "/cognitiveservices/v1"])
def test_options_is_204_with_allow_and_no_body(app, path) -> None:
    response = app.test_client().options(path)
    assert response.status_code == 204
    assert "OPTIONS" in response.headers["Allow"]
    assert response.data == b"" and "Content-Type" not in response.headers


def _body(raw: bytes) -> bytes:
    return raw.partition(b"\r\n\r\n")[2]


def test_the_servers_own_answers_take_the_familys_envelope(app) -> None:
    openai = json.loads(_body(family_error_bytes(app, "/v1/audio/speech", 431, "headers_too_large", "big")))
    assert openai["error"]["type"] == "invalid_request_error"
    azure = family_error_bytes(app, "/cognitiveservices/v1", 503, "saturated", "busy", {"Retry-After": "1"})
    assert b"Retry-After: 1" in azure and b'"error"' not in _body(azure)
    reference = json.loads(
        _body(family_error_bytes(app, "/api/speech-realtime/info", 400, "invalid_request", "x"))
    )
    assert reference == {"error": {"code": "invalid_request", "message": "x"}}
    assert b"Connection: close" in azure


def test_a_request_is_complete_with_its_small_body() -> None:
    limits = ClientLimits(timeout=10, max_websockets=1)
    prefetch = Prefetch(limits, now=0.0)
    assert not prefetch.feed(b"POST /v1/audio/speech HTTP/1.1\r\nContent-Length: 4\r\n")
    assert prefetch.path() == "/v1/audio/speech"
    assert not prefetch.feed(b"\r\nab")
    assert prefetch.feed(b"cd")
    assert Prefetch(limits, 0.0).feed(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")


def test_large_chunked_or_100_continue_bodies_are_read_on_the_thread() -> None:
    assert body_to_wait_for(b"POST / HTTP/1.1\r\nContent-Length: 10") == 10
    assert body_to_wait_for(f"POST / HTTP/1.1\r\nContent-Length: {PREFETCH_BODY_LIMIT + 1}".encode()) == 0
    assert body_to_wait_for(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked") == 0
    assert body_to_wait_for(b"POST / HTTP/1.1\r\nContent-Length: 10\r\nExpect: 100-continue") == 0
    assert request_path(b"GET /a?b=c HTTP/1.1\r\n") == "/a" and request_path(b"GET /a") == ""
