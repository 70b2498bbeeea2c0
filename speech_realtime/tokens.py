"""Short-lived access tokens, as Azure Speech's ``/sts/v1.0/issueToken`` issues them.

A token is a JSON Web Token (HS256, standard library only) valid for ten minutes, like
Azure's. It carries no key: it proves that whoever holds it was allowed to ask for it, and names
the caller (an opaque id of the key it was issued for) so that the per-key session cap counts
its sessions too. The signing secret is dedicated and never derived from the keys (a token would
otherwise be an offline oracle for guessing a weak key): ``SPEECH_TOKEN_SECRET``, shared by every
replica, or :func:`new_secret` made once before gunicorn forks, shared by every worker.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from typing import Any

#: Azure's token lifetime (seconds).
TOKEN_LIFETIME = 600
ISSUER = "speech-realtime"
_HEADER = {"alg": "HS256", "typ": "JWT"}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: bytes, signing_input: str) -> str:
    return _b64(hmac.new(secret, signing_input.encode("ascii"), hashlib.sha256).digest())


def new_secret() -> bytes:
    """A random signing secret (made once per service, before its workers start)."""
    return secrets.token_bytes(32)


def issue_token(
    secret: bytes, *, subject: str | None = None, lifetime: int = TOKEN_LIFETIME, now: float | None = None
) -> str:
    """A signed token valid for ``lifetime`` seconds from ``now``, for caller ``subject``."""
    issued = int(time.time() if now is None else now)
    claims: dict[str, object] = {
        "iss": ISSUER,
        "iat": issued,
        "exp": issued + lifetime,
        "jti": secrets.token_hex(8),
    }
    if subject is not None:
        claims["sub"] = subject
    head = _b64(json.dumps(_HEADER, separators=(",", ":")).encode())
    body = _b64(json.dumps(claims, separators=(",", ":")).encode())
    return f"{head}.{body}.{_sign(secret, f'{head}.{body}')}"


def token_claims(token: str, secret: bytes, *, now: float | None = None) -> dict[str, Any] | None:
    """The claims of ``token`` if it was issued with ``secret`` and has not expired, else None."""
    parts = token.strip().split(".")
    if len(parts) != 3 or not token.isascii():
        return None
    head, body, signature = parts
    if not hmac.compare_digest(_sign(secret, f"{head}.{body}"), signature):
        return None
    try:
        claims = json.loads(_unb64(body))
    except ValueError:
        return None
    expires = claims.get("exp") if isinstance(claims, dict) else None
    current = time.time() if now is None else now
    if isinstance(expires, int) and claims.get("iss") == ISSUER and current < expires:
        return claims
    return None


def verify_token(token: str, secret: bytes, *, now: float | None = None) -> bool:
    """Whether ``token`` was issued with ``secret`` and has not expired (any other text: False)."""
    return token_claims(token, secret, now=now) is not None
