"""Settings: the environment (and an optional ``.env`` file) read once into a frozen object.

Nothing else in the package reads ``os.environ``; :meth:`Settings.load` is called by the entry
points and the result is passed down.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path

from dotenv import dotenv_values

from . import env_values as read
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
#: SPEECH_NOISE_REDUCTION: the Realtime API's noise reduction types, or off (not sent).
NOISE_REDUCTIONS = ("near_field", "far_field", "off")
#: SPEECH_TRANSCRIBE_DELAY: ``delay`` of models that have it (``gpt-realtime-whisper``).
TRANSCRIBE_DELAYS = ("minimal", "low", "medium", "high", "xhigh")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
#: The shortest ``SPEECH_TOKEN_SECRET`` accepted (a short one could be guessed from one token).
LOG_FORMATS = ("text", "json")
#: SPEECH_ENGINE_DEVICE: where faster-whisper runs in the engine.
ENGINE_DEVICES = ("cpu", "cuda")
#: Per-million-token price variables, by (direction, modality) of the Realtime ``usage`` fields.
PRICE_VARIABLES = {
    ("input", "text"): "SPEECH_PRICE_INPUT_TEXT",
    ("input", "audio"): "SPEECH_PRICE_INPUT_AUDIO",
    ("output", "text"): "SPEECH_PRICE_OUTPUT_TEXT",
    ("output", "audio"): "SPEECH_PRICE_OUTPUT_AUDIO",
}


def _realtime(env: Mapping[str, str]) -> dict[str, object]:
    """The ``SPEECH_REALTIME_*`` settings of the pass-through and of client secrets."""
    defaults = Settings
    return {
        "realtime_max_session_seconds": read.number(
            env, "SPEECH_REALTIME_MAX_SESSION_SECONDS", defaults.realtime_max_session_seconds, minimum=1
        ),
        "realtime_idle_timeout": read.number(
            env, "SPEECH_REALTIME_IDLE_TIMEOUT", defaults.realtime_idle_timeout, minimum=0.1
        ),
        "realtime_max_message_bytes": int(
            read.number(
                env, "SPEECH_REALTIME_MAX_MESSAGE_BYTES", defaults.realtime_max_message_bytes, minimum=1024
            )
        ),
        "realtime_max_audio_seconds": read.number(
            env, "SPEECH_REALTIME_MAX_AUDIO_SECONDS", defaults.realtime_max_audio_seconds, minimum=1
        ),
        "realtime_tools": read.flag(env, "SPEECH_REALTIME_TOOLS"),
        "realtime_ping_interval": read.number(
            env, "SPEECH_REALTIME_PING_INTERVAL", defaults.realtime_ping_interval, minimum=0.1
        ),
        "realtime_secret_max_seconds": int(
            read.number(
                env, "SPEECH_REALTIME_SECRET_MAX_SECONDS", defaults.realtime_secret_max_seconds, minimum=10
            )
        ),
    }


def share(total: int, parts: int, index: int) -> int:
    """Part ``index`` (0-based) of ``total`` split into ``parts`` as evenly as integers allow.

    ``serve --workers N`` gives each worker a fixed share of ``SPEECH_MAX_SESSIONS`` and
    ``SPEECH_MAX_WEBSOCKETS``, the remainder spread over the first workers (32 over 3: 11, 11,
    10). A fixed share needs nothing shared between processes: a counter in shared memory
    would follow the total exactly when the kernel hands one worker more connections than
    another, but a worker that is killed (its timeout, the OOM killer) would leak every slot it
    held, while a share goes whole to the worker that replaces it (same slot). The price: one
    worker can refuse while another has room.
    """
    whole, extra = divmod(total, parts)
    return whole + (1 if index < extra else 0)


def is_loopback(host: str) -> bool:
    """Whether a bind address only accepts connections from this machine."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Settings:
    """Everything configurable about the service. Secrets are kept out of ``repr``."""

    backend: Backend = Backend.LOCAL
    azure_endpoint: str | None = None
    azure_key: str | None = field(default=None, repr=False)
    azure_deployment: str = "gpt-realtime"
    azure_api_version: str | None = None
    transcribe_model: str = "whisper-1"
    transcription_deployment: str | None = None
    transcription_model: str | None = None
    noise_reduction: str | None = None
    transcribe_delay: str | None = None
    openai_api_key: str | None = field(default=None, repr=False)
    openai_model: str = "gpt-realtime"
    openai_base_url: str = "https://api.openai.com/v1"
    engine_url: str | None = None
    #: Injected one-way delay of the offline engine's wire (seconds; ``SPEECH_ENGINE_LATENCY_MS``).
    engine_latency: float = 0.0
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
    sdk_idle_timeout: float = 300.0
    sdk_ping_interval: float = 20.0
    log_level: str = "INFO"
    api_keys: tuple[str, ...] = field(default=(), repr=False)
    allow_anonymous: bool = False
    max_sessions_per_key: int | None = None
    #: Consecutive upstream failures that open the circuit breaker, and its cool-down (seconds).
    breaker_failures: int = 5
    breaker_cooldown: float = 10.0
    ops_open: bool = False
    #: ``SPEECH_DEMO``: the demo page at ``/``; None (unset): on when loopback or keyless.
    demo: bool | None = None
    token_secret: bytes | None = field(default=None, repr=False)
    cors_origins: tuple[str, ...] = ()
    allowed_hosts: tuple[str, ...] = ()
    log_format: str = "text"
    #: Prices per million tokens by (direction, modality); empty: no cost is estimated.
    token_prices: Mapping[tuple[str, str], float] = field(default_factory=dict)
    #: prometheus-client's multiprocess directory (``serve`` makes a fresh one); None: one process.
    metrics_dir: str | None = None
    graceful_timeout: float = 30.0
    #: Proxies whose X-Forwarded-For/-Proto are believed (addresses, networks, or ``*``).
    forwarded_allow_ips: tuple[str, ...] = ()
    #: The engine's faster-whisper device and its CPU threads (None: every core the OS reports).
    engine_device: str = "cpu"
    engine_threads: int | None = None
    #: The seed-004 relay (``/realtime``): see :mod:`speech_realtime.relay` and docs/relay.md.
    relay_max_seconds: float = 3600.0
    relay_idle_timeout: float = 300.0
    relay_max_message_bytes: int = 256 * 1024
    relay_max_audio_seconds: float = 1800.0
    relay_ping_interval: float = 20.0
    relay_renew_after: float = 1500.0
    relay_voice: str = "alloy"
    relay_instructions: str | None = None
    relay_greeting: str | None = None
    #: The Realtime pass-through and client secrets (:mod:`.realtime.policy`): a session's longest
    #: life and idle time (seconds), a client message's largest size (bytes), the client audio a
    #: session may send (seconds), whether tools are allowed, a client secret's longest life, the
    #: seconds between pings to both sides.
    realtime_max_session_seconds: float = 1800.0
    realtime_idle_timeout: float = 120.0
    realtime_max_message_bytes: int = 512 * 1024
    realtime_max_audio_seconds: float = 600.0
    realtime_tools: bool = False
    realtime_secret_max_seconds: int = 600
    realtime_ping_interval: float = 20.0
    #: Pre-connected upstream sessions per worker (0: no pool), and their longest idle life (s).
    pool_size: int = 0
    pool_max_idle: float = 600.0
    #: ``serve --workers`` and the slot of the worker these settings are for (set by the server).
    workers: int = 1
    worker_slot: int = 0

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

    @property
    def transcription_traits_model(self) -> str | None:
        """The model behind the transcription-only deployment (its name unless configured)."""
        return self.transcription_model or self.transcription_deployment

    @property
    def loopback(self) -> bool:
        """Whether the service is bound to a loopback address (reachable from this machine only)."""
        return is_loopback(self.host)

    @property
    def demo_enabled(self) -> bool:
        """Whether ``/`` serves the demo page and ``/demo/session`` hands out short-lived tokens:
        ``SPEECH_DEMO`` when set, else on when bound to loopback or when no inbound key is set."""
        return self.demo if self.demo is not None else self.loopback or not self.api_keys

    @property
    def worker_sessions(self) -> int:
        """This worker's share of ``max_sessions`` (a total over every worker)."""
        return share(self.max_sessions, self.workers, self.worker_slot)

    @property
    def worker_websockets(self) -> int:
        """This worker's share of ``max_websockets`` (a total over every worker)."""
        return share(self.max_websockets, self.workers, self.worker_slot)

    def check_workers(self) -> None:
        """Refuse a worker count that would leave a worker with no session (or, when WebSockets
        are allowed at all, none): its clients would be refused whatever the others hold."""
        if self.max_sessions < self.workers:
            raise ConfigError(
                f"SPEECH_MAX_SESSIONS ({self.max_sessions}) is a total over every worker and must "
                f"be at least the number of workers ({self.workers})"
            )
        if 0 < self.max_websockets < self.workers:
            raise ConfigError(
                f"SPEECH_MAX_WEBSOCKETS ({self.max_websockets}) is a total over every worker and "
                f"must be 0 or at least the number of workers ({self.workers})"
            )

    def with_changes(self, **changes: object) -> Settings:
        """A copy with some fields replaced (tests and the CLI use this)."""
        return replace(self, **changes)

    @classmethod
    def from_mapping(cls, env: Mapping[str, str]) -> Settings:
        """Build settings from a mapping of environment variables, validating as it goes."""
        backend = (read.text(env, "SPEECH_BACKEND", "auto") or "auto").lower()
        if backend not in BACKENDS:
            raise ConfigError(f"SPEECH_BACKEND must be one of {', '.join(BACKENDS)}, not {backend!r}")
        azure_endpoint = read.text(env, "AZURE_OPENAI_ENDPOINT")
        openai_key = read.text(env, "OPENAI_API_KEY")
        if backend == "auto":
            backend = "azure" if azure_endpoint else "openai" if openai_key else "local"
        if backend == "azure" and not azure_endpoint:
            raise ConfigError("SPEECH_BACKEND=azure needs AZURE_OPENAI_ENDPOINT")
        if backend == "openai" and not openai_key:
            raise ConfigError("SPEECH_BACKEND=openai needs OPENAI_API_KEY")
        if azure_endpoint and not azure_endpoint.startswith(("https://", "http://")):
            raise ConfigError("AZURE_OPENAI_ENDPOINT must start with https:// or http://")
        transcription = read.text(
            env, "AZURE_OPENAI_TRANSCRIBE_DEPLOYMENT" if backend == "azure" else "OPENAI_TRANSCRIBE_MODEL"
        )
        noise_reduction = read.choice(env, "SPEECH_NOISE_REDUCTION", NOISE_REDUCTIONS)
        delay = read.choice(env, "SPEECH_TRANSCRIBE_DELAY", TRANSCRIBE_DELAYS)
        log_level = (read.text(env, "LOG_LEVEL", cls.log_level) or cls.log_level).upper()
        if log_level not in LOG_LEVELS:
            raise ConfigError(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, not {log_level!r}")
        log_format = (read.text(env, "LOG_FORMAT", cls.log_format) or cls.log_format).lower()
        if log_format not in LOG_FORMATS:
            raise ConfigError(f"LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, not {log_format!r}")
        prices = {key: read.number(env, name, 0.0, minimum=0.0) for key, name in PRICE_VARIABLES.items()}
        return cls(
            backend=Backend(backend),
            azure_endpoint=azure_endpoint,
            azure_key=read.text(env, "AZURE_OPENAI_KEY") or read.text(env, "AZURE_OPENAI_API_KEY"),
            azure_deployment=read.text(env, "AZURE_OPENAI_REALTIME_DEPLOYMENT", cls.azure_deployment),
            azure_api_version=read.text(env, "AZURE_OPENAI_API_VERSION"),
            transcribe_model=read.text(env, "AZURE_OPENAI_TRANSCRIBE_MODEL", cls.transcribe_model),
            transcription_deployment=transcription,
            transcription_model=read.text(env, "AZURE_OPENAI_TRANSCRIBE_DEPLOYMENT_MODEL")
            if transcription
            else None,
            noise_reduction=None if noise_reduction == "off" else noise_reduction,
            transcribe_delay=delay,
            openai_api_key=openai_key,
            openai_model=read.text(env, "OPENAI_REALTIME_MODEL", cls.openai_model),
            openai_base_url=read.text(env, "OPENAI_BASE_URL", cls.openai_base_url),
            engine_url=read.text(env, "SPEECH_ENGINE_URL"),
            engine_latency=read.number(env, "SPEECH_ENGINE_LATENCY_MS", 0.0, minimum=0.0) / 1000,
            host=read.text(env, "HOST", cls.host),
            port=int(read.number(env, "PORT", cls.port, minimum=0)),
            request_timeout=read.number(env, "SPEECH_REQUEST_TIMEOUT", cls.request_timeout, minimum=0.1),
            connect_timeout=read.number(env, "SPEECH_CONNECT_TIMEOUT", cls.connect_timeout, minimum=0.1),
            receive_timeout=read.number(env, "SPEECH_RECEIVE_TIMEOUT", cls.receive_timeout, minimum=0.1),
            max_body_bytes=int(read.number(env, "SPEECH_MAX_BODY_BYTES", cls.max_body_bytes, minimum=1024)),
            max_text_chars=int(read.number(env, "SPEECH_MAX_TEXT_CHARS", cls.max_text_chars, minimum=1)),
            max_sessions=int(read.number(env, "SPEECH_MAX_SESSIONS", cls.max_sessions, minimum=1)),
            client_timeout=read.number(env, "SPEECH_CLIENT_TIMEOUT", cls.client_timeout, minimum=0.1),
            max_websockets=int(read.number(env, "SPEECH_MAX_WEBSOCKETS", cls.max_websockets, minimum=0)),
            sdk_idle_timeout=read.number(env, "SPEECH_SDK_IDLE_TIMEOUT", cls.sdk_idle_timeout, minimum=0.1),
            sdk_ping_interval=read.number(
                env, "SPEECH_SDK_PING_INTERVAL", cls.sdk_ping_interval, minimum=0.1
            ),
            log_level=log_level,
            api_keys=read.api_keys(env),
            allow_anonymous=read.flag(env, "SPEECH_ALLOW_ANONYMOUS"),
            max_sessions_per_key=(
                int(read.number(env, "SPEECH_MAX_SESSIONS_PER_KEY", 0, minimum=1))
                if read.text(env, "SPEECH_MAX_SESSIONS_PER_KEY")
                else None
            ),
            breaker_failures=int(
                read.number(env, "SPEECH_BREAKER_FAILURES", cls.breaker_failures, minimum=1)
            ),
            breaker_cooldown=read.number(env, "SPEECH_BREAKER_COOLDOWN", cls.breaker_cooldown, minimum=0.1),
            ops_open=read.flag(env, "SPEECH_OPS_OPEN"),
            demo=read.optional_flag(env, "SPEECH_DEMO"),
            token_secret=read.token_secret(env),
            cors_origins=read.origins(env),
            allowed_hosts=tuple(host.lower() for host in read.items(env, "SPEECH_ALLOWED_HOSTS")),
            log_format=log_format,
            token_prices={key: price for key, price in prices.items() if price},
            metrics_dir=read.text(env, "PROMETHEUS_MULTIPROC_DIR"),
            graceful_timeout=read.number(env, "SPEECH_GRACEFUL_TIMEOUT", cls.graceful_timeout, minimum=1),
            forwarded_allow_ips=read.proxies(env),
            engine_device=read.choice(env, "SPEECH_ENGINE_DEVICE", ENGINE_DEVICES) or cls.engine_device,
            engine_threads=(
                int(read.number(env, "SPEECH_ENGINE_THREADS", 0, minimum=1))
                if read.text(env, "SPEECH_ENGINE_THREADS")
                else None
            ),
            relay_max_seconds=read.number(env, "SPEECH_RELAY_MAX_SECONDS", cls.relay_max_seconds, minimum=1),
            relay_idle_timeout=read.number(
                env, "SPEECH_RELAY_IDLE_TIMEOUT", cls.relay_idle_timeout, minimum=0.1
            ),
            relay_max_message_bytes=int(
                read.number(env, "SPEECH_RELAY_MAX_MESSAGE_BYTES", cls.relay_max_message_bytes, minimum=1024)
            ),
            relay_max_audio_seconds=read.number(
                env, "SPEECH_RELAY_MAX_AUDIO_SECONDS", cls.relay_max_audio_seconds, minimum=1
            ),
            relay_ping_interval=read.number(
                env, "SPEECH_RELAY_PING_INTERVAL", cls.relay_ping_interval, minimum=0.1
            ),
            relay_renew_after=read.number(env, "SPEECH_RELAY_RENEW_AFTER", cls.relay_renew_after, minimum=1),
            relay_voice=read.text(env, "SPEECH_RELAY_VOICE", cls.relay_voice) or cls.relay_voice,
            relay_instructions=read.text(env, "SPEECH_RELAY_INSTRUCTIONS"),
            relay_greeting=read.text(env, "SPEECH_RELAY_GREETING"),
            **_realtime(env),
            pool_size=int(read.number(env, "SPEECH_POOL_SIZE", cls.pool_size, minimum=0)),
            pool_max_idle=read.number(env, "SPEECH_POOL_MAX_IDLE", cls.pool_max_idle, minimum=1),
        )

    @classmethod
    def load(cls, env_file: str | os.PathLike[str] | None = ".env") -> Settings:
        """Read the process environment, with values from ``env_file`` filling the gaps."""
        merged: dict[str, str] = {}
        if env_file is not None and Path(env_file).is_file():
            merged.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
        merged.update(os.environ)
        return cls.from_mapping(merged)
