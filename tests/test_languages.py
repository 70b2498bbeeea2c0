"""Whisper's language names and the backends' fixed languages."""

from __future__ import annotations

import pytest

from speech_realtime.config import Backend
from speech_realtime.languages import fixed_language, language_name


@pytest.mark.parametrize(
    ("tag", "name"),
    [
        ("en", "english"),
        ("en-US", "english"),
        ("DE-de", "german"),
        ("zh-Hant-TW", "chinese"),
        ("yue", "cantonese"),
        ("nb-NO", "norwegian"),
        ("pt_BR", "portuguese"),
    ],
)
def test_language_names(tag, name):
    assert language_name(tag) == name


def test_unknown_or_missing_tags_have_no_name():
    assert language_name("xx-YY") is None
    assert language_name(None) is None


def test_only_the_engine_has_a_fixed_language():
    assert fixed_language(Backend.LOCAL) == "en"
    assert fixed_language(Backend.AZURE) is None
    assert fixed_language(Backend.OPENAI) is None
