"""Transcription sessions on the wire: the session updates per dialect (validated against the
``openai`` package's types), the model traits, the endpoints, the settings."""

from __future__ import annotations

import pytest
from openai_types import validate_client_event

from speech_realtime.config import Settings
from speech_realtime.errors import ConfigError
from speech_realtime.options import MAX_PROMPT_CHARS
from speech_realtime.realtime.events import GA, PREVIEW, Kind, parse_server_event, stt_session_update
from speech_realtime.realtime.transcription import (
    ModelTraits,
    TranscriptionSession,
    keywords_in_prompt,
    logprobs_unavailable,
    token_logprobs,
    transcription_session_for,
)
from speech_realtime.realtime.transport import transcription_endpoint_for
from speech_realtime.usp.recognition_config import phrase_list

LIVE = TranscriptionSession("gpt-live-transcribe", ModelTraits("gpt-live-transcribe"), "near_field")
WHISPER = TranscriptionSession("rt-whisper", ModelTraits("gpt-realtime-whisper"), None, "low")
#: The preview types allow only these transcription model names (Azure takes deployment names).
PREVIEW_MODEL = TranscriptionSession("gpt-4o-mini-transcribe", ModelTraits("gpt-4o-mini-transcribe"))


def update(dialect, session=None, **kwargs):
    kwargs.setdefault("audio_format", "pcm16")
    kwargs.setdefault("transcribe_model", "whisper-1")
    event = stt_session_update(dialect, session=session, **kwargs)
    validate_client_event(str(dialect), event)
    return event


# -- session updates -----------------------------------------------------------------------------


def test_ga_transcription_session_update() -> None:
    event = update(GA, LIVE, language="en", prompt="A talk.", vad=True, keywords=("Contoso",), logprobs=True)
    assert event == {
        "type": "session.update",
        "session": {
            "type": "transcription",
            "audio": {
                "input": {
                    "format": {"type": "audio/pcm", "rate": 24000},
                    "transcription": {
                        "model": "gpt-live-transcribe",
                        "language": "en",
                        "keywords": ["Contoso"],
                        "prompt": "A talk.",
                    },
                    "turn_detection": {"type": "server_vad"},
                    "noise_reduction": {"type": "near_field"},
                }
            },
            "include": ["item.input_audio_transcription.logprobs"],
        },
    }


def test_preview_transcription_session_update() -> None:
    event = update(
        PREVIEW, PREVIEW_MODEL, language="en", vad=True, keywords=("Contoso", "Ezra"), logprobs=True
    )
    assert event == {
        "type": "transcription_session.update",
        "session": {
            "input_audio_format": "pcm16",
            "input_audio_transcription": {
                "model": "gpt-4o-mini-transcribe",
                "language": "en",
                "prompt": "Contoso, Ezra",
            },
            "turn_detection": {"type": "server_vad"},
            "include": ["item.input_audio_transcription.logprobs"],
        },
    }


def test_realtime_whisper_gets_delay_no_prompt_and_no_turn_detection() -> None:
    transcription = update(GA, WHISPER, prompt="ignored", keywords=("Contoso",), vad=True)["session"][
        "audio"
    ]["input"]
    assert transcription["transcription"] == {"model": "rt-whisper", "delay": "low"}
    assert transcription["turn_detection"] is None
    assert "noise_reduction" not in transcription


def test_realtime_sessions_keep_their_shape_and_take_keywords_in_the_prompt() -> None:
    event = update(GA, keywords=("Contoso",), prompt="Names:")
    assert event["session"]["type"] == "realtime"
    assert event["session"]["audio"]["input"]["transcription"] == {
        "model": "whisper-1",
        "prompt": "Names: Contoso",
    }
    assert "include" not in event["session"]


def test_ga_realtime_sessions_can_ask_for_logprobs_preview_ones_cannot() -> None:
    assert update(GA, logprobs=True)["session"]["include"] == ["item.input_audio_transcription.logprobs"]
    with pytest.raises(ValueError, match="preview"):
        stt_session_update(PREVIEW, audio_format="pcm16", transcribe_model="whisper-1", logprobs=True)


def test_keywords_in_the_prompt_stay_within_the_limit() -> None:
    keywords = tuple(f"word{i:03d}" for i in range(300))
    prompt = keywords_in_prompt("Expect:", keywords, MAX_PROMPT_CHARS)
    assert prompt.startswith("Expect: word000, word001")
    assert len(prompt) <= MAX_PROMPT_CHARS
    assert keywords_in_prompt(None, (), MAX_PROMPT_CHARS) is None


def test_transcription_session_events_are_normalised() -> None:
    assert (
        parse_server_event('{"type": "transcription_session.updated", "session": {}}').kind
        is Kind.SESSION_UPDATED
    )
    assert (
        parse_server_event('{"type": "transcription_session.created", "session": {}}').kind
        is Kind.SESSION_CREATED
    )


def test_token_logprobs_are_read_leniently() -> None:
    parsed = token_logprobs([{"token": "hi", "logprob": -0.5, "bytes": [104, 105]}, {"token": 3}, "x"])
    assert [(t.token, t.logprob, t.bytes) for t in parsed] == [("hi", -0.5, (104, 105))]
    assert token_logprobs(None) is None


# -- settings and endpoints ----------------------------------------------------------------------

AZURE = {"AZURE_OPENAI_ENDPOINT": "https://res.openai.azure.com", "AZURE_OPENAI_KEY": "k"}


@pytest.mark.parametrize(
    ("env", "url"),
    [
        (
            {**AZURE, "AZURE_OPENAI_TRANSCRIBE_DEPLOYMENT": "live transcribe"},
            "wss://res.openai.azure.com/openai/v1/realtime?intent=transcription&model=live%20transcribe",
        ),
        (
            {
                **AZURE,
                "AZURE_OPENAI_TRANSCRIBE_DEPLOYMENT": "stt",
                "AZURE_OPENAI_API_VERSION": "2025-04-01-preview",
            },
            "wss://res.openai.azure.com/openai/realtime?api-version=2025-04-01-preview"
            "&intent=transcription&deployment=stt",
        ),
        (
            {"OPENAI_API_KEY": "sk", "OPENAI_TRANSCRIBE_MODEL": "gpt-realtime-whisper"},
            "wss://api.openai.com/v1/realtime?intent=transcription",
        ),
        (
            {"SPEECH_ENGINE_URL": "http://127.0.0.1:9", "OPENAI_TRANSCRIBE_MODEL": "gpt-live-transcribe"},
            "ws://127.0.0.1:9/v1/realtime?intent=transcription",
        ),
    ],
)
def test_transcription_endpoints(env, url) -> None:
    settings = Settings.from_mapping(env)
    endpoint = transcription_endpoint_for(settings)
    assert endpoint is not None and endpoint.url == url
    assert endpoint.model == settings.transcription_deployment


def test_no_transcription_deployment_means_realtime_sessions() -> None:
    settings = Settings.from_mapping({**AZURE, "OPENAI_TRANSCRIBE_MODEL": "not-for-azure"})
    assert transcription_endpoint_for(settings) is None
    assert transcription_session_for(settings) is None


def test_the_model_behind_an_azure_deployment_decides_its_traits() -> None:
    env = {
        **AZURE,
        "AZURE_OPENAI_TRANSCRIBE_DEPLOYMENT": "my-stt",
        "AZURE_OPENAI_TRANSCRIBE_DEPLOYMENT_MODEL": "gpt-realtime-whisper",
        "SPEECH_NOISE_REDUCTION": "far_field",
        "SPEECH_TRANSCRIBE_DELAY": "high",
    }
    session = transcription_session_for(Settings.from_mapping(env))
    assert session == TranscriptionSession("my-stt", ModelTraits("gpt-realtime-whisper"), "far_field", "high")
    assert not session.traits.vad and session.traits.delay


@pytest.mark.parametrize(
    ("name", "value"), [("SPEECH_NOISE_REDUCTION", "loud"), ("SPEECH_TRANSCRIBE_DELAY", "1s")]
)
def test_bad_transcription_settings_are_config_errors(name, value) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_mapping({name: value})


def test_noise_reduction_off_sends_none() -> None:
    assert Settings.from_mapping({"SPEECH_NOISE_REDUCTION": "off"}).noise_reduction is None


@pytest.mark.parametrize(
    ("env", "refused"),
    [
        ({"SPEECH_ENGINE_URL": "http://127.0.0.1:9"}, "local engine"),
        ({**AZURE, "AZURE_OPENAI_API_VERSION": "2025-04-01-preview"}, "preview"),
        (AZURE, "whisper-1"),
        ({**AZURE, "AZURE_OPENAI_TRANSCRIBE_MODEL": "gpt-4o-mini-transcribe"}, None),
        ({**AZURE, "AZURE_OPENAI_TRANSCRIBE_DEPLOYMENT": "gpt-live-transcribe"}, None),
        ({**AZURE, "AZURE_OPENAI_TRANSCRIBE_DEPLOYMENT": "gpt-realtime-whisper"}, "gpt-realtime-whisper"),
    ],
)
def test_where_logprobs_are_unavailable(env, refused) -> None:
    settings = Settings.from_mapping(env)
    reason = logprobs_unavailable(settings, transcription_session_for(settings))
    assert reason is None if refused is None else refused in reason


@pytest.mark.parametrize(
    ("context", "phrases"),
    [
        (
            {"dgi": {"Groups": [{"Type": "Generic", "Items": [{"Text": "Contoso"}, {"Text": " "}]}]}},
            ("Contoso",),
        ),
        ({"dgi": {"Groups": [{"Type": "People", "Items": [{"Name": "Ezra"}]}]}}, ()),
        ({"dgi": "nonsense"}, ()),
        ({}, ()),
    ],
)
def test_phrase_lists_are_read_from_speech_context(context, phrases) -> None:
    assert phrase_list(context) == phrases


def test_a_realtime_session_whose_transcription_model_takes_keywords_gets_them() -> None:
    event = update(GA, transcribe_model="gpt-live-transcribe", keywords=("Contoso",), prompt="Names.")
    transcription = event["session"]["audio"]["input"]["transcription"]
    assert transcription == {"model": "gpt-live-transcribe", "keywords": ["Contoso"], "prompt": "Names."}
