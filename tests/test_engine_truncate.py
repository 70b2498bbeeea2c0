"""``conversation.item.truncate`` on the engine, sans I/O (fake models: 100 ms of tone a word)."""

from __future__ import annotations

import pytest
from engine_fixtures import Driver, FakeModels, user_text


def _spoken(driver: Driver, text: str) -> str:
    """Run a whole reply to ``text``; the assistant item's id."""
    driver.send("conversation.item.create", item=user_text(text))
    driver.send("response.create")
    events = driver.run()
    return events[-1]["response"]["output"][0]["id"]


def _transcript(driver: Driver, item_id: str) -> str:
    item = next(i for i in driver.session.conversation.items if i.id == item_id)
    return item.parts[0]["transcript"]


@pytest.mark.parametrize("dialect", ["ga", "preview"])
def test_truncate_keeps_the_words_of_the_audio_heard(dialect: str) -> None:
    driver = Driver(dialect)
    item_id = _spoken(driver, "One two three. Four five six.")  # 300 ms a sentence
    events = driver.send("conversation.item.truncate", item_id=item_id, content_index=0, audio_end_ms=450)
    assert [(e["type"], e["item_id"], e["audio_end_ms"]) for e in events] == [
        ("conversation.item.truncated", item_id, 450)
    ]
    assert _transcript(driver, item_id) == "One two three. Four"


def test_truncate_at_zero_keeps_nothing_and_at_the_end_keeps_everything() -> None:
    driver = Driver()
    item_id = _spoken(driver, "One two three. Four five six.")
    driver.send("conversation.item.truncate", item_id=item_id, content_index=0, audio_end_ms=0)
    assert _transcript(driver, item_id) == ""
    second = _spoken(driver, "Seven eight.")
    driver.send("conversation.item.truncate", item_id=second, content_index=0, audio_end_ms=200)
    assert _transcript(driver, second) == "Seven eight."


def test_a_reply_cancelled_and_truncated_while_voiced_stays_truncated(fake_models: FakeModels) -> None:
    driver = Driver(models=fake_models)
    driver.send("conversation.item.create", item=user_text("One two three. Four five six. Seven eight nine."))
    driver.send("response.create")
    first = driver.step() + driver.step()  # created, then the first sentence voiced
    item_id = next(e["item_id"] for e in first if e["type"].endswith("audio.delta"))
    assert driver.send("response.cancel") == []
    truncated = driver.send("conversation.item.truncate", item_id=item_id, content_index=0, audio_end_ms=100)
    assert truncated[0]["type"] == "conversation.item.truncated"
    done = driver.run()[-1]["response"]
    assert done["status"] == "cancelled"
    assert _transcript(driver, item_id) == "One"


@pytest.mark.parametrize(
    ("fields", "code", "param"),
    [
        (
            {"item_id": "item_nope", "content_index": 0, "audio_end_ms": 0},
            "item_truncate_invalid_item_id",
            "item_id",
        ),
        ({"content_index": 0, "audio_end_ms": 0}, "missing_required_parameter", "item_id"),
        ({"item_id": "ASSISTANT", "audio_end_ms": 0}, "missing_required_parameter", "content_index"),
        ({"item_id": "ASSISTANT", "content_index": 1, "audio_end_ms": 0}, "invalid_value", "content_index"),
        ({"item_id": "ASSISTANT", "content_index": 0, "audio_end_ms": -1}, "invalid_value", "audio_end_ms"),
        (
            {"item_id": "ASSISTANT", "content_index": 0, "audio_end_ms": 60_000},
            "invalid_value",
            "audio_end_ms",
        ),
        ({"item_id": "USER", "content_index": 0, "audio_end_ms": 0}, "invalid_value", "item_id"),
    ],
)
def test_a_bad_truncate_gets_an_error_naming_the_field(fields: dict, code: str, param: str) -> None:
    driver = Driver()
    assistant = _spoken(driver, "One two three.")
    user = driver.session.conversation.items[0].id
    fields = {
        k: {"ASSISTANT": assistant, "USER": user}.get(v, v) if k == "item_id" else v
        for k, v in fields.items()
    }
    events = driver.send("conversation.item.truncate", **fields)
    assert [e["type"] for e in events] == ["error"]
    assert (events[0]["error"]["code"], events[0]["error"]["param"]) == (code, param)
    assert _transcript(driver, assistant) == "One two three."
