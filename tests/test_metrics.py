"""The metrics module on its own: token usage, cost, counters."""

from __future__ import annotations

from prometheus_client import REGISTRY

from speech_realtime import metrics


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_tokens_split_by_modality_with_the_rest_unspecified() -> None:
    usage = {
        "input_tokens": 12,
        "output_tokens": 9,
        "output_token_details": {"text_tokens": 2, "audio_tokens": 5},
    }
    assert metrics.split_tokens(usage, "input") == {"unspecified": 12}
    assert metrics.split_tokens(usage, "output") == {"text": 2, "audio": 5, "unspecified": 2}


def test_junk_in_usage_counts_nothing() -> None:
    usage = {"input_tokens": "12", "output_tokens": -3, "input_token_details": {"audio_tokens": True}}
    assert metrics.split_tokens(usage, "input") == {"text": 0, "audio": 0, "unspecified": 0}
    assert metrics.split_tokens(usage, "output") == {"unspecified": 0}


def test_no_cost_without_prices_and_unspecified_tokens_are_not_priced() -> None:
    before = value("speech_estimated_cost_total", operation="unit")
    tokens = value("speech_tokens_total", operation="unit", direction="input", modality="unspecified")
    metrics.token_usage("unit", {"input_tokens": 1000}, {("input", "text"): 5.0})
    metrics.token_usage("unit", {"type": "duration", "seconds": 3.0}, {})
    metrics.token_usage("unit", None, {})
    assert value("speech_estimated_cost_total", operation="unit") == before
    assert (
        value("speech_tokens_total", operation="unit", direction="input", modality="unspecified")
        == tokens + 1000
    )


def test_counters_keep_their_snapshot_and_feed_prometheus() -> None:
    before = value("speech_service_events_total", event="unit_event")
    counters = metrics.Counters()
    counters.add("unit_event")
    counters.add("unit_event")
    assert counters.snapshot() == {"unit_event": 2}
    assert value("speech_service_events_total", event="unit_event") == before + 2
