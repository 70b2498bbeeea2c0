"""Fixtures for the OpenAI audio API: the app served on a real loopback port, and SDK clients.

The official ``openai`` client talks HTTP (httpx), so the app runs on a loopback port
(:func:`loopback.serve`); every client has a timeout and no retries, so a hang fails fast.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from loopback import serve
from openai import OpenAI

CLIENT_TIMEOUT = 15.0
ENGINE_TIMEOUT = 120.0


@pytest.fixture
def openai_served(app) -> Iterator[str]:
    """The app over the scripted upstream, on a loopback port: ``http://127.0.0.1:PORT``."""
    with serve(app) as base:
        yield base


def sdk_client(base: str, timeout: float) -> OpenAI:
    """The official SDK pointed at the service at ``base`` (any bearer token: it is ignored)."""
    return OpenAI(base_url=f"{base}/v1", api_key="sk-anything", timeout=timeout, max_retries=0)


@pytest.fixture
def openai_client(openai_served: str) -> Iterator[OpenAI]:
    with sdk_client(openai_served, CLIENT_TIMEOUT) as client:
        yield client


@pytest.fixture
def engine_served(engine_app) -> Iterator[str]:
    """The app over the offline engine, on a loopback port."""
    with serve(engine_app) as base:
        yield base


@pytest.fixture
def engine_openai_client(engine_served: str) -> Iterator[OpenAI]:
    with sdk_client(engine_served, ENGINE_TIMEOUT) as client:
        yield client
