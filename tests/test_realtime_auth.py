"""Credentials: keys as headers, Entra ID tokens cached and refreshed before expiry."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from speech_realtime.config import Settings
from speech_realtime.errors import ConfigError, UpstreamAuth
from speech_realtime.realtime.auth import ENTRA_SCOPE, EntraIdAuth, auth_for


@dataclass
class Token:
    token: str
    expires_on: int


class FakeCredential:
    """Stands in for azure-identity's credential, which needs Entra ID on the network."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def get_token(self, scope: str) -> Token:
        self.calls.append(scope)
        return Token(f"token-{len(self.calls)}", expires_on=1000 + 3600 * len(self.calls))


class Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_azure_key_goes_in_the_api_key_header() -> None:
    settings = Settings.from_mapping({"AZURE_OPENAI_ENDPOINT": "https://r", "AZURE_OPENAI_KEY": "SECRET"})
    auth = auth_for(settings)
    assert auth.headers() == {"api-key": "SECRET"}
    assert "SECRET" not in repr(auth)


def test_openai_key_is_a_bearer_token() -> None:
    assert auth_for(Settings.from_mapping({"OPENAI_API_KEY": "sk"})).headers() == {
        "Authorization": "Bearer sk"
    }


def test_azure_without_key_uses_entra_id() -> None:
    auth = auth_for(Settings.from_mapping({"AZURE_OPENAI_ENDPOINT": "https://r"}), FakeCredential())
    assert auth.mode == "entra-id"
    assert auth.headers() == {"Authorization": "Bearer token-1"}


def test_entra_token_is_cached_then_refreshed_five_minutes_before_expiry() -> None:
    credential, clock = FakeCredential(), Clock()
    auth = EntraIdAuth(credential, clock=clock)
    assert auth.headers()["Authorization"] == "Bearer token-1"
    clock.now = 1000 + 3600 - 301
    assert auth.headers()["Authorization"] == "Bearer token-1"
    clock.now = 1000 + 3600 - 299
    assert auth.headers()["Authorization"] == "Bearer token-2"
    assert credential.calls == [ENTRA_SCOPE, ENTRA_SCOPE]


def test_entra_failure_is_upstream_auth_with_a_hint() -> None:
    class Broken:
        def get_token(self, scope: str) -> Token:
            raise RuntimeError("secret-bearing internals")

    with pytest.raises(UpstreamAuth, match="az login") as caught:
        EntraIdAuth(Broken()).headers()
    assert "secret-bearing" not in caught.value.message


def test_entra_id_without_azure_identity_fails_at_start_up(monkeypatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_azure(name, *args, **kwargs):
        if name.startswith("azure.identity"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_azure)
    with pytest.raises(ConfigError, match="azure-identity"):
        auth_for(Settings.from_mapping({"AZURE_OPENAI_ENDPOINT": "https://r"}))
