"""Settings: the environment (and an optional ``.env`` file) read once into a frozen object.

Nothing else in the package reads ``os.environ``; :meth:`Settings.load` is called by the entry
points and the result is passed down.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path

from dotenv import dotenv_values

from .errors import ConfigError


class Backend(str, Enum):
    """Where Realtime sessions go."""

    AZURE = "azure"
    OPENAI = "openai"
    LOCAL = "local"

    def __str__(self) -> str:
        return self.value


class Dialect(str, Enum):
    """The protocol dialect of a Realtime endpoint."""

    GA = "ga"
    PREVIEW = "preview"

    def __str__(self) -> str:
        return self.value


BACKENDS = ("auto", *(backend.value for backend in Backend))
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("text", "json")
#: Per-million-token price variables, by (direction, modality) of the Realtime ``usage`` fields.
PRICE_VARIABLES = {
    ("input", "text"): "SPEECH_PRICE_INPUT_TEXT",
    ("input", "audio"): "SPEECH_PRICE_INPUT_AUDIO",
    ("output", "text"): "SPEECH_PRICE_OUTPUT_TEXT",
    ("output", "audio"): "SPEECH_PRICE_OUTPUT_AUDIO",
}


def _number(env: Mapping[str, str], name: str, default: float, *, minimum: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, not {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum:g}, not {raw}")
    return value


def _text(env: Mapping[str, str], name: str, default: str | None = None) -> str | None:
    value = env.get(name, "").strip()
    return value or default


@dataclass(frozen=True)
class Settings:
    """Everything configurable about the service. Secrets are kept out of ``repr``."""

    backend: Backend = Backend.LOCAL
    azure_endpoint: str | None = None
    azure_key: str | None = field(default=None, repr=False)
    azure_deployment: str = "gpt-realtime"
    azure_api_version: str | None = None
    transcribe_model: str = "whisper-1"
    openai_api_key: str | None = field(default=None, repr=False)
    openai_model: str = "gpt-realtime"
    openai_base_url: str = "https://api.openai.com/v1"
    engine_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 5000
    request_timeout: float = 30.0
    connect_timeout: float = 10.0
    receive_timeout: float = 15.0
    max_body_bytes: int = 25 * 1024 * 1024
    max_text_chars: int = 4096
    max_sessions: int = 32
    client_timeout: float = 10.0
    max_websockets: int = 64
    log_level: str = "INFO"
    log_format: str = "text"
    #: Prices per million tokens by (direction, modality); empty: no cost is estimated.
    token_prices: Mapping[tuple[str, str], float] = field(default_factory=dict)
    #: prometheus-client's multiprocess directory (``serve`` makes a fresh one); None: one process.
    metrics_dir: str | None = None

    @property
    def dialect(self) -> Dialect:
        """``preview`` when an Azure api-version is configured, else ``ga``."""
        if self.backend == Backend.AZURE and self.azure_api_version:
            return Dialect.PREVIEW
        return Dialect.GA

    @property
    def model(self) -> str:
        """The realtime deployment or model name requests go to."""
        if self.backend == "azure":
            return self.azure_deployment
        if self.backend == "openai":
            return self.openai_model
        return "local-echo"

    def with_changes(self, **changes: object) -> Settings:
        """A copy with some fields replaced (tests and the CLI use this)."""
        return replace(self, **changes)

    @classmethod
    def from_mapping(cls, env: Mapping[str, str]) -> Settings:
        """Build settings from a mapping of environment variables, validating as it goes."""
        backend = (_text(env, "SPEECH_BACKEND", "auto") or "auto").lower()
        if backend not in BACKENDS:
            raise ConfigError(f"SPEECH_BACKEND must be one of {', '.join(BACKENDS)}, not {backend!r}")
        azure_endpoint = _text(env, "AZURE_OPENAI_ENDPOINT")
        openai_key = _text(env, "OPENAI_API_KEY")
        if backend == "auto":
            backend = "azure" if azure_endpoint else "openai" if openai_key else "local"
        if backend == "azure" and not azure_endpoint:
            raise ConfigError("SPEECH_BACKEND=azure needs AZURE_OPENAI_ENDPOINT")
        if backend == "openai" and not openai_key:
            raise ConfigError("SPEECH_BACKEND=openai needs OPENAI_API_KEY")
        if azure_endpoint and not azure_endpoint.startswith(("https://", "http://")):
            raise ConfigError("AZURE_OPENAI_ENDPOINT must start with https:// or http://")
        log_level = (_text(env, "LOG_LEVEL", cls.log_level) or cls.log_level).upper()
        if log_level not in LOG_LEVELS:
            raise ConfigError(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, not {log_level!r}")
        log_format = (_text(env, "LOG_FORMAT", cls.log_format) or cls.log_format).lower()
        if log_format not in LOG_FORMATS:
            raise ConfigError(f"LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, not {log_format!r}")
        prices = {key: _number(env, name, 0.0, minimum=0.0) for key, name in PRICE_VARIABLES.items()}
        return cls(
            backend=Backend(backend),
            azure_endpoint=azure_endpoint,
            azure_key=_text(env, "AZURE_OPENAI_KEY") or _text(env, "AZURE_OPENAI_API_KEY"),
            azure_deployment=_text(env, "AZURE_OPENAI_REALTIME_DEPLOYMENT", cls.azure_deployment),
            azure_api_version=_text(env, "AZURE_OPENAI_API_VERSION"),
            transcribe_model=_text(env, "AZURE_OPENAI_TRANSCRIBE_MODEL", cls.transcribe_model),
            openai_api_key=openai_key,
            openai_model=_text(env, "OPENAI_REALTIME_MODEL", cls.openai_model),
            openai_base_url=_text(env, "OPENAI_BASE_URL", cls.openai_base_url),
            engine_url=_text(env, "SPEECH_ENGINE_URL"),
            host=_text(env, "HOST", cls.host),
            port=int(_number(env, "PORT", cls.port, minimum=0)),
            request_timeout=_number(env, "SPEECH_REQUEST_TIMEOUT", cls.request_timeout, minimum=0.1),
            connect_timeout=_number(env, "SPEECH_CONNECT_TIMEOUT", cls.connect_timeout, minimum=0.1),
            receive_timeout=_number(env, "SPEECH_RECEIVE_TIMEOUT", cls.receive_timeout, minimum=0.1),
            max_body_bytes=int(_number(env, "SPEECH_MAX_BODY_BYTES", cls.max_body_bytes, minimum=1024)),
            max_text_chars=int(_number(env, "SPEECH_MAX_TEXT_CHARS", cls.max_text_chars, minimum=1)),
            max_sessions=int(_number(env, "SPEECH_MAX_SESSIONS", cls.max_sessions, minimum=1)),
            client_timeout=_number(env, "SPEECH_CLIENT_TIMEOUT", cls.client_timeout, minimum=0.1),
            max_websockets=int(_number(env, "SPEECH_MAX_WEBSOCKETS", cls.max_websockets, minimum=0)),
            log_level=log_level,
            log_format=log_format,
            token_prices={key: price for key, price in prices.items() if price},
            metrics_dir=_text(env, "PROMETHEUS_MULTIPROC_DIR"),
        )

    @classmethod
    def load(cls, env_file: str | os.PathLike[str] | None = ".env") -> Settings:
        """Read the process environment, with values from ``env_file`` filling the gaps."""
        merged: dict[str, str] = {}
        if env_file is not None and Path(env_file).is_file():
            merged.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
        merged.update(os.environ)
        return cls.from_mapping(merged)
