"""The pool of pre-connected upstream sessions (SPEECH_POOL_SIZE), on loopback servers: filled in
the background, one request per session, the request's settings win, slots shared with requests,
stale and old sessions retired, pings answered, failures kept from the breaker, drained."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from engine_fixtures import wait_until
from flask import Flask
from flask_sock import Sock
from realtime_server import ScriptedRealtimeServer
from werkzeug.serving import make_server

from speech_realtime import metrics
from speech_realtime.config import Settings
from speech_realtime.errors import Saturated, UpstreamError
from speech_realtime.options import SynthesisOptions
from speech_realtime.realtime.pool import SessionPool
from speech_realtime.speech import SpeechService


def pooled(settings: Settings, size: int = 2, **changes: Any) -> SpeechService:
    return SpeechService(settings.with_changes(pool_size=size, **changes))


@pytest.fixture
def service(settings: Settings) -> Iterator[SpeechService]:
    service = pooled(settings)
    yield service
    service.runner.close()


def filled(service: SpeechService, count: int | None = None) -> bool:
    pool = service.runner.pool
    assert pool is not None
    pool.start()
    return wait_until(lambda: pool.idle == (pool.size if count is None else count), 10)


def test_a_check_through_the_pool_sees_session_created(service: SpeechService) -> None:
    assert filled(service)
    result = service.check()
    assert result["sessionCreated"] is True


def test_no_pool_by_default(settings: Settings) -> None:
    assert SpeechService(settings).runner.pool is None
    assert Settings.from_mapping({"SPEECH_POOL_SIZE": "3", "SPEECH_POOL_MAX_IDLE": "60"}).pool_size == 3


def test_nothing_is_opened_until_started(service: SpeechService, upstream: ScriptedRealtimeServer) -> None:
    """Built (as the gunicorn master builds the app) but not started: no connection."""
    time.sleep(0.3)
    assert upstream.connections == 0


def test_the_pool_fills_in_the_background_and_sends_nothing(
    service: SpeechService, upstream: ScriptedRealtimeServer
) -> None:
    assert filled(service)
    assert upstream.connections == 2
    assert upstream.client_events() == []  # only session.created was awaited


def test_a_request_takes_a_pooled_session_once_and_a_replacement_is_opened(
    service: SpeechService, upstream: ScriptedRealtimeServer
) -> None:
    assert filled(service)
    hits = metrics.POOL_TAKES.labels("hit")._value.get()
    speech = service.synthesize("hello there", SynthesisOptions(voice="ash"))
    assert speech.audio
    assert metrics.POOL_TAKES.labels("hit")._value.get() == hits + 1
    assert filled(service)
    assert upstream.connections == 3  # two pooled, one replacement: none reused
    updates = upstream.client_events("session.update")
    assert len(updates) == 1 and updates[0]["session"]["audio"]["output"]["voice"] == "ash"


def test_a_request_without_an_idle_session_connects_itself(settings: Settings, upstream) -> None:
    service = pooled(settings, size=1)
    try:
        misses = metrics.POOL_TAKES.labels("miss")._value.get()
        assert service.synthesize("hello").audio  # the first request starts the pool: a miss
        assert metrics.POOL_TAKES.labels("miss")._value.get() == misses + 1
    finally:
        service.runner.close()


def test_pooled_sessions_hold_slots_and_give_them_up_to_requests(settings: Settings, upstream) -> None:
    service = pooled(settings, size=2, max_sessions=2)
    try:
        assert filled(service)
        runner = service.runner
        with runner.hold(), runner.hold():  # both slots were the pool's: each request took one
            assert runner.pool is not None and runner.pool.idle == 0
            with pytest.raises(Saturated), runner.hold():
                pass
        assert filled(service)  # the slots are free again: the pool takes them back
    finally:
        service.runner.close()


def test_the_pool_never_takes_a_slot_a_request_holds(settings: Settings, upstream) -> None:
    service = pooled(settings, size=2, max_sessions=1)
    try:
        with service.runner.hold():
            service.runner.start()
            time.sleep(0.5)
            assert upstream.connections == 0
        assert filled(service, 1)  # one slot in all: the pool holds at most that one
    finally:
        service.runner.close()


def test_transcription_sessions_are_not_pooled(service: SpeechService) -> None:
    class Direct:
        def __init__(self) -> None:
            self.calls: list[bool] = []

        def connect(self, timeout: float, *, transcription: bool = False) -> Any:
            self.calls.append(transcription)
            raise UpstreamError("no server here")

    direct = Direct()
    pool = SessionPool(direct, service.settings.with_changes(pool_size=1), threading.BoundedSemaphore(4))
    with pytest.raises(UpstreamError):
        pool.connect(1.0, transcription=True)
    assert direct.calls == [True]
    assert pool._thread is None  # not even started


def test_close_drains_idle_sessions_and_frees_their_slots(
    service: SpeechService, upstream: ScriptedRealtimeServer
) -> None:
    assert filled(service)
    service.runner.close()
    assert service.runner.pool is not None and service.runner.pool.idle == 0
    # every slot is free again: as many holds as the limit
    holds = [service.runner.hold() for _ in range(service.settings.worker_sessions)]
    for hold in holds:
        hold.__enter__()
    for hold in holds:
        hold.__exit__(None, None, None)
    service.runner.start()
    time.sleep(0.3)
    assert service.runner.pool.idle == 0  # a drained pool stays empty


def test_failures_to_open_back_off_and_never_reach_the_breaker(settings: Settings) -> None:
    service = SpeechService(
        settings.with_changes(pool_size=2, azure_endpoint="http://127.0.0.1:9/", breaker_failures=1)
    )
    try:
        retired = metrics.POOL_RETIRED.labels("failed")._value.get()
        service.runner.start()
        assert wait_until(lambda: metrics.POOL_RETIRED.labels("failed")._value.get() >= retired + 2, 10)
        assert not service.runner.breaker.open
        time.sleep(0.3)  # backing off: not a storm of attempts
        assert metrics.POOL_RETIRED.labels("failed")._value.get() < retired + 10
    finally:
        service.runner.close()


# -- idle sessions, on a server that pings, closes and announces an expiry -----------------------


class IdleServer:
    """Sends session.created (with ``expires_at``), pings every 0.1 s, and closes a session when
    told; records every message a client sends."""

    def __init__(self, expires_in: float = 1800) -> None:
        self.expires_in = expires_in
        self.received: list[str] = []
        self.sockets: list[Any] = []
        app = Flask(__name__)
        app.config["SOCK_SERVER_OPTIONS"] = {"ping_interval": 0.2}
        sock = Sock(app)

        @sock.route("/v1/realtime")
        def session(ws: Any) -> None:
            self.sockets.append(ws)
            created = {
                "type": "session.created",
                "session": {"expires_at": int(time.time() + self.expires_in)},
            }
            ws.send(json.dumps(created))
            while ws.connected:
                message = ws.receive(timeout=0.1)
                if message is not None:
                    self.received.append(message)

        self._http = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._http.server_port}"
        threading.Thread(target=self._http.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._http.shutdown()


@pytest.fixture
def idle_server() -> Iterator[IdleServer]:
    server = IdleServer()
    yield server
    server.stop()


def idle_settings(server: IdleServer, **changes: Any) -> Settings:
    base = Settings.from_mapping({"SPEECH_ENGINE_URL": server.url, "SPEECH_POOL_SIZE": "1"})
    return base.with_changes(**changes)


def test_idle_sessions_answer_pings_and_stay(idle_server: IdleServer) -> None:
    service = SpeechService(idle_settings(idle_server))
    try:
        assert filled(service)
        time.sleep(1.0)  # several pings, answered by the pool's watcher
        assert len(idle_server.sockets) == 1 and idle_server.received == []
        with service.runner.session() as conn:
            assert conn.pooled
            # the session.created the pool read is given back: a fresh connection's first event
            assert json.loads(conn.receive_idle(1))["type"] == "session.created"
            conn.send({"type": "session.update", "session": {}})
        assert wait_until(lambda: idle_server.received != [], 5)
    finally:
        service.runner.close()


def test_a_session_the_server_closed_is_replaced(idle_server: IdleServer) -> None:
    service = SpeechService(idle_settings(idle_server))
    try:
        assert filled(service)
        idle_server.sockets[0].close()
        assert wait_until(lambda: len(idle_server.sockets) == 2, 10)
        assert filled(service)
    finally:
        service.runner.close()


def test_sessions_are_retired_at_their_maximum_idle_age(idle_server: IdleServer) -> None:
    service = SpeechService(idle_settings(idle_server, pool_max_idle=1.0))
    try:
        aged = metrics.POOL_RETIRED.labels("age")._value.get()
        assert filled(service)
        assert wait_until(lambda: metrics.POOL_RETIRED.labels("age")._value.get() > aged, 10)
        assert wait_until(lambda: len(idle_server.sockets) >= 2, 10)
    finally:
        service.runner.close()


def test_sessions_are_retired_before_the_server_expires_them() -> None:
    server = IdleServer(expires_in=30 + 60 + 1)  # request timeout 30 s plus the margin, plus 1 s
    service = SpeechService(idle_settings(server))
    try:
        assert filled(service)
        assert wait_until(lambda: len(server.sockets) >= 2, 10)
    finally:
        service.runner.close()
        server.stop()


def test_a_stale_pooled_session_is_neutral_for_the_breaker_and_retried(idle_server: IdleServer) -> None:
    """The server closes a pooled session just as a request takes it: the request goes on, on a
    fresh session, and the breaker does not count it."""
    service = SpeechService(idle_settings(idle_server, breaker_failures=1))
    try:
        assert filled(service)
        pool = service.runner.pool
        assert pool is not None
        pool._still_idle = lambda conn: True  # type: ignore[method-assign]  # the close is not seen yet
        idle_server.sockets[0].close()
        time.sleep(0.2)
        with pytest.raises(UpstreamError), service.runner.session() as conn:
            assert conn.pooled
            conn.receive(time.monotonic() + 5, 5)  # the session.created given back
            conn.receive(time.monotonic() + 5, 5)
        assert not service.runner.breaker.open
    finally:
        service.runner.close()
