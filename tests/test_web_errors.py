"""One error handler, one envelope per API family: chosen by blueprint or by path prefix."""

from __future__ import annotations

import logging

import pytest
from flask import Blueprint, Response, jsonify

from speech_realtime.errors import BadRequest, RateLimited
from speech_realtime.web import create_app
from speech_realtime.web.errors import ErrorInfo, register_family


def render_family(error: ErrorInfo) -> Response:
    """A family envelope unlike the reference's, naming its own fields."""
    names = {"voice": "voice_id", "audio": "file"}
    response = jsonify({"fault": error.code, "why": error.message, "field": names.get(error.param or "")})
    response.status_code = error.status
    response.headers.update(dict(error.headers))
    return response


@pytest.fixture
def client(settings):
    app = create_app(settings)
    family = Blueprint("family", __name__, url_prefix="/family/v2")

    @family.post("/speak")
    def speak():
        raise BadRequest("unknown voice", code="invalid_voice", param="voice")

    @family.get("/busy")
    def busy():
        raise RateLimited("slow down", retry_after=7)

    @family.get("/boom")
    def boom():
        raise KeyError("secret detail")

    outside = Blueprint("family_socket", __name__)

    @outside.get("/family-socket")
    def family_socket():
        raise BadRequest("not here", param="audio")

    register_family(family, ("/family/v2",), render_family)
    register_family(outside, (), render_family)
    app.register_blueprint(family)
    app.register_blueprint(outside)
    register_family(app, ("/family/v2/legacy",), lambda error: Response("legacy", error.status))
    return app.test_client()


def test_a_service_error_in_a_familys_route_uses_its_envelope_and_field_names(client) -> None:
    response = client.post("/family/v2/speak")
    assert response.status_code == 400
    assert response.json == {"fault": "invalid_voice", "why": "unknown voice", "field": "voice_id"}


def test_unknown_paths_and_wrong_methods_under_a_prefix_use_its_envelope(client) -> None:
    missing = client.get("/family/v2/nothing")
    assert (missing.status_code, missing.json["fault"]) == (404, "not_found")
    wrong = client.get("/family/v2/speak")
    assert (wrong.status_code, wrong.json["fault"]) == (405, "method_not_allowed")
    assert "POST" in wrong.headers["Allow"]
    bare = client.get("/family/v2")
    assert bare.json["fault"] == "not_found"


def test_prefixes_match_whole_segments_and_the_longest_wins(client) -> None:
    lookalike = client.get("/family/v2x")
    assert lookalike.json["error"]["code"] == "not_found"  # the reference envelope
    assert client.get("/family/v2/legacy/old").get_data() == b"legacy"


def test_a_blueprint_family_applies_to_its_routes_whatever_their_path(client) -> None:
    response = client.get("/family-socket")
    assert response.json["field"] == "file"


def test_headers_of_the_error_are_kept(client) -> None:
    response = client.get("/family/v2/busy")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"


def test_an_unexpected_error_is_a_500_in_the_familys_envelope_logged_once(client, caplog) -> None:
    with caplog.at_level(logging.ERROR):
        response = client.get("/family/v2/boom")
    assert response.status_code == 500
    assert response.json["fault"] == "internal_error"
    assert "secret detail" not in response.get_data(as_text=True)
    assert [r.exc_info[0] for r in caplog.records if r.exc_info] == [KeyError]


def test_the_reference_envelope_names_the_field_in_its_own_words(client, upstream) -> None:
    response = client.post("/api/speech-realtime/synthesize", json={"text": "Hi.", "voiceName": "nobody"})
    assert response.status_code == 400
    assert response.json["error"]["param"] == "voiceName"
    assert upstream.connections == 0


def test_a_family_registered_twice_under_another_name_keeps_its_envelope(settings) -> None:
    app = create_app(settings)
    family = Blueprint("twice", __name__)

    @family.get("/fails")
    def fails():
        raise BadRequest("no", param="voice")

    register_family(family, (), render_family)
    app.register_blueprint(family, url_prefix="/one")
    app.register_blueprint(family, url_prefix="/two", name="twice_again")
    client = app.test_client()
    assert client.get("/one/fails").json["field"] == "voice_id"
    assert client.get("/two/fails").json["field"] == "voice_id"


def test_a_failing_renderer_falls_back_to_the_reference_envelope(settings, caplog) -> None:
    app = create_app(settings)

    def broken(error: ErrorInfo) -> Response:
        raise ValueError("renderer bug")

    register_family(app, ("/broken",), broken)
    with caplog.at_level(logging.ERROR):
        response = app.test_client().get("/broken/anything")
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"
    assert "renderer" in caplog.text
