"""Fixtures for the OpenAI audio API: the app served on a real loopback port, and SDK clients.

The official ``openai`` client talks HTTP (httpx), so the app runs on a threaded werkzeug
server on ``127.0.0.1:0``; every client has a timeout and no retries, so a hang fails fast.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from openai import OpenAI
from werkzeug.serving import make_server

CLIENT_TIMEOUT = 15.0
ENGINE_TIMEOUT = 120.0


@contextmanager
def serve(app) -> Iterator[str]:
    """Serve ``app`` on a loopback port while the context is open; gives the base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    # A short poll interval: shutdown() waits for the loop to look, 0.5 s per test by default.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def openai_served(app) -> Iterator[str]:
    """The app over the scripted upstream, on a loopback port: ``http://127.0.0.1:PORT``."""
    with serve(app) as base:
        yield base


@pytest.fixture
def openai_client(openai_served: str) -> Iterator[OpenAI]:
    """The official SDK pointed at the service (the key is any bearer token: it is ignored)."""
    with OpenAI(
        base_url=f"{openai_served}/v1", api_key="sk-anything", timeout=CLIENT_TIMEOUT, max_retries=0
    ) as client:
        yield client


@pytest.fixture
def engine_served(engine_app) -> Iterator[str]:
    """The app over the offline engine, on a loopback port."""
    with serve(engine_app) as base:
        yield base


@pytest.fixture
def engine_openai_client(engine_served: str) -> Iterator[OpenAI]:
    with OpenAI(
        base_url=f"{engine_served}/v1", api_key="sk-anything", timeout=ENGINE_TIMEOUT, max_retries=0
    ) as client:
        yield client
