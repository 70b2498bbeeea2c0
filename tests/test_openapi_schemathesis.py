"""schemathesis against the running service: every operation of /openapi.json, with data that
fits the contract (positive) and data that breaks it (negative), over the scripted upstream and
over the offline engine (``models``).

Checks: every status is documented, every body and header conforms to its schema and media
type, data that violates the contract gets a 4xx, and a 5xx is only a documented upstream
answer (upstream_*, saturated) in the family's shape. The budget is bounded per operation.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from loopback import serve
from schemathesis import GenerationMode
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi import checks as openapi_checks

from speech_realtime.config import Settings
from speech_realtime.web import create_app

KEY = "inbound-key-for-schemathesis"
#: Every family's header: the reference's X-API-Key, OpenAI's bearer, Azure's subscription key.
HEADERS = {"X-API-Key": KEY, "Authorization": f"Bearer {KEY}", "Ocp-Apim-Subscription-Key": KEY}
#: The codes a documented 5xx may carry: the backend's failures and a full service.
UPSTREAM_CODES = {
    "upstream_error",
    "upstream_auth",
    "upstream_config",
    "upstream_unavailable",
    "upstream_timeout",
    "saturated",
}
#: Azure's errors are plain text; their 5xx say what failed in words.
AZURE_UPSTREAM_WORDS = ("upstream", "backend", "session", "service")

# Raw audio bodies (``audio/*``) are bytes, as application/octet-stream.
schemathesis.serializer.alias("audio/*", "application/octet-stream")


def _upstream_server_errors_only(document: dict[str, Any]) -> Any:
    """A check: a 5xx must be documented for its operation and be an upstream failure (or a
    full service, or a documented 501 for what the backend lacks), never an internal error."""

    def check(ctx: Any, response: Any, case: Any) -> None:
        if response.status_code < 500:
            return
        if response.status_code == 501:  # documented where a backend lacks the route (WebRTC on the engine)
            assert "501" in document["paths"][case.operation.path][case.method.lower()]["responses"]
            return
        documented = document["paths"][case.operation.path][case.method.lower()]["responses"]
        assert str(response.status_code) in documented, f"undocumented {response.status_code}"
        text = response.text
        if response.headers.get("content-type", [""])[0].startswith("application/json"):
            payload = json.loads(text)
            code = (payload.get("error") or payload.get("reason"))["code"]  # an error, or /readyz's reason
            assert code in UPSTREAM_CODES, f"{response.status_code} {code}: not an upstream failure"
        else:
            assert any(word in text.lower() for word in AZURE_UPSTREAM_WORDS), text[:200]

    return check


def run_contract(base: str, mode: GenerationMode, examples: int, timeout: float) -> list[str]:
    """Every operation of the served document, ``examples`` generated cases each (and the
    document's own examples); the failures, each with schemathesis' report."""
    document = requests.get(base + "/openapi.json", headers=HEADERS, timeout=timeout).json()
    checks = [
        _upstream_server_errors_only(document),
        openapi_checks.status_code_conformance,
        openapi_checks.content_type_conformance,
        openapi_checks.response_headers_conformance,
        openapi_checks.response_schema_conformance,
        openapi_checks.negative_data_rejection,
    ]
    schema = schemathesis.openapi.from_dict(document)
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy(generation_mode=mode, headers=HEADERS))
        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
            phases=[Phase.explicit, Phase.generate],
        )
        def exercise(case: Any) -> None:
            response = case.call(base_url=base, timeout=timeout)
            case.validate_response(response, checks=checks)

        try:
            exercise()
        except Unsatisfiable:
            continue  # nothing of this operation can be made invalid (no parameters, no body)
        except (Exception, FailureGroup) as failure:
            failures.append(f"{operation.method.upper()} {operation.path}: {failure}")
    return failures


def _served(env: dict[str, str]) -> Iterator[str]:
    with serve(create_app(Settings.from_mapping({**env, "SPEECH_API_KEYS": KEY}))) as base:
        yield base


@pytest.fixture
def scripted_base(upstream) -> Iterator[str]:
    """The service with one inbound key over the scripted upstream, on a loopback port."""
    yield from _served(
        {
            "AZURE_OPENAI_ENDPOINT": upstream.url + "/",
            "AZURE_OPENAI_KEY": "sk-upstream-key",
            "AZURE_OPENAI_REALTIME_DEPLOYMENT": "gpt-realtime-test",
            "SPEECH_REQUEST_TIMEOUT": "5",
            "SPEECH_CONNECT_TIMEOUT": "2",
        }
    )


@pytest.fixture
def engine_base(engine) -> Iterator[str]:
    """The service with one inbound key over the offline engine (real models)."""
    yield from _served({"SPEECH_ENGINE_URL": engine.url, "SPEECH_REQUEST_TIMEOUT": "60"})


MODES = [
    pytest.param(GenerationMode.POSITIVE, id="positive"),
    pytest.param(GenerationMode.NEGATIVE, id="negative"),
]


@pytest.mark.parametrize("mode", MODES)
def test_the_service_keeps_its_contract_over_the_scripted_upstream(scripted_base: str, mode) -> None:
    failures = run_contract(scripted_base, mode, examples=6, timeout=30)
    assert not failures, "\n\n".join(failures)


def test_a_failing_upstream_answers_only_documented_upstream_errors(scripted_base: str, upstream) -> None:
    upstream.script.handshake_status = 500
    failures = run_contract(scripted_base, GenerationMode.POSITIVE, examples=3, timeout=30)
    assert not failures, "\n\n".join(failures)


@pytest.mark.parametrize("mode", MODES)
def test_the_service_keeps_its_contract_over_the_offline_engine(engine_base: str, mode) -> None:
    failures = run_contract(engine_base, mode, examples=3, timeout=120)
    assert not failures, "\n\n".join(failures)
