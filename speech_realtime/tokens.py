"""Short-lived access tokens, as Azure Speech's ``/sts/v1.0/issueToken`` issues them.

A token is a JSON Web Token (HS256, standard library only) valid for ten minutes, like
Azure's. It carries no key: it proves that whoever holds it was allowed to ask for it. The
signing secret is derived from the inbound keys (so every worker process verifies the tokens of
every other one, and changing the keys invalidates old tokens); with no inbound keys it is random
per process, which is enough while every request is accepted anyway.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Iterable

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


def token_secret(keys: Iterable[str] = ()) -> bytes:
    """The signing secret: derived from the inbound ``keys``, or random if there are none."""
    joined = "\n".join(sorted(keys))
    if not joined:
        return secrets.token_bytes(32)
    return hmac.new(b"speech-realtime issueToken", joined.encode(), hashlib.sha256).digest()


def issue_token(secret: bytes, *, lifetime: int = TOKEN_LIFETIME, now: float | None = None) -> str:
    """A signed token valid for ``lifetime`` seconds from ``now``."""
    issued = int(time.time() if now is None else now)
    claims = {"iss": ISSUER, "iat": issued, "exp": issued + lifetime, "jti": secrets.token_hex(8)}
    head = _b64(json.dumps(_HEADER, separators=(",", ":")).encode())
    body = _b64(json.dumps(claims, separators=(",", ":")).encode())
    return f"{head}.{body}.{_sign(secret, f'{head}.{body}')}"


def verify_token(token: str, secret: bytes, *, now: float | None = None) -> bool:
    """Whether ``token`` was issued with ``secret`` and has not expired (any other text: False)."""
    parts = token.strip().split(".")
    if len(parts) != 3 or not token.isascii():
        return False
    head, body, signature = parts
    if not hmac.compare_digest(_sign(secret, f"{head}.{body}"), signature):
        return False
    try:
        claims = json.loads(_unb64(body))
    except ValueError:
        return False
    expires = claims.get("exp") if isinstance(claims, dict) else None
    current = time.time() if now is None else now
    return isinstance(expires, int) and claims.get("iss") == ISSUER and current < expires
