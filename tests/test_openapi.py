"""/openapi.json and /docs: every route declared, the document valid OpenAPI 3.1 with each
family's keys and error shape, the checks reading the declared fields, Swagger UI served locally."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import replace

import pytest
import schemathesis
from flask import Flask
from loopback import serve

from speech_realtime.config import Settings
from speech_realtime.web import create_app
from speech_realtime.web.contract import openai as openai_contract
from speech_realtime.web.contract import reference as reference_contract
from speech_realtime.web.contract.document import (
    INTERNAL_ENDPOINTS,
    openapi_document,
    openapi_path,
    undeclared,
)
from speech_realtime.web.contract.operations import REFERENCE, Operation, Reply, documented

KEY = "inbound-key-for-the-contract"
AUTOMATIC = {"HEAD", "OPTIONS"}


@pytest.fixture
def document(app: Flask) -> dict:
    return app.test_client().get("/openapi.json").get_json()


def _operation(document: dict, path: str, method: str) -> dict:
    return document["paths"][path][method]


def test_every_url_rule_has_a_declaration(app: Flask) -> None:
    missing = [f"{sorted(rule.methods or ())} {rule.rule} ({rule.endpoint})" for rule in undeclared(app)]
    assert not missing, (
        "routes without an OpenAPI declaration (add @documented(Operation(...)) under the route "
        f"decorator, see speech_realtime/web/contract/__init__.py): {missing}"
    )


def test_every_url_rule_and_method_is_in_the_document(app: Flask, document: dict) -> None:
    for rule in app.url_map.iter_rules():
        if rule.endpoint in INTERNAL_ENDPOINTS:
            continue
        path = openapi_path(rule.rule)
        assert path in document["paths"], rule.rule
        for method in (rule.methods or set()) - AUTOMATIC:
            assert method.lower() in document["paths"][path], f"{method} {rule.rule}"


def test_a_route_without_a_declaration_is_named(app: Flask) -> None:
    app.add_url_rule("/new/route", "new_route", lambda: "x")
    assert [rule.rule for rule in undeclared(app)] == ["/new/route"]
    declared = Operation(REFERENCE, "A new route", (Reply(200, "Yes."),))
    app.add_url_rule("/new/declared", "new_declared", documented(declared)(lambda: "x"))
    assert [rule.rule for rule in undeclared(app)] == ["/new/route"]
    assert "/new/declared" in openapi_document(app)["paths"]


def test_the_document_is_valid_openapi_3_1(document: dict) -> None:
    assert document["openapi"] == "3.1.0"
    schemathesis.openapi.from_dict(document).validate()


def test_every_family_and_prefix_is_described(document: dict) -> None:
    paths = document["paths"]
    for path in (
        "/api/speech-realtime/recognize",
        "/api/speech/synthesize",  # the legacy prefix, from the same declarations
        "/v1/audio/transcriptions",
        "/v1/models/{model}",
        "/cognitiveservices/v1",
        "/cognitiveservices/voices/list",
        "/speech/recognition/conversation/cognitiveservices/v1",
        "/sts/v1.0/issueToken",
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
        "/docs",
    ):
        assert path in paths, path
    assert (
        paths["/api/speech/synthesize"]["post"]["requestBody"]
        == paths["/api/speech-realtime/synthesize"]["post"]["requestBody"]
    )


def test_websocket_routes_are_a_get_with_101(document: dict) -> None:
    upgrade = _operation(document, "/speech/recognition/interactive/cognitiveservices/v1", "get")
    assert upgrade["x-websocket"] is True
    assert {"101", "400", "401", "426"} <= set(upgrade["responses"])
    # the same path's REST recognition stays a POST
    assert "x-websocket" not in _operation(
        document, "/speech/recognition/interactive/cognitiveservices/v1", "post"
    )


@pytest.mark.parametrize(
    ("path", "method", "schemes", "media", "schema"),
    [
        (
            "/api/speech-realtime/synthesize",
            "post",
            ["apiKey", "bearer"],
            "application/json",
            "ReferenceError",
        ),
        ("/v1/audio/speech", "post", ["bearer"], "application/json", "OpenAIError"),
        ("/cognitiveservices/v1", "post", ["subscriptionKey", "azureToken"], "text/plain", "AzureError"),
        ("/metrics", "get", ["apiKey", "bearer"], "application/json", "ReferenceError"),
    ],
)
def test_each_family_has_its_keys_and_error_shape(document, path, method, schemes, media, schema) -> None:
    operation = _operation(document, path, method)
    assert [next(iter(alternative)) for alternative in operation["security"]] == schemes
    assert set(schemes) <= set(document["components"]["securitySchemes"])
    unauthorized = operation["responses"]["401"]["content"]
    assert unauthorized == {media: {"schema": {"$ref": f"#/components/schemas/{schema}"}}}


def test_healthz_is_open_and_upstream_routes_document_upstream_errors(document: dict) -> None:
    assert _operation(document, "/healthz", "get")["security"] == []
    responses = _operation(document, "/api/speech-realtime/recognize", "post")["responses"]
    assert {"400", "401", "403", "413", "415", "429", "502", "503", "504"} <= set(responses)
    assert "Retry-After" in responses["503"]["headers"]


def test_the_document_shows_the_fields_the_checks_read(document: dict, client) -> None:
    """The bounds in the document are the ones enforced: the same Field objects."""
    speech = _operation(document, "/v1/audio/speech", "post")["requestBody"]["content"]["application/json"][
        "schema"
    ]
    assert speech["properties"]["input"]["maxLength"] == openai_contract.INPUT.max_length == 4096
    assert speech["properties"]["speed"]["maximum"] == openai_contract.SPEED.maximum
    assert speech["required"] == ["input"]
    too_fast = client.post(
        "/v1/audio/speech", json={"input": "hi", "speed": openai_contract.SPEED.maximum + 0.5}
    )
    assert too_fast.status_code == 400 and too_fast.json["error"]["param"] == "speed"
    too_long = client.post("/v1/audio/speech", json={"input": "a" * (openai_contract.INPUT.max_length + 1)})
    assert too_long.json["error"]["code"] == "string_above_max_length"
    recognize = _operation(document, "/api/speech-realtime/recognize", "post")["requestBody"]["content"]
    assert recognize["application/json"]["schema"]["required"] == [reference_contract.AUDIO_DATA.name]
    assert recognize["multipart/form-data"]["schema"]["properties"]["file"]["format"] == "binary"


def test_an_ignored_azure_header_no_longer_hides_a_bad_body_field(client) -> None:
    response = client.post(
        "/api/speech-realtime/synthesize",
        json={"text": "hi", "sampleRate": 10**7},
        headers={"X-Microsoft-OutputFormat": "riff-16khz-16bit-mono-pcm"},
    )
    assert response.status_code == 400
    assert response.json["error"]["param"] == "sampleRate"


def test_docs_renders_the_document_from_local_assets(client) -> None:
    page = client.get("/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "http://" not in html and "https://" not in html  # no CDN
    assert 'url: "openapi.json"' in html
    script = client.get("/docs/swagger-ui-bundle.js")
    assert script.status_code == 200 and b"SwaggerUIBundle" in script.data
    assert client.get("/docs/swagger-ui.css").status_code == 200
    missing = client.get("/docs/../../etc/passwd")
    assert missing.status_code == 404
    assert client.get("/docs/index.html").status_code == 404  # only the listed assets


def test_openapi_and_docs_need_a_key_when_keys_are_set(settings: Settings) -> None:
    keyed = create_app(replace(settings, api_keys=(KEY,)))
    client = keyed.test_client()
    for path in ("/openapi.json", "/docs", "/docs/swagger-ui.css"):
        assert client.get(path).status_code == 401, path
        assert client.get(path, headers={"X-API-Key": KEY}).status_code == 200, path
    opened = create_app(replace(settings, api_keys=(KEY,), ops_open=True)).test_client()
    assert opened.get("/openapi.json").status_code == 200


@pytest.mark.subprocess
@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs chromium")
def test_a_browser_renders_every_family_on_the_docs_page(app: Flask, tmp_path) -> None:
    """Headless Chromium loads /docs from this service alone and Swagger UI lists the routes."""
    with serve(app) as base:
        rendered = subprocess.run(
            [
                "chromium",
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                f"--user-data-dir={tmp_path}",
                "--virtual-time-budget=10000",
                "--dump-dom",
                f"{base}/docs",
            ],
            capture_output=True,
            text=True,
            timeout=90,
        ).stdout
    assert "OAS 3.1" in rendered
    for path in ("/api/speech-realtime/recognize", "/v1/audio/speech", "/cognitiveservices/v1", "/healthz"):
        assert path in rendered, path
