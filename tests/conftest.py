"""Fixtures: a scripted Realtime server on loopback, and ``settings -> app -> client`` over it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from realtime_server import ScriptedRealtimeServer
from relay_upstream import ConversationServer

from speech_realtime.config import Settings
from speech_realtime.web import create_app

API_KEY = "sk-test-SECRET-do-not-leak-1234"
PREVIEW_VERSION = "2025-04-01-preview"


@pytest.fixture(scope="session")
def realtime_server() -> Iterator[ScriptedRealtimeServer]:
    server = ScriptedRealtimeServer().start()
    yield server
    server.stop()


@pytest.fixture
def upstream(realtime_server: ScriptedRealtimeServer) -> ScriptedRealtimeServer:
    """The scripted server, reset to its default script for this test."""
    realtime_server.reset()
    return realtime_server


pytest_plugins: list[str] = ["openai_fixtures", "engine_fixtures", "azure_sdk_fixtures"]

MODEL_FIXTURES = {"models", "engine", "engine_settings", "engine_app", "engine_client"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that use the real neural models are marked ``models``, so the fast set skips them."""
    for item in items:
        if MODEL_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.models)


@pytest.fixture
def dialect() -> str:
    """The GA dialect; tests where the protocol differs parametrize ``dialect`` with both."""
    return "ga"


@pytest.fixture
def settings(upstream: ScriptedRealtimeServer, dialect: str) -> Settings:
    env = {
        "AZURE_OPENAI_ENDPOINT": upstream.url + "/",
        "AZURE_OPENAI_KEY": API_KEY,
        "AZURE_OPENAI_REALTIME_DEPLOYMENT": "gpt-realtime-test",
        "SPEECH_REQUEST_TIMEOUT": "2",
        "SPEECH_CONNECT_TIMEOUT": "2",
    }
    if dialect == "preview":
        env["AZURE_OPENAI_API_VERSION"] = PREVIEW_VERSION
    return Settings.from_mapping(env)


@pytest.fixture
def app(settings: Settings):
    app = create_app(settings)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def client(app):
    return app.test_client()


# -- the local engine, with the real models loaded once for the whole run -----------------------


@pytest.fixture(scope="session")
def models():
    from speech_realtime.engine.models import shared_models

    shared = shared_models()
    shared.warm_up()
    return shared


@pytest.fixture(scope="session")
def engine(models):
    from speech_realtime.engine.server import EngineServer

    server = EngineServer(models=models).start()
    yield server
    server.stop()


@pytest.fixture
def engine_settings(engine) -> Settings:
    return Settings.from_mapping({"SPEECH_ENGINE_URL": engine.url, "SPEECH_REQUEST_TIMEOUT": "60"})


@pytest.fixture
def engine_app(engine_settings):
    app = create_app(engine_settings)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def engine_client(engine_app):
    return engine_app.test_client()


@pytest.fixture(scope="session")
def conversation_server() -> Iterator[ConversationServer]:
    """A scripted upstream that holds a conversation (the relay's tests)."""
    server = ConversationServer().start()
    yield server
    server.stop()
