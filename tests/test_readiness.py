"""The readiness probe: one check per interval, never two at once, gates first."""

from __future__ import annotations

import threading

from speech_realtime.errors import UpstreamAuth
from speech_realtime.readiness import ReadinessProbe


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_result_is_reused_within_the_interval_and_checked_again_after() -> None:
    clock = Clock()
    probe = ReadinessProbe(lambda: None, interval=5, clock=clock)
    assert probe.status().ready
    clock.now += 4.9
    assert probe.status().ready
    assert probe.checks == 1
    clock.now += 0.2
    probe.status()
    assert probe.checks == 2


def test_a_failed_check_is_not_ready_with_its_code_and_message() -> None:
    def refuse() -> None:
        raise UpstreamAuth("the upstream refused the credentials")

    status = ReadinessProbe(refuse).status()
    assert not status.ready
    assert status.as_json() == {
        "status": "unavailable",
        "reason": {"code": "upstream_auth", "message": "the upstream refused the credentials"},
    }


def test_an_unexpected_failure_is_not_ready_without_details() -> None:
    def explode() -> None:
        raise RuntimeError("secret detail")

    status = ReadinessProbe(explode).status()
    assert not status.ready and status.code == "internal_error"
    assert "secret" not in str(status.as_json())


def test_while_a_check_runs_other_callers_get_the_previous_answer_at_once() -> None:
    clock = Clock()
    entered, release = threading.Event(), threading.Event()
    slow = False

    def check() -> None:
        if slow:
            entered.set()
            assert release.wait(10)

    probe = ReadinessProbe(check, interval=5, clock=clock)
    assert probe.status().ready  # the first answer
    clock.now += 10
    slow = True
    worker = threading.Thread(target=probe.status)
    worker.start()
    assert entered.wait(10)
    assert probe.status().ready, "a second caller did not get the previous answer"
    assert probe.checks == 2, "a second check started while one was running"
    release.set()
    worker.join(10)


def test_a_gate_makes_it_unready_without_a_check() -> None:
    probe = ReadinessProbe(lambda: None, gates=[lambda: "breaker_open"])
    status = probe.status()
    assert not status.ready and status.code == "breaker_open"
    assert probe.checks == 0
