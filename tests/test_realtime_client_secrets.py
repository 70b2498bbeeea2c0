"""Client secrets, sans-I/O: minting, reading, expiry, lifetimes, and single use across processes."""

from __future__ import annotations

import multiprocessing

import pytest

from speech_realtime.errors import BadRequest
from speech_realtime.realtime.client_secrets import MAX_SESSION_BYTES, UsedSecrets, lifetime, mint, read

KEY = b"k" * 32


def test_a_secret_carries_its_session_and_caller_until_it_expires():
    value, claims = mint(KEY, {"instructions": "Hi"}, caller="c1", seconds=60, now=1000)
    assert value.startswith("ek_")
    read_back = read(value, KEY, now=1059)
    assert read_back == claims
    assert read_back.session == {"instructions": "Hi"} and read_back.caller == "c1"
    assert read(value, KEY, now=1060) is None  # expired


def test_a_forged_or_foreign_secret_is_not_read():
    value, _ = mint(KEY, {}, caller=None, seconds=60, now=1000)
    assert read(value, b"x" * 32, now=1001) is None
    payload, _, signature = value.partition(".")
    assert read(payload + "A." + signature, KEY, now=1001) is None
    assert read("ek_garbage", KEY, now=1001) is None
    assert read("sk-not-a-secret", KEY, now=1001) is None


@pytest.mark.parametrize(
    ("expires_after", "expected"),
    [(None, 600), ({"anchor": "created_at", "seconds": 30}, 30), ({"seconds": 10}, 10)],
)
def test_lifetimes(expires_after, expected):
    assert lifetime(expires_after, 600) == expected


def test_the_default_lifetime_stays_within_the_maximum():
    assert lifetime(None, 120) == 120


@pytest.mark.parametrize(
    ("expires_after", "param"),
    [
        ({"seconds": 601}, "expires_after.seconds"),
        ({"seconds": 5}, "expires_after.seconds"),
        ({"seconds": "60"}, "expires_after.seconds"),
        ({"seconds": True}, "expires_after.seconds"),
        ({"anchor": "now", "seconds": 60}, "expires_after.anchor"),
        ([60], "expires_after"),
    ],
)
def test_bad_lifetimes_name_the_field(expires_after, param):
    with pytest.raises(BadRequest) as caught:
        lifetime(expires_after, 600)
    assert caught.value.param == param


def test_a_session_too_large_for_a_header_is_refused():
    with pytest.raises(BadRequest) as caught:
        mint(KEY, {"instructions": "x" * MAX_SESSION_BYTES}, caller=None, seconds=60)
    assert caught.value.param == "session"


@pytest.mark.parametrize("shared", [False, True])
def test_a_secret_is_claimed_once_and_forgotten_after_expiry(tmp_path, shared):
    used = UsedSecrets(tmp_path if shared else None)
    _, claims = mint(KEY, {}, caller=None, seconds=60, now=1000)
    assert used.claim(claims, now=1001)
    assert not used.claim(claims, now=1002)
    _, other = mint(KEY, {}, caller=None, seconds=60, now=1000)
    assert used.claim(other, now=1003)
    used.claim(mint(KEY, {}, caller=None, seconds=60, now=2000)[1], now=1061)  # prunes the expired ones
    if shared:
        assert len(list(tmp_path.iterdir())) == 1


def _claim(directory: str, value: str, results) -> None:
    claims = read(value, KEY)
    results.put(UsedSecrets(directory).claim(claims))


@pytest.mark.subprocess
def test_only_one_of_several_worker_processes_claims_a_secret(tmp_path):
    value, _ = mint(KEY, {}, caller=None, seconds=60)
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    workers = [context.Process(target=_claim, args=(str(tmp_path), value, results)) for _ in range(4)]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(30)
    assert sorted(outcomes) == [False, False, False, True]
