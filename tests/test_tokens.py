"""Issued tokens: signed with a dedicated secret, naming their caller, expiring."""

from __future__ import annotations

import time

from speech_realtime.tokens import TOKEN_LIFETIME, issue_token, new_secret, token_claims, verify_token


def test_a_token_names_its_caller_and_expires() -> None:
    secret = new_secret()
    token = issue_token(secret, subject="caller-1")
    claims = token_claims(token, secret)
    assert claims is not None and claims["sub"] == "caller-1"
    assert claims["exp"] - claims["iat"] == TOKEN_LIFETIME
    assert token_claims(token, secret, now=time.time() + TOKEN_LIFETIME + 1) is None
    assert "sub" not in (token_claims(issue_token(secret), secret) or {})


def test_secrets_are_random_and_tokens_verify_only_with_theirs() -> None:
    one, two = new_secret(), new_secret()
    assert one != two and len(one) == 32
    token = issue_token(one, subject="x")
    assert verify_token(token, one)
    assert not verify_token(token, two)
