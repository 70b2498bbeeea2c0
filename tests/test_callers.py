"""The per-caller session cap and the caller context it reads."""

from __future__ import annotations

import contextvars

import pytest

from speech_realtime.callers import CALLER, CallerSlots
from speech_realtime.errors import RateLimited


def as_caller(caller: str | None, slots: CallerSlots):
    """``slots.hold()`` entered in a context where the caller is ``caller``."""
    context = contextvars.copy_context()
    context.run(CALLER.set, caller)
    hold = slots.hold()
    context.run(hold.__enter__)
    return hold


def test_a_caller_beyond_its_cap_is_rate_limited_others_are_not() -> None:
    slots = CallerSlots(2)
    first, second = as_caller("a", slots), as_caller("a", slots)
    with pytest.raises(RateLimited) as refused:
        as_caller("a", slots)
    assert refused.value.status == 429 and refused.value.headers == {"Retry-After": "1"}
    assert refused.value.code == "too_many_sessions"
    other = as_caller("b", slots)
    assert (slots.held("a"), slots.held("b")) == (2, 1)
    first.__exit__(None, None, None)
    as_caller("a", slots)  # a place is free again
    for hold in (second, other):
        hold.__exit__(None, None, None)
    assert slots.held("b") == 0


def test_no_cap_or_no_caller_is_not_counted() -> None:
    for _ in range(5):
        as_caller("a", CallerSlots(None))
    slots = CallerSlots(1)
    for _ in range(5):
        as_caller(None, slots)
    assert slots.held("a") == 0


def test_a_failing_block_gives_its_place_back() -> None:
    slots = CallerSlots(1)
    token = CALLER.set("a")
    try:
        with pytest.raises(ValueError), slots.hold():
            raise ValueError
        assert slots.held("a") == 0
    finally:
        CALLER.reset(token)
