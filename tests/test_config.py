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


# -- inbound security ---------------------------------------------------------------------------


def test_inbound_keys_from_the_variable_and_the_file_blank_ones_dropped(tmp_path) -> None:
    keys_file = tmp_path / "keys"
    keys_file.write_text("file-key-1\n\n   \nfile-key-2\r\nkey-a\n", encoding="utf-8")
    settings = Settings.from_mapping(
        {"SPEECH_API_KEYS": " key-a, ,key-b,", "SPEECH_API_KEYS_FILE": str(keys_file)}
    )
    assert settings.api_keys == ("key-a", "key-b", "file-key-1", "file-key-2")
    assert Settings.from_mapping({"SPEECH_API_KEYS": " , ,"}).api_keys == ()


def test_keys_and_the_token_secret_stay_out_of_repr() -> None:
    settings = Settings.from_mapping({"SPEECH_API_KEYS": "key-SECRET-1", "SPEECH_TOKEN_SECRET": "T" * 40})
    assert "key-SECRET-1" not in repr(settings)
    assert "TTTT" not in repr(settings)
    assert settings.token_secret == b"T" * 40


def test_an_unreadable_keys_file_is_a_configuration_error(tmp_path) -> None:
    with pytest.raises(ConfigError, match="SPEECH_API_KEYS_FILE"):
        Settings.from_mapping({"SPEECH_API_KEYS_FILE": str(tmp_path / "missing")})


def test_a_short_token_secret_is_refused() -> None:
    with pytest.raises(ConfigError, match="at least 32"):
        Settings.from_mapping({"SPEECH_TOKEN_SECRET": "short"})


def test_security_flags_limits_origins_and_hosts() -> None:
    settings = Settings.from_mapping(
        {
            "SPEECH_ALLOW_ANONYMOUS": "true",
            "SPEECH_OPS_OPEN": "1",
            "SPEECH_MAX_SESSIONS_PER_KEY": "4",
            "SPEECH_CORS_ORIGINS": "https://App.example.com/, http://localhost:3000",
            "SPEECH_ALLOWED_HOSTS": "Speech.Example.com, 10.0.0.5:5000",
        }
    )
    assert settings.allow_anonymous and settings.ops_open
    assert settings.max_sessions_per_key == 4
    assert settings.cors_origins == ("https://app.example.com", "http://localhost:3000")
    assert settings.allowed_hosts == ("speech.example.com", "10.0.0.5:5000")
    defaults = Settings.from_mapping({})
    assert (defaults.allow_anonymous, defaults.ops_open, defaults.max_sessions_per_key) == (
        False,
        False,
        None,
    )
    assert defaults.cors_origins == defaults.allowed_hosts == defaults.api_keys == ()
    with pytest.raises(ConfigError, match="SPEECH_ALLOW_ANONYMOUS"):
        Settings.from_mapping({"SPEECH_ALLOW_ANONYMOUS": "maybe"})
    with pytest.raises(ConfigError, match="SPEECH_CORS_ORIGINS"):
        Settings.from_mapping({"SPEECH_CORS_ORIGINS": "app.example.com"})
    with pytest.raises(ConfigError, match="SPEECH_MAX_SESSIONS_PER_KEY"):
        Settings.from_mapping({"SPEECH_MAX_SESSIONS_PER_KEY": "0"})


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.0.5", False),
        ("speech.example.com", False),
    ],
)
def test_loopback_binds_are_recognised(host, loopback) -> None:
    assert Settings(host=host).loopback is loopback


def test_every_variable_settings_reads_is_in_env_example() -> None:
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    source = (root / "speech_realtime" / "config.py").read_text(encoding="utf-8")
    documented = (root / ".env.example").read_text(encoding="utf-8")
    names = set(re.findall(r'"((?:SPEECH|AZURE_OPENAI|OPENAI|LOG)_[A-Z_]+|HOST|PORT)"', source))
    assert names and not {name for name in names if not re.search(rf"^#?{name}=", documented, re.M)}


def test_realtime_passthrough_settings():
    settings = Settings.from_mapping(
        {
            "SPEECH_REALTIME_MAX_SESSION_SECONDS": "60",
            "SPEECH_REALTIME_IDLE_TIMEOUT": "5",
            "SPEECH_REALTIME_MAX_MESSAGE_BYTES": "2048",
            "SPEECH_REALTIME_MAX_AUDIO_SECONDS": "30",
            "SPEECH_REALTIME_TOOLS": "true",
            "SPEECH_REALTIME_SECRET_MAX_SECONDS": "120",
            "SPEECH_REALTIME_PING_INTERVAL": "2",
        }
    )
    assert (settings.realtime_max_session_seconds, settings.realtime_idle_timeout) == (60, 5)
    assert (settings.realtime_max_message_bytes, settings.realtime_max_audio_seconds) == (2048, 30)
    assert settings.realtime_tools and settings.realtime_secret_max_seconds == 120
    assert settings.realtime_ping_interval == 2
    defaults = Settings.from_mapping({})
    assert not defaults.realtime_tools and defaults.realtime_secret_max_seconds == 600
    bad = (("SPEECH_REALTIME_SECRET_MAX_SECONDS", "5"), ("SPEECH_REALTIME_MAX_MESSAGE_BYTES", "x"))
    for name, value in bad:
        with pytest.raises(ConfigError, match=name):
            Settings.from_mapping({name: value})
