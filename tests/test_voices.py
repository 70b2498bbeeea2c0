"""Voice names resolve to voices that exist; the catalogue is the one source of the aliases."""

from __future__ import annotations

import pytest

from speech_realtime.errors import BadRequest
from speech_realtime.voices import (
    ALIASES,
    CATALOGUE,
    DEFAULT_AZURE_VOICE,
    FEMALE_VOICES,
    GA_VOICES,
    MALE_VOICES,
    PREVIEW_VOICES,
    REFERENCE_NAMES,
    azure_voice,
    azure_voice_list,
    resolve_voice,
)

README_MAPPING = {
    "Jenny": "alloy",
    "Guy": "echo",
    "Aria": "coral",
    "Davis": "ash",
    "Jane": "shimmer",
    "Jason": "verse",
}


@pytest.mark.parametrize("voice", CATALOGUE, ids=lambda v: v.short_name)
def test_every_catalogue_voice_maps_to_a_voice_of_its_gender_on_both_dialects(voice) -> None:
    assert voice.realtime in PREVIEW_VOICES
    assert voice.realtime in (FEMALE_VOICES if voice.gender == "Female" else MALE_VOICES)
    for dialect in ("ga", "preview"):
        for spelling in (voice.short_name, voice.key, voice.short_name.upper(), voice.long_name):
            assert resolve_voice(spelling, dialect) == voice.realtime


@pytest.mark.parametrize("name", REFERENCE_NAMES)
def test_the_reference_names_keep_their_documented_mapping(name: str) -> None:
    expected = README_MAPPING[name.removesuffix("Neural")]
    assert resolve_voice(name, "preview") == expected
    assert resolve_voice(f"en-US-{name}", "ga") == expected
    assert resolve_voice(name.removesuffix("Neural").lower(), "ga") == expected


def test_the_catalogue_covers_the_sdk_default_and_the_common_voices() -> None:
    names = {voice.short_name for voice in CATALOGUE}
    assert DEFAULT_AZURE_VOICE in names
    assert resolve_voice(DEFAULT_AZURE_VOICE, "ga") == resolve_voice(None, "ga") == "alloy"
    for first in (
        "Andrew",
        "Emma",
        "Brian",
        "Ava",
        "Christopher",
        "Eric",
        "Michelle",
        "Roger",
        "Steffan",
        "Sara",
        "Nancy",
        "Tony",
        "Amber",
        "Ana",
        "Ashley",
        "Brandon",
        "Cora",
        "Elizabeth",
        "Jacob",
        "Monica",
    ):
        assert f"en-US-{first}Neural" in names
    assert len(names) == len(CATALOGUE)


def test_aliases_are_derived_from_the_catalogue() -> None:
    assert {key for key in ALIASES if key not in ("nova", "onyx", "fable")} == {
        voice.key.lower() for voice in CATALOGUE
    }
    assert all(ALIASES[voice.key.lower()] == voice.realtime for voice in CATALOGUE)


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


def test_an_unknown_voice_is_a_bad_request_naming_the_voice_param_and_valid_names() -> None:
    with pytest.raises(BadRequest) as caught:
        resolve_voice("en-US-NobodyNeural", "ga")
    assert caught.value.param == "voice"
    assert "en-US-NobodyNeural" in caught.value.message
    assert "en-US-JennyNeural" in caught.value.message and "alloy" in caught.value.message
    assert azure_voice("Microsoft Server Speech Text to Speech Voice (de-DE, JennyNeural)") is None


@pytest.mark.parametrize("name", [3, ["alloy"], {"name": "alloy"}])
def test_a_voice_that_is_no_string_is_refused_in_the_services_own_words(name) -> None:
    with pytest.raises(BadRequest) as caught:
        resolve_voice(name, "ga")
    assert caught.value.param == "voice" and caught.value.code == "invalid_voice"
    assert "voiceName" not in caught.value.message  # a front end's field name, not the service's


def test_the_voice_list_has_azures_shape() -> None:
    voices = azure_voice_list()
    jenny = next(v for v in voices if v["ShortName"] == "en-US-JennyNeural")
    assert jenny == {
        "Name": "Microsoft Server Speech Text to Speech Voice (en-US, JennyNeural)",
        "DisplayName": "Jenny",
        "LocalName": "Jenny",
        "ShortName": "en-US-JennyNeural",
        "Gender": "Female",
        "Locale": "en-US",
        "LocaleName": "English (United States)",
        "SampleRateHertz": "24000",
        "VoiceType": "Neural",
        "Status": "GA",
        "WordsPerMinute": "150",
    }
    ava = next(v for v in voices if v["ShortName"] == DEFAULT_AZURE_VOICE)
    assert ava["DisplayName"] == "Ava Multilingual"
