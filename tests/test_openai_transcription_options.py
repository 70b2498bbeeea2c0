"""``include[]=logprobs``, ``chunking_strategy`` and ``keywords[]`` on ``/v1/audio/transcriptions``,
with the official ``openai`` SDK over the scripted upstream (realtime sessions; the
transcription-only deployment is in ``test_transcription_deployment``)."""

from __future__ import annotations

import dataclasses
import io
import json

import openai
import pytest
from loopback import serve
from openai_fixtures import CLIENT_TIMEOUT, sdk_client
from test_openai_audio import TRANSCRIPT, WAV, speech_session, transcribe
from transcription_server import WORD_LOGPROB

from speech_realtime.errors import BadRequest
from speech_realtime.options import MAX_KEYWORD_CHARS, MAX_KEYWORDS, RecognitionOptions, Segmentation
from speech_realtime.web import create_app
from speech_realtime.web.openai_requests import transcription_request

LOGPROBS_MODEL = "gpt-4o-mini-transcribe"


@pytest.fixture
def logprobs_client(settings, upstream):
    """The SDK against a GA realtime deployment whose transcription model gives logprobs."""
    app = create_app(dataclasses.replace(settings, transcribe_model=LOGPROBS_MODEL))
    with serve(app) as base, sdk_client(base, CLIENT_TIMEOUT) as client:
        yield client


def test_logprobs_on_a_realtime_session(logprobs_client, upstream) -> None:
    result = transcribe(logprobs_client, include=["logprobs"])
    assert result.text == TRANSCRIPT
    assert [p.token for p in result.logprobs] == TRANSCRIPT.split()
    assert {p.logprob for p in result.logprobs} == {WORD_LOGPROB}
    session = speech_session(upstream)
    assert session["type"] == "realtime"
    assert session["include"] == ["item.input_audio_transcription.logprobs"]


def test_no_logprobs_unless_asked(logprobs_client, upstream) -> None:
    result = transcribe(logprobs_client)
    assert getattr(result, "logprobs", None) is None
    assert "include" not in speech_session(upstream)


@pytest.mark.parametrize(
    "options",
    [
        {"include": ["logprobs"], "response_format": "text"},
        {"include": ["logprobs"], "response_format": "verbose_json"},
        {"include": ["logprobs"], "stream": True},
        {"include": ["tokens"]},
    ],
)
def test_logprobs_only_with_json(logprobs_client, upstream, options) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        transcribe(logprobs_client, **options)
    assert caught.value.param == "include"
    assert upstream.connections == 0


@pytest.mark.parametrize("dialect", ["ga", "preview"])
def test_logprobs_a_backend_cannot_give_are_refused_up_front(openai_client, upstream, dialect) -> None:
    """whisper-1 (the default transcription model) gives none; a preview realtime session has
    no ``include``: a 400 naming ``include`` before any session opens."""
    with pytest.raises(openai.BadRequestError) as caught:
        transcribe(openai_client, include=["logprobs"])
    assert caught.value.param == "include"
    assert "log probabilities" in caught.value.message
    assert upstream.connections == 0


def test_logprobs_the_model_did_not_give_are_a_400(logprobs_client, upstream) -> None:
    upstream.reset(mode="no_logprobs")
    with pytest.raises(openai.BadRequestError) as caught:
        transcribe(logprobs_client, include=["logprobs"])
    assert caught.value.param == "include"


def test_chunking_strategy_is_accepted_from_the_sdk(openai_client, upstream) -> None:
    vad = {"type": "server_vad", "prefix_padding_ms": 300, "silence_duration_ms": 800, "threshold": 0.4}
    assert transcribe(openai_client, chunking_strategy=vad).text == TRANSCRIPT
    assert transcribe(openai_client, chunking_strategy="auto").text == TRANSCRIPT


@pytest.mark.parametrize(
    "strategy",
    [
        {"type": "semantic_vad"},
        {"type": "server_vad", "silence_duration_ms": 20},
        {"type": "server_vad", "silence_duration_ms": 800.5},
        {"type": "server_vad", "threshold": 2},
        {"type": "server_vad", "prefix_padding_ms": -1},
        {"type": "server_vad", "silence": 800},
        "sometimes",
    ],
)
def test_bad_chunking_strategies(openai_client, upstream, strategy) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        transcribe(openai_client, chunking_strategy=strategy)
    assert (caught.value.param or "").startswith("chunking_strategy")
    assert upstream.connections == 0


def test_keywords_go_to_the_prompt_of_models_without_keywords(openai_client, upstream) -> None:
    transcribe(openai_client, prompt="Names:", extra_body={"keywords": ["Contoso", "Jessie Ezra"]})
    transcription = speech_session(upstream)["audio"]["input"]["transcription"]
    assert transcription["prompt"] == "Names: Contoso, Jessie Ezra"


@pytest.mark.parametrize(
    "keywords",
    [[f"k{i}" for i in range(MAX_KEYWORDS + 1)], ["x" * (MAX_KEYWORD_CHARS + 1)]],
)
def test_too_many_or_too_long_keywords(openai_client, upstream, keywords) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        transcribe(openai_client, extra_body={"keywords": keywords})
    assert caught.value.param == "keywords"
    assert upstream.connections == 0


# -- the request fields as options ---------------------------------------------------------------


def parsed(app, **form) -> RecognitionOptions:
    form = {"file": (io.BytesIO(WAV), "speech.wav"), **form}
    with app.test_request_context("/v1/audio/transcriptions", method="POST", data=form):
        return transcription_request().options


@pytest.mark.parametrize(
    ("form", "segmentation"),
    [
        ({}, Segmentation()),
        ({"chunking_strategy": "auto"}, Segmentation()),
        (
            {"chunking_strategy": json.dumps({"type": "server_vad", "silence_duration_ms": 900})},
            Segmentation(900),
        ),
        (
            {"chunking_strategy[type]": "server_vad", "chunking_strategy[silence_duration_ms]": "1200"},
            Segmentation(1200),
        ),
        ({"chunking_strategy": json.dumps({"type": "server_vad", "threshold": 0.7})}, Segmentation()),
        ({"chunking_strategy": json.dumps("auto")}, Segmentation()),
    ],
)
def test_chunking_strategy_sets_the_phrase_silence(app, form, segmentation) -> None:
    assert parsed(app, **form).segmentation == segmentation


@pytest.mark.parametrize("raw", ["[800]", "{not json", json.dumps({"type": "server_vad", "x": 1})])
def test_bad_chunking_strategy_text(app, raw) -> None:
    with pytest.raises(BadRequest) as caught:
        parsed(app, chunking_strategy=raw)
    assert caught.value.param == "chunking_strategy"


def test_logprobs_and_keywords_become_options(app) -> None:
    options = parsed(app, **{"include[]": "logprobs", "keywords[]": ["Contoso", " Contoso ", "Ezra"]})
    assert options.logprobs is True
    assert options.keywords == ("Contoso", "Ezra")


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"keywords": "Contoso"}, "keywords"),
        ({"keywords": ["ok", 3]}, "keywords"),
        ({"keywords": ["x" * (MAX_KEYWORD_CHARS + 1)]}, "keywords"),
        ({"keywords": [f"k{i}" for i in range(MAX_KEYWORDS + 1)]}, "keywords"),
        ({"logprobs": "yes"}, "include"),
    ],
)
def test_recognition_options_check_keywords_and_logprobs(fields, param) -> None:
    with pytest.raises(BadRequest) as caught:
        RecognitionOptions(**fields)
    assert caught.value.param == param


def test_keywords_are_trimmed_and_deduplicated() -> None:
    assert RecognitionOptions(keywords=["a  b", "a b", " ", "c"]).keywords == ("a b", "c")
