"""Short-lived, single-use client secrets for browsers (OpenAI's ``/v1/realtime/client_secrets``).

A secret is ``ek_`` + a signed payload (HMAC-SHA256 with the service's token secret, shared by
every worker and, with ``SPEECH_TOKEN_SECRET``, every replica): its expiry, a random id, the
caller it was minted for (the per-key session cap counts its sessions) and the GA session
options it fixes. Nothing is stored when one is minted. It is good for one connection: the
first upgrade (or WebRTC call) that presents it claims its id in a :class:`UsedSecrets`; a
second is refused. The used ids live in a directory that every worker of one ``serve`` shares
(one empty file per id, created with ``O_EXCL``, which is atomic across processes), or in
memory for a single process; an id is forgotten once its secret has expired anyway.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import BadRequest

PREFIX = "ek_"
#: OpenAI's bounds for ``expires_after.seconds``; the service's own maximum
#: (``SPEECH_REALTIME_SECRET_MAX_SECONDS``) is within them.
MIN_SECONDS, MAX_SECONDS = 10, 7200
DEFAULT_SECONDS = 600
#: The largest session a secret may carry (JSON bytes): the secret travels in a header.
MAX_SESSION_BYTES = 4096
_DOMAIN = b"realtime-client-secret\0"


@dataclass(frozen=True)
class SecretClaims:
    """What a valid secret says."""

    secret_id: str
    expires_at: int
    caller: str | None
    session: dict[str, Any] = field(default_factory=dict)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(key: bytes, payload: str) -> str:
    return _b64(hmac.new(key, _DOMAIN + payload.encode("ascii"), hashlib.sha256).digest())


def lifetime(expires_after: object, maximum: int) -> int:
    """Seconds a secret lives per the request's ``expires_after`` (``{"anchor": "created_at",
    "seconds": N}``; absent: the default, within ``maximum``); :class:`BadRequest` naming the field."""
    if expires_after is None:
        return min(DEFAULT_SECONDS, maximum)
    if not isinstance(expires_after, dict):
        raise BadRequest("'expires_after' must be an object", code="invalid_value", param="expires_after")
    if expires_after.get("anchor", "created_at") != "created_at":
        raise BadRequest(
            "'expires_after.anchor' must be 'created_at'", code="invalid_value", param="expires_after.anchor"
        )
    seconds = expires_after.get("seconds", min(DEFAULT_SECONDS, maximum))
    if isinstance(seconds, bool) or not isinstance(seconds, int) or not MIN_SECONDS <= seconds <= maximum:
        raise BadRequest(
            f"'expires_after.seconds' must be a whole number from {MIN_SECONDS} to {maximum} "
            "(SPEECH_REALTIME_SECRET_MAX_SECONDS)",
            code="invalid_value",
            param="expires_after.seconds",
        )
    return seconds


def mint(
    key: bytes, session: dict[str, Any], *, caller: str | None, seconds: int, now: float | None = None
) -> tuple[str, SecretClaims]:
    """A new secret for ``session`` (already checked), valid ``seconds`` from ``now``."""
    encoded = json.dumps(session, separators=(",", ":"), ensure_ascii=False).encode()
    if len(encoded) > MAX_SESSION_BYTES:
        raise BadRequest(
            f"the session is {len(encoded)} bytes of JSON; a client secret carries at most "
            f"{MAX_SESSION_BYTES}",
            code="invalid_value",
            param="session",
        )
    claims = SecretClaims(
        secrets.token_hex(12), int(time.time() if now is None else now) + seconds, caller, session
    )
    body = {"jti": claims.secret_id, "exp": claims.expires_at, "sub": caller, "session": session}
    payload = _b64(json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode())
    return f"{PREFIX}{payload}.{_signature(key, payload)}", claims


def read(value: str, key: bytes, *, now: float | None = None) -> SecretClaims | None:
    """The claims of ``value`` if this service minted it and it has not expired, else None."""
    if not value.startswith(PREFIX) or not value.isascii():
        return None
    payload, _, signature = value[len(PREFIX) :].partition(".")
    if not hmac.compare_digest(_signature(key, payload), signature):
        return None
    try:
        body = json.loads(_unb64(payload))
    except (ValueError, binascii.Error):
        return None
    expires, secret_id = body.get("exp"), body.get("jti")
    current = time.time() if now is None else now
    if not isinstance(expires, int) or not isinstance(secret_id, str) or current >= expires:
        return None
    caller = body.get("sub") if isinstance(body.get("sub"), str) else None
    session = body.get("session") if isinstance(body.get("session"), dict) else {}
    return SecretClaims(secret_id, expires, caller, session)


class UsedSecrets:
    """The ids of secrets already used, until they expire: in ``directory`` (shared by the
    workers of one server) or, without one, in this process's memory."""

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        self._directory = Path(directory) if directory is not None else None
        if self._directory is not None:
            self._directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._memory: dict[str, int] = {}

    def claim(self, claims: SecretClaims, *, now: float | None = None) -> bool:
        """True the first time a secret is claimed; False ever after (until it expires)."""
        current = time.time() if now is None else now
        self._forget(current)
        if self._directory is None:
            with self._lock:
                if claims.secret_id in self._memory:
                    return False
                self._memory[claims.secret_id] = claims.expires_at
                return True
        path = self._directory / f"{claims.expires_at}-{claims.secret_id}"
        try:
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        except FileExistsError:
            return False
        return True

    def _forget(self, now: float) -> None:
        """Drop the ids of expired secrets (a used one cannot be presented again anyway)."""
        if self._directory is None:
            with self._lock:
                for secret_id in [s for s, expires in self._memory.items() if expires <= now]:
                    del self._memory[secret_id]
            return
        with contextlib.suppress(OSError), os.scandir(self._directory) as entries:
            for entry in entries:
                expires, _, _ = entry.name.partition("-")
                if expires.isdigit() and int(expires) <= now:
                    with contextlib.suppress(OSError):
                        os.unlink(entry.path)
