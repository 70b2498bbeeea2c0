"""Credentials for the upstream handshake: an API key, or an Entra ID token cached until near expiry.

Keys live only in the headers built here; nothing in this module logs or formats them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from ..config import Settings
from ..errors import ConfigError, UpstreamAuth

ENTRA_SCOPE = "https://cognitiveservices.azure.com/.default"
#: Refresh a cached token this many seconds before it expires.
REFRESH_MARGIN = 300


class TokenCredential(Protocol):
    """What is used of an azure-identity credential (``DefaultAzureCredential`` and the like)."""

    def get_token(self, *scopes: str) -> Any: ...


class Auth(Protocol):
    mode: str

    def headers(self) -> dict[str, str]: ...


class HeaderAuth:
    """A fixed header: ``api-key`` for Azure keys, ``Authorization: Bearer`` for OpenAI."""

    def __init__(self, mode: str, name: str, value: str) -> None:
        self.mode = mode
        self._header = {name: value}

    def headers(self) -> dict[str, str]:
        return dict(self._header)

    def __repr__(self) -> str:
        return f"HeaderAuth(mode={self.mode!r})"


class NoAuth:
    mode = "none"

    def headers(self) -> dict[str, str]:
        return {}


class EntraIdAuth:
    """Bearer tokens from an azure-identity credential, fetched once and refreshed before expiry.

    ``credential`` is anything with azure-identity's ``get_token(scope)``
    (:func:`auth_for` passes a ``DefaultAzureCredential`` by default).
    """

    mode = "entra-id"

    def __init__(self, credential: TokenCredential, *, clock: Callable[[], float] = time.time) -> None:
        self._credential = credential
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_on = 0.0

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._current_token()}"}

    def _current_token(self) -> str:
        with self._lock:
            if self._token is None or self._clock() > self._expires_on - REFRESH_MARGIN:
                access = self._fetch()
                self._token, self._expires_on = access.token, float(access.expires_on)
            return self._token

    def _fetch(self) -> Any:
        try:
            return self._credential.get_token(ENTRA_SCOPE)
        except Exception as exc:
            raise UpstreamAuth(
                f"could not get an Entra ID token ({type(exc).__name__}); run 'az login' or set "
                "AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET"
            ) from None


def _default_credential() -> TokenCredential:
    """azure-identity's ``DefaultAzureCredential`` (``az login``, or ``AZURE_TENANT_ID``/
    ``AZURE_CLIENT_ID``/``AZURE_CLIENT_SECRET``); a missing package is found at start-up."""
    try:
        from azure.identity import DefaultAzureCredential
    except ImportError:
        raise ConfigError(
            "no AZURE_OPENAI_KEY is set and azure-identity is not installed: set a key or "
            "pip install 'speech-realtime[azure]' for Entra ID"
        ) from None
    return DefaultAzureCredential()


def auth_for(settings: Settings, credential: TokenCredential | None = None) -> Auth:
    """The credentials the configured backend is reached with."""
    if settings.backend == "azure":
        if settings.azure_key:
            return HeaderAuth("api-key", "api-key", settings.azure_key)
        return EntraIdAuth(credential if credential is not None else _default_credential())
    if settings.backend == "openai" and settings.openai_api_key:
        return HeaderAuth("bearer", "Authorization", f"Bearer {settings.openai_api_key}")
    return NoAuth()
