"""Settings from the environment and .env."""

from __future__ import annotations

import pytest

from speech_realtime.config import Settings
from speech_realtime.errors import ConfigError


def test_auto_picks_azure_then_openai_then_local() -> None:
    assert Settings.from_mapping({"AZURE_OPENAI_ENDPOINT": "https://r.openai.azure.com/"}).backend == "azure"
    assert Settings.from_mapping({"OPENAI_API_KEY": "sk"}).backend == "openai"
    assert Settings.from_mapping({}).backend == "local"


def test_defaults_match_the_reference() -> None:
    settings = Settings.from_mapping({})
    assert settings.port == 5000
    assert settings.request_timeout == 30
    assert settings.receive_timeout == 15
    assert settings.transcribe_model == "whisper-1"
    assert settings.max_text_chars == 4096


def test_sdk_socket_idle_limit_and_ping_interval() -> None:
    defaults = Settings.from_mapping({})
    assert (defaults.sdk_idle_timeout, defaults.sdk_ping_interval) == (300.0, 20.0)  # Azure closes at 5 min
    env = {"SPEECH_SDK_IDLE_TIMEOUT": "30", "SPEECH_SDK_PING_INTERVAL": "2.5"}
    assert (Settings.from_mapping(env).sdk_idle_timeout, Settings.from_mapping(env).sdk_ping_interval) == (
        30,
        2.5,
    )
    for name in env:
        with pytest.raises(ConfigError, match=name):
            Settings.from_mapping({name: "0"})


def test_both_azure_key_names_are_accepted_the_reference_name_first() -> None:
    base = {"AZURE_OPENAI_ENDPOINT": "https://r.openai.azure.com"}
    assert Settings.from_mapping({**base, "AZURE_OPENAI_API_KEY": "b"}).azure_key == "b"
    both = {**base, "AZURE_OPENAI_KEY": "a", "AZURE_OPENAI_API_KEY": "b"}
    assert Settings.from_mapping(both).azure_key == "a"


def test_api_version_selects_the_preview_dialect() -> None:
    base = {"AZURE_OPENAI_ENDPOINT": "https://r.openai.azure.com"}
    assert Settings.from_mapping(base).dialect == "ga"
    assert (
        Settings.from_mapping({**base, "AZURE_OPENAI_API_VERSION": "2025-04-01-preview"}).dialect == "preview"
    )
    assert Settings.from_mapping({"OPENAI_API_KEY": "k"}).dialect == "ga"


def test_secrets_stay_out_of_repr() -> None:
    settings = Settings.from_mapping(
        {"AZURE_OPENAI_ENDPOINT": "https://r", "AZURE_OPENAI_KEY": "SECRET1", "OPENAI_API_KEY": "SECRET2"}
    )
    assert "SECRET" not in repr(settings)


@pytest.mark.parametrize(
    "env",
    [
        {"SPEECH_BACKEND": "watson"},
        {"SPEECH_BACKEND": "azure"},
        {"SPEECH_BACKEND": "openai"},
        {"AZURE_OPENAI_ENDPOINT": "r.openai.azure.com"},
        {"SPEECH_REQUEST_TIMEOUT": "soon"},
        {"SPEECH_REQUEST_TIMEOUT": "0"},
        {"PORT": "-1"},
    ],
)
def test_invalid_configuration_is_a_clear_config_error(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        Settings.from_mapping(env)


def test_load_reads_a_dotenv_file_and_the_environment_wins(tmp_path, monkeypatch) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("OPENAI_API_KEY=from-file\nPORT=6000\nOPENAI_REALTIME_MODEL=file-model\n")
    monkeypatch.setenv("OPENAI_REALTIME_MODEL", "env-model")
    monkeypatch.delenv("AZURE_OPENAI_ENDPOINT", raising=False)
    monkeypatch.delenv("SPEECH_BACKEND", raising=False)
    monkeypatch.delenv("PORT", raising=False)
    settings = Settings.load(env_file)
    assert settings.backend == "openai"
    assert settings.port == 6000
    assert settings.openai_model == "env-model"
