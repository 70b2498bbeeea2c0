"""Voice names resolve to voices that exist."""

from __future__ import annotations

import pytest

from speech_realtime.errors import BadRequest
from speech_realtime.voices import AZURE_NAMES, GA_VOICES, PREVIEW_VOICES, resolve_voice

FEMALE = {"alloy", "coral", "sage", "shimmer", "marin"}
MALE = {"ash", "ballad", "echo", "verse", "cedar"}
AZURE_GENDER = {"Jenny": FEMALE, "Guy": MALE, "Aria": FEMALE, "Davis": MALE, "Jane": FEMALE, "Jason": MALE}


@pytest.mark.parametrize("name", AZURE_NAMES)
@pytest.mark.parametrize("dialect", ["ga", "preview"])
def test_azure_names_map_to_a_real_voice_of_the_same_gender(name: str, dialect: str) -> None:
    voice = resolve_voice(name, dialect)
    assert voice in PREVIEW_VOICES
    assert voice in AZURE_GENDER[name.removesuffix("Neural")]
    assert resolve_voice(f"en-US-{name}", dialect) == voice


@pytest.mark.parametrize(("alias", "voice"), [("nova", "coral"), ("onyx", "ash"), ("fable", "ballad")])
def test_reference_voices_that_do_not_exist_are_aliases(alias: str, voice: str) -> None:
    assert resolve_voice(alias, "preview") == voice


def test_names_are_case_insensitive_and_default_to_alloy() -> None:
    assert resolve_voice("SHIMMER", "ga") == "shimmer"
    assert resolve_voice(None, "ga") == "alloy"
    assert resolve_voice("", "ga") == "alloy"


def test_ga_only_voices_are_refused_on_preview() -> None:
    assert resolve_voice("marin", "ga") == "marin"
    assert "cedar" in GA_VOICES
    with pytest.raises(BadRequest, match="valid voices"):
        resolve_voice("marin", "preview")
