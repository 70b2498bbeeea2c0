"""``Segmentation``: each duration is checked when the options are built (a 400 naming it)."""

from __future__ import annotations

import pytest

from speech_realtime.errors import BadRequest
from speech_realtime.options import SEGMENTATION_RANGES, RecognitionOptions, Segmentation


def test_defaults_and_values_in_range_are_accepted() -> None:
    assert RecognitionOptions().segmentation == Segmentation()
    Segmentation(silence_ms=100, max_phrase_ms=20_000, initial_silence_ms=0, end_silence_ms=0)
    Segmentation(silence_ms=5_000, semantic=True, max_phrase_ms=70_000, initial_silence_ms=600_000)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("silence_ms", 99),
        ("silence_ms", 5_001),
        ("max_phrase_ms", 19_999),
        ("max_phrase_ms", 70_001),
        ("initial_silence_ms", -1),
        ("end_silence_ms", 600_001),
    ],
)
def test_out_of_range_durations_are_bad_requests_that_give_the_range(field: str, value: int) -> None:
    low, high = SEGMENTATION_RANGES[field]
    with pytest.raises(BadRequest) as caught:
        Segmentation(**{field: value})
    assert caught.value.status == 400 and caught.value.param == "segmentation"
    assert f"{value} ms is out of range ({low} to {high} ms)" in caught.value.message


@pytest.mark.parametrize("value", [1.5, "300", True])
def test_durations_must_be_whole_milliseconds(value: object) -> None:
    with pytest.raises(BadRequest, match="whole number of milliseconds"):
        Segmentation(silence_ms=value)  # type: ignore[arg-type]


def test_semantic_must_be_a_boolean() -> None:
    with pytest.raises(BadRequest, match="true or false"):
        Segmentation(semantic="yes")  # type: ignore[arg-type]
