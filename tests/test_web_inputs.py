"""Shared request parsing (web/inputs): bounded bodies, chunked ones included, and typed fields."""

from __future__ import annotations

import base64
import http.client
import io
import json
from collections.abc import Iterator

import pytest
from loopback import serve

from speech_realtime.errors import BadRequest, UnsupportedMedia
from speech_realtime.web import create_app
from speech_realtime.web.contract.fields import Field
from speech_realtime.web.inputs import UploadFields, decode_base64, field, integer, upload

LIMIT = 4096
CHUNKED = {"headers": {"Transfer-Encoding": "chunked"}, "environ_overrides": {"wsgi.input_terminated": True}}


@pytest.fixture
def small_app(settings):
    """The app with a 4 KiB body limit."""
    return create_app(settings.with_changes(max_body_bytes=LIMIT))


def chunked(client, path: str, body: bytes, content_type: str):
    """POST ``body`` with no Content-Length, as a server hands on a chunked request."""
    return client.post(path, input_stream=io.BytesIO(body), content_type=content_type, **CHUNKED)


def multipart(audio: bytes) -> tuple[bytes, str]:
    boundary = "b0undary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.pcm"\r\n'
            "Content-Type: audio/pcm\r\n\r\n"
        ).encode()
        + audio
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


OVERSIZED = [
    ("json", json.dumps({"audioData": "A" * 2 * LIMIT}).encode(), "application/json"),
    ("raw", bytes(2 * LIMIT), "audio/pcm; rate=8000"),
    ("multipart", *multipart(bytes(2 * LIMIT))),
]


@pytest.mark.parametrize(("kind", "body", "content_type"), OVERSIZED, ids=[o[0] for o in OVERSIZED])
def test_a_chunked_body_over_the_limit_is_413_not_truncated(small_app, upstream, kind, body, content_type):
    response = chunked(small_app.test_client(), "/api/speech-realtime/recognize", body, content_type)
    assert response.status_code == 413, response.json
    assert response.json["error"] == {
        "code": "payload_too_large",
        "message": f"the request body is larger than the limit of {LIMIT} bytes",
        "param": "body",
    }
    assert upstream.connections == 0


@pytest.mark.parametrize(("kind", "body", "content_type"), OVERSIZED, ids=[o[0] for o in OVERSIZED])
def test_a_declared_body_over_the_limit_is_413_alike(small_app, upstream, kind, body, content_type):
    client = small_app.test_client()
    response = client.post("/api/speech-realtime/recognize", data=body, content_type=content_type)
    assert response.status_code == 413
    assert response.json["error"]["message"] == f"the request body is larger than the limit of {LIMIT} bytes"
    assert upstream.connections == 0


def test_a_chunked_body_one_byte_over_the_limit_is_413(small_app, upstream) -> None:
    client = small_app.test_client()
    response = chunked(client, "/api/speech-realtime/recognize", bytes(LIMIT + 2), "audio/pcm; rate=8000")
    assert response.status_code == 413
    assert upstream.connections == 0


def test_a_chunked_body_at_the_limit_is_accepted(small_app, upstream) -> None:
    client = small_app.test_client()
    response = chunked(client, "/api/speech-realtime/recognize", bytes(LIMIT), "audio/pcm; rate=8000")
    assert response.status_code == 200, response.json
    sent = upstream.client_events("input_audio_buffer.append")
    assert sum(len(base64.b64decode(e["audio"])) for e in sent) > 0


@pytest.fixture
def served(small_app) -> Iterator[str]:
    """The app on a real werkzeug server on 127.0.0.1, port chosen by the OS."""
    with serve(small_app) as base:
        yield base.removeprefix("http://")


def test_a_real_chunked_request_over_the_limit_is_413(served, upstream) -> None:
    connection = http.client.HTTPConnection(served, timeout=5)
    body = json.dumps({"audioData": "A" * 3 * LIMIT}).encode()
    chunks = (body[i : i + 1000] for i in range(0, len(body), 1000))
    connection.request(
        "POST",
        "/api/speech-realtime/recognize",
        body=chunks,
        headers={"Content-Type": "application/json"},
        encode_chunked=True,
    )
    response = connection.getresponse()
    assert response.status == 413
    assert json.loads(response.read())["error"]["code"] == "payload_too_large"
    assert upstream.connections == 0
    connection.close()


# -- field checks ------------------------------------------------------------------------------


def test_field_types_and_the_semantic_param() -> None:
    body = {"speed": 2, "flag": True, "name": "x", "count": True}
    assert field(body, "speed", float) == 2.0
    assert field(body, "flag", bool) is True
    assert field(body, "missing", str) is None
    with pytest.raises(BadRequest) as missing:
        field(body, "voice", str, required=True, param="voice")
    assert (missing.value.code, missing.value.param) == ("missing_field", "voice")
    with pytest.raises(BadRequest) as wrong:
        field(body, "count", int, param="channels")
    assert (wrong.value.code, wrong.value.param) == ("invalid_field", "channels")
    assert "'count' must be an integer" in wrong.value.message


@pytest.mark.parametrize(("value", "expected"), [(None, None), ("", None), (16000, 16000), (" 8000 ", 8000)])
def test_integer_accepts_numbers_and_text(value, expected) -> None:
    assert integer(value, "sampleRate") == expected


@pytest.mark.parametrize("value", [True, 1.5, "12abc", "1e5", "9" * 40, [1]])
def test_integer_refuses_anything_else(value) -> None:
    with pytest.raises(BadRequest) as error:
        integer(value, "sampleRate", param="rate")
    assert (error.value.code, error.value.param) == ("invalid_field", "rate")


def test_base64_errors_name_the_clients_field() -> None:
    with pytest.raises(BadRequest) as error:
        decode_base64("!!", "audio_b64")
    assert error.value.param == "audio"
    assert "'audio_b64'" in error.value.message


def test_an_upload_with_a_familys_own_field_names(settings) -> None:
    app = create_app(settings)
    fields = UploadFields(
        data=None,
        file=Field("audio", "string", required=True, param="audio"),
        format=None,
        rate=Field("sample_rate", "integer", param="rate"),
        channels=None,
    )
    body, content_type = multipart(bytes(100))
    body = body.replace(b'name="file"', b'name="audio"')
    body = body.replace(
        b"--b0undary--",
        b'--b0undary\r\nContent-Disposition: form-data; name="sample_rate"\r\n\r\n8000\r\n'
        b'--b0undary\r\nContent-Disposition: form-data; name="model"\r\n\r\nwhisper-1\r\n--b0undary--',
    )
    with app.test_request_context("/x", method="POST", data=body, content_type=content_type):
        got = upload(fields)
    assert (got.data, got.label, got.rate, got.channels) == (bytes(100), "pcm16", 8000, 1)
    assert got.form["model"] == "whisper-1"
    request = app.test_request_context("/x", method="POST", json={"audioData": "AAAA"})
    with request, pytest.raises(UnsupportedMedia) as refused:
        upload(fields)
    assert "a multipart upload with a 'audio' field" in refused.value.message


def test_a_raw_body_names_its_rate_as_rate_or_samplerate(client, upstream) -> None:
    for params in ("rate=16000", "samplerate=16000", "SampleRate=16000"):
        response = client.post(
            "/api/speech-realtime/recognize", data=bytes(32000), content_type=f"audio/pcm; {params}"
        )
        assert response.status_code == 200, (params, response.json)
        assert response.json["duration"] == 1.0
    refused = client.post(
        "/api/speech-realtime/recognize", data=bytes(32000), content_type="audio/pcm; rate=fast"
    )
    assert refused.status_code == 400
    assert refused.json["error"]["param"] == "sampleRate"
    assert "'rate'" in refused.json["error"]["message"]


@pytest.mark.parametrize(
    "text",
    [
        "aGVsbG8gd29ybGQ=",
        "aGVsbG8g\r\nd29y bG\tQ=\n",
        "data:audio/wav;base64,aGVsbG8gd29ybGQ=",
        "DATA:;base64,aGVs\nbG8gd29ybGQ=",
    ],
)
def test_base64_may_carry_line_breaks_and_a_data_url_prefix(text: str) -> None:
    assert decode_base64(text, "audioData") == b"hello world"


@pytest.mark.parametrize("text", ["aGVsbG8=d29ybGQ=x", "data:audio/wav;base64,!!", "aGVsbG8gd29ybGQ=\u00e9"])
def test_base64_that_does_not_decode_either_way_is_refused(text: str) -> None:
    with pytest.raises(BadRequest):
        decode_base64(text, "audioData")
