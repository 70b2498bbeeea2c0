"""Reading one environment variable into a checked value: numbers with a floor, text, choices,
flags, comma-separated lists, and the security settings whose format is checked at start (keys,
the token secret, browser origins, trusted proxies). Each bad value is a :class:`ConfigError`
naming the variable.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from pathlib import Path

from .errors import ConfigError

#: The shortest ``SPEECH_TOKEN_SECRET`` taken (characters).
MIN_TOKEN_SECRET = 32


def number(env: Mapping[str, str], name: str, default: float, *, minimum: float) -> float:
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


def text(env: Mapping[str, str], name: str, default: str | None = None) -> str | None:
    value = env.get(name, "").strip()
    return value or default


def choice(env: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str | None:
    value = text(env, name)
    if value is not None and value.lower() not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
    return value.lower() if value else None


def flag(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise ConfigError(f"{name} must be true or false, not {raw!r}")


def optional_flag(env: Mapping[str, str], name: str) -> bool | None:
    """A true/false variable, or None when it is unset (the default is decided elsewhere)."""
    return flag(env, name) if env.get(name, "").strip() else None


def items(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """A comma-separated variable as its non-blank items."""
    return tuple(item.strip() for item in env.get(name, "").split(",") if item.strip())


def api_keys(env: Mapping[str, str]) -> tuple[str, ...]:
    """``SPEECH_API_KEYS`` (comma-separated) and ``SPEECH_API_KEYS_FILE`` (one a line), blank ones
    dropped, duplicates once."""
    keys = list(items(env, "SPEECH_API_KEYS"))
    path = text(env, "SPEECH_API_KEYS_FILE")
    if path:
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(
                f"SPEECH_API_KEYS_FILE {path!r} cannot be read: {exc.strerror or exc}"
            ) from None
        keys += [line.strip() for line in lines if line.strip()]
    return tuple(dict.fromkeys(keys))


def token_secret(env: Mapping[str, str]) -> bytes | None:
    secret = text(env, "SPEECH_TOKEN_SECRET")
    if secret is None:
        return None
    if len(secret) < MIN_TOKEN_SECRET:
        raise ConfigError(
            f"SPEECH_TOKEN_SECRET must be at least {MIN_TOKEN_SECRET} characters "
            "(python -c 'import secrets; print(secrets.token_hex(32))' makes one)"
        )
    return secret.encode()


def origins(env: Mapping[str, str]) -> tuple[str, ...]:
    """Browser origins as browsers send them: ``scheme://host[:port]``, lowercase, no slash."""
    origins = tuple(origin.lower().rstrip("/") for origin in items(env, "SPEECH_CORS_ORIGINS"))
    for origin in origins:
        if origin != "*" and not origin.startswith(("http://", "https://")):
            raise ConfigError(
                f"SPEECH_CORS_ORIGINS entries look like https://app.example.com, not {origin!r}"
            )
    return origins


def proxies(env: Mapping[str, str]) -> tuple[str, ...]:
    """``SPEECH_FORWARDED_ALLOW_IPS``: addresses or networks (``10.0.0.0/8``) of the proxies whose
    ``X-Forwarded-For``/``-Proto`` are believed, or ``*`` for any peer; unset: none."""
    proxies = items(env, "SPEECH_FORWARDED_ALLOW_IPS")
    for proxy in proxies:
        if proxy == "*":
            continue
        try:
            ipaddress.ip_network(proxy)
        except ValueError:
            raise ConfigError(
                f"SPEECH_FORWARDED_ALLOW_IPS entries are addresses or networks like 10.0.0.0/8 "
                f"(no host bits set), or *, not {proxy!r}"
            ) from None
    return proxies
