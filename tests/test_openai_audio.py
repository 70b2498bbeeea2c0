"""The official ``openai`` SDK against ``/v1`` on a real loopback server, over the scripted upstream."""

from __future__ import annotations

import base64
import dataclasses
import io
import itertools
import json
import socket
import time

import av
import httpx2 as httpx
import numpy as np
import openai
import pytest
from loopback import serve
from media import encode_file, signal
from openai_fixtures import CLIENT_TIMEOUT, sdk_client
from realtime_server import audio_for
from test_subtitles import parse_srt, parse_vtt

from speech_realtime.audio import float_to_pcm16
from speech_realtime.audio.wav import write_wav
from speech_realtime.web import create_app

TEXT = "The quick brown fox jumps over the lazy dog, twice, before breakfast on a sunny day."
SPOKEN_SECONDS = len(b"".join(audio_for(TEXT, 4, 2))) / 48000
TRANSCRIPT = "hello from the scripted server"
WAV = write_wav(float_to_pcm16(signal(1.5, 16000)), 16000)


def seconds(data: bytes, response_format: str) -> float:
    """The duration of ``data`` decoded with PyAV (``pcm``: raw PCM16 24 kHz mono)."""
    if response_format == "pcm":
        return len(data) / 48000
    with av.open(io.BytesIO(data)) as container:
        frames = list(container.decode(audio=0))
    return sum(frame.samples for frame in frames) / frames[0].sample_rate


def sse_events(body: bytes) -> list[dict]:
    events = []
    for block in body.decode().split("\n\n"):
        if block.strip():
            assert block.startswith("data: "), block
            events.append(json.loads(block[len("data: ") :]))
    return events


def speech_session(upstream) -> dict:
    return upstream.client_events("session.update")[0]["session"]


# -- speech ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("response_format", "mime", "container", "codec"),
    [
        ("mp3", "audio/mpeg", "mp3", "mp3float"),
        ("opus", "audio/ogg", "ogg", "opus"),
        ("aac", "audio/aac", "aac", "aac"),
        ("flac", "audio/flac", "flac", "flac"),
        ("wav", "audio/wav", "wav", "pcm_s16le"),
        ("pcm", "audio/pcm", None, None),
    ],
)
def test_speech_in_every_format(openai_client, upstream, response_format, mime, container, codec) -> None:
    response = openai_client.audio.speech.with_raw_response.create(
        model="gpt-4o-mini-tts", voice="coral", input=TEXT, response_format=response_format
    )
    assert response.headers["content-type"].startswith(mime)
    assert abs(seconds(response.content, response_format) - SPOKEN_SECONDS) < 0.1
    if container:
        with av.open(io.BytesIO(response.content)) as opened:
            # The decoder PyAV picks names the codec (FFmpeg decodes MP3 with "mp3float").
            assert (opened.format.name, opened.streams.audio[0].codec_context.name) == (container, codec)
            assert opened.streams.audio[0].codec_context.layout.nb_channels == 1


def test_speech_defaults_to_mp3(openai_client, upstream) -> None:
    audio = openai_client.audio.speech.create(model="tts-1", voice="alloy", input=TEXT)
    assert abs(seconds(audio.content, "mp3") - SPOKEN_SECONDS) < 0.1
    with av.open(io.BytesIO(audio.content)) as container:
        assert container.format.name == "mp3"


@pytest.mark.parametrize(
    ("voice", "realtime"),
    [
        *[(name, name) for name in ("alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse")],
        ("marin", "marin"),
        ("cedar", "cedar"),
        ("nova", "coral"),
        ("onyx", "ash"),
        ("fable", "ballad"),
        ("en-US-JennyNeural", "alloy"),
        ("GuyNeural", "echo"),
    ],
)
def test_every_openai_voice_and_azure_names(openai_client, upstream, voice, realtime) -> None:
    openai_client.audio.speech.create(model="tts-1", voice=voice, input="Hi.", response_format="pcm")
    session = speech_session(upstream)
    assert session["audio"]["output"]["voice"] == realtime


def test_streaming_response_sends_bytes_before_synthesis_ends(openai_client, upstream) -> None:
    upstream.script.chunk_delay = 0.25
    upstream.script.chunks = 6
    started = time.monotonic()
    with openai_client.audio.speech.with_streaming_response.create(
        model="tts-1", voice="alloy", input=TEXT, response_format="pcm"
    ) as response:
        chunks = response.iter_bytes()
        first = next(chunks)
        first_at = time.monotonic() - started
        rest = b"".join(chunks)
    total = time.monotonic() - started
    assert first_at < total - 0.5
    assert first + rest == b"".join(audio_for(TEXT, 6, 2))


def test_speech_sse(openai_client, upstream) -> None:
    audio = openai_client.audio.speech.create(
        model="gpt-4o-mini-tts", voice="verse", input=TEXT, response_format="pcm", stream_format="sse"
    )
    events = sse_events(audio.content)
    assert [e["type"] for e in events] == ["speech.audio.delta"] * (len(events) - 1) + ["speech.audio.done"]
    assert len(events) > 2
    pcm = b"".join(base64.b64decode(e["audio"]) for e in events[:-1])
    assert pcm == b"".join(audio_for(TEXT, 4, 2))
    assert events[-1]["usage"] == {"input_tokens": 25, "output_tokens": 32, "total_tokens": 57}


def test_speech_sse_in_a_compressed_format(openai_client, upstream) -> None:
    audio = openai_client.audio.speech.create(
        model="tts-1", voice="alloy", input=TEXT, response_format="mp3", stream_format="sse"
    )
    events = sse_events(audio.content)
    mp3 = b"".join(base64.b64decode(e["audio"]) for e in events if e["type"] == "speech.audio.delta")
    assert abs(seconds(mp3, "mp3") - SPOKEN_SECONDS) < 0.1


@pytest.mark.parametrize(("speed", "applied"), [(0.25, 0.25), (1.2, 1.2), (1.5, 1.5), (4.0, 1.5)])
def test_speed_sets_the_session_output_speed(openai_client, upstream, speed, applied) -> None:
    response = openai_client.audio.speech.with_raw_response.create(
        model="tts-1", voice="alloy", input=TEXT, response_format="pcm", speed=speed
    )
    assert float(response.headers["X-Speech-Speed"]) == applied
    assert ("X-Speech-Speed-Note" in response.headers) == (speed != applied)
    assert speech_session(upstream)["audio"]["output"]["speed"] == applied


@pytest.mark.parametrize("dialect", ["ga", "preview"])
def test_speed_voice_and_format_in_both_dialects(openai_client, upstream, dialect) -> None:
    audio = openai_client.audio.speech.create(
        model="tts-1", voice="nova", input=TEXT, response_format="wav", speed=3.0
    )
    assert abs(seconds(audio.content, "wav") - SPOKEN_SECONDS) < 0.01
    session = speech_session(upstream)
    output = session["audio"]["output"] if dialect == "ga" else session
    assert (output["speed"], output["voice"]) == (1.5, "coral")


@pytest.mark.parametrize("dialect", ["preview"])
def test_ga_only_voices_are_a_clear_400_on_a_preview_deployment(openai_client, upstream, dialect) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        openai_client.audio.speech.create(model="tts-1", voice="marin", input=TEXT)
    assert caught.value.param == "voice"
    assert upstream.connections == 0


def test_instructions_are_style_guidance_after_the_verbatim_rule(openai_client, upstream) -> None:
    openai_client.audio.speech.create(
        model="tts-1", voice="alloy", input=TEXT, response_format="pcm", instructions="Speak like a pirate."
    )
    instructions = speech_session(upstream)["instructions"]
    assert "Speak like a pirate." in instructions
    assert instructions.index("Speak like a pirate.") > 0


# -- transcriptions ----------------------------------------------------------------------------


def transcribe(client, **options):
    return client.audio.transcriptions.create(
        model="whisper-1", file=("speech.wav", WAV, "audio/wav"), **options
    )


def test_transcription_json(openai_client, upstream) -> None:
    result = transcribe(openai_client)
    assert result.text == TRANSCRIPT
    assert result.usage.type == "duration"


def test_transcription_text(openai_client, upstream) -> None:
    assert transcribe(openai_client, response_format="text").strip() == TRANSCRIPT


@pytest.mark.parametrize(("response_format", "parse"), [("srt", parse_srt), ("vtt", parse_vtt)])
def test_transcription_subtitles(openai_client, upstream, response_format, parse) -> None:
    cues = parse(transcribe(openai_client, response_format=response_format))
    assert " ".join(cue.text for cue in cues) == TRANSCRIPT
    assert cues[0].start >= 0 and cues[-1].end <= 1.5 + 0.001
    assert all(a.end <= b.start + 0.001 for a, b in itertools.pairwise(cues))


def test_transcription_verbose_json_with_words(openai_client, upstream) -> None:
    result = transcribe(
        openai_client,
        response_format="verbose_json",
        timestamp_granularities=["word", "segment"],
        language="en",
    )
    assert result.text == TRANSCRIPT
    assert result.language == "english"  # OpenAI's full name, not the code
    assert abs(result.duration - 1.5) < 0.01
    assert " ".join(s.text.strip() for s in result.segments) == TRANSCRIPT
    assert [s.id for s in result.segments] == list(range(len(result.segments)))
    assert [w.word for w in result.words] == TRANSCRIPT.split()
    times = [t for w in result.words for t in (w.start, w.end)]
    assert times == sorted(times) and times[0] >= 0 and times[-1] <= 1.5 + 0.001


def test_transcription_verbose_json_without_word_times_by_default(openai_client, upstream) -> None:
    result = transcribe(openai_client, response_format="verbose_json")
    assert result.segments and not getattr(result, "words", None)


@pytest.mark.parametrize(
    ("language", "name"), [("de", "german"), ("pt-BR", "portuguese"), ("haw", "hawaiian")]
)
def test_verbose_json_names_the_request_language_as_openai_does(
    openai_client, upstream, language, name
) -> None:
    assert transcribe(openai_client, response_format="verbose_json", language=language).language == name


def test_verbose_json_language_is_unknown_when_the_cloud_was_not_told(openai_client, upstream) -> None:
    assert transcribe(openai_client, response_format="verbose_json").language == "unknown"


def test_transcripts_stay_raw_as_openai_does_not_filter_profanity(openai_client, upstream) -> None:
    upstream.reset(transcript="Well, shit happens.")
    assert transcribe(openai_client).text == "Well, shit happens."


def test_verbose_json_language_on_the_english_only_engine_is_english(fake_engine_host) -> None:
    base = "http://" + fake_engine_host.removeprefix("ws://")
    with sdk_client(base, CLIENT_TIMEOUT) as client:
        assert transcribe(client, response_format="verbose_json").language == "english"


def test_transcription_passes_language_and_prompt(openai_client, upstream) -> None:
    transcribe(openai_client, language="en", prompt="Scripted servers.", temperature=0.2)
    session = speech_session(upstream)
    transcription = session["audio"]["input"]["transcription"]
    assert transcription["language"] == "en"
    assert transcription["prompt"] == "Scripted servers."


@pytest.mark.parametrize(
    ("filename", "make"),
    [
        ("speech.mp3", lambda: encode_file("mp3", "libmp3lame", signal(1.0, 16000), 16000)),
        ("speech.ogg", lambda: encode_file("ogg", "libopus", signal(1.0, 48000), 48000)),
        ("speech.flac", lambda: encode_file("flac", "flac", signal(1.0, 16000), 16000)),
        ("speech.webm", lambda: encode_file("webm", "libopus", signal(1.0, 48000), 48000)),
        ("speech.m4a", lambda: encode_file("ipod", "aac", signal(1.0, 16000), 16000)),
        ("speech.pcm", lambda: float_to_pcm16(signal(1.0, 24000))),
    ],
)
def test_transcription_of_every_input_format(openai_client, upstream, filename, make) -> None:
    result = openai_client.audio.transcriptions.create(
        model="whisper-1", file=(filename, make()), response_format="verbose_json"
    )
    assert result.text == TRANSCRIPT
    assert abs(result.duration - 1.0) < 0.1


def two_utterances() -> bytes:
    """Speech, half a second of silence, speech: two turns for the server's VAD."""
    speech = signal(0.6, 24000)
    return write_wav(float_to_pcm16(np.concatenate([speech, np.zeros(12000, np.float32), speech])), 24000)


def test_streaming_transcription_sends_each_phrase_as_it_is_transcribed(openai_client, upstream) -> None:
    upstream.reset(transcripts=("first part.", "second part."))
    stream = openai_client.audio.transcriptions.create(
        model="whisper-1", file=("two.wav", two_utterances(), "audio/wav"), stream=True
    )
    events = list(stream)
    assert [(e.type, getattr(e, "delta", None)) for e in events[:-1]] == [
        ("transcript.text.delta", "first part."),
        ("transcript.text.delta", " second part."),
    ]
    assert events[-1].type == "transcript.text.done"
    assert events[-1].text == "first part. second part."
    session = speech_session(upstream)
    assert session["audio"]["input"]["turn_detection"]["type"] == "server_vad"


def test_streaming_transcription_of_one_utterance(openai_client, upstream) -> None:
    events = list(transcribe(openai_client, stream=True, language="en"))
    assert [e.type for e in events] == ["transcript.text.delta", "transcript.text.done"]
    assert events[0].delta == events[1].text == TRANSCRIPT
    assert speech_session(upstream)["audio"]["input"]["transcription"]["language"] == "en"


def test_streaming_transcription_failures_before_any_text_are_errors(openai_client, upstream) -> None:
    upstream.reset(mode="transcription_failed")
    with pytest.raises(openai.InternalServerError):
        transcribe(openai_client, stream=True)
    upstream.reset()
    with pytest.raises(openai.BadRequestError) as caught:
        openai_client.audio.transcriptions.create(
            model="whisper-1", file=("short.pcm", b"\0\0" * 100), stream=True
        )
    assert caught.value.param == "file"
    assert upstream.connections == 0


# -- translations, models ------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the SDK marks translations deprecated
def test_translations_are_refused_clearly(openai_client, upstream) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        openai_client.audio.translations.create(model="whisper-1", file=("speech.wav", WAV))
    assert "not supported" in caught.value.message
    assert upstream.connections == 0


def test_models(openai_client, upstream) -> None:
    ids = [model.id for model in openai_client.models.list()]
    assert ids == ["gpt-realtime-test", "whisper-1"]
    assert openai_client.models.retrieve("whisper-1").id == "whisper-1"
    with pytest.raises(openai.NotFoundError) as caught:
        openai_client.models.retrieve("dall-e-3")
    assert caught.value.code == "model_not_found"


# -- errors ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "param"),
    [
        ({"voice": "nobody"}, "voice"),
        ({"input": "x" * 4097}, "input"),
        ({"input": ""}, "input"),
        ({"input": " \n "}, "input"),
        ({"response_format": "ogg"}, "response_format"),
        ({"response_format": "wma"}, "response_format"),
        ({"speed": 4.5}, "speed"),
        ({"speed": 0.2}, "speed"),
        ({"speed": 0}, "speed"),
        ({"speed": "fast"}, "speed"),
        ({"stream_format": "websocket"}, "stream_format"),
        ({"instructions": "x" * 5000}, "instructions"),
    ],
)
def test_bad_speech_requests_are_bad_request_errors(openai_client, upstream, options, param) -> None:
    request = {"model": "tts-1", "voice": "alloy", "input": TEXT, **options}
    with pytest.raises(openai.BadRequestError) as caught:
        openai_client.audio.speech.create(**request)
    error = caught.value
    assert error.status_code == 400
    assert error.param == param
    assert error.type == "invalid_request_error"
    assert set(error.body) == {"message", "type", "param", "code"}
    assert "'text'" not in error.message  # the service's vocabulary stays out of OpenAI's answers
    assert upstream.connections == 0


def test_input_of_exactly_4096_characters_is_accepted(openai_client, upstream) -> None:
    with openai_client.audio.speech.with_streaming_response.create(
        model="tts-1", voice="alloy", input="a " * 2048, response_format="pcm"
    ) as response:
        assert response.status_code == 200
        assert next(response.iter_bytes())


@pytest.mark.parametrize(
    ("options", "param"),
    [
        ({"response_format": "docx"}, "response_format"),
        ({"language": "not a language"}, "language"),
        ({"temperature": 3}, "temperature"),
        ({"timestamp_granularities": ["syllable"]}, "timestamp_granularities"),
        ({"file": ("speech.wav", b"RIFF not really a wave file")}, "file"),
        ({"file": ("speech.pcm", b"\0\0" * 100)}, "file"),
        ({"file": ("speech.wav", b"")}, "file"),
        ({"file": ("notes.txt", b"hello, this is text")}, "file"),
        ({"timestamp_granularities": ["word"]}, "timestamp_granularities"),
        ({"timestamp_granularities": ["segment"], "response_format": "json"}, "timestamp_granularities"),
        ({"stream": True, "response_format": "verbose_json"}, "stream"),
        ({"stream": True, "response_format": "srt"}, "stream"),
    ],
)
def test_bad_transcription_requests(openai_client, upstream, options, param) -> None:
    request = {"model": "whisper-1", "file": ("speech.wav", WAV), **options}
    with pytest.raises(openai.BadRequestError) as caught:
        openai_client.audio.transcriptions.create(**request)
    assert caught.value.param == param
    assert upstream.connections == 0


def test_unknown_paths_and_methods(openai_client, openai_served, upstream) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        openai_client.post("/audio/lullabies", cast_to=object, body={})
    assert caught.value.body == {
        "message": "Invalid URL (POST /v1/audio/lullabies)",
        "type": "invalid_request_error",
        "param": None,
        "code": "unknown_url",
    }
    response = httpx.get(f"{openai_served}/v1/audio/speech", timeout=5)
    assert response.status_code == 405
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert "GET /v1/audio/speech" in response.json()["error"]["message"]


def test_wrong_content_type_is_a_bad_request(openai_served, upstream) -> None:
    response = httpx.post(f"{openai_served}/v1/audio/speech", content=b"input=hi", timeout=5)
    assert response.status_code == 400
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}


@pytest.mark.parametrize(
    ("script", "error", "status"),
    [
        ({"mode": "error_event"}, openai.InternalServerError, 502),
        ({"handshake_status": 429, "retry_after": "7"}, openai.RateLimitError, 429),
        ({"handshake_status": 401}, openai.InternalServerError, 502),
        ({"mode": "content_filter"}, openai.BadRequestError, 400),
        ({"mode": "silence"}, openai.InternalServerError, 504),
    ],
)
def test_upstream_failures_map_to_sdk_errors(openai_client, upstream, script, error, status) -> None:
    upstream.reset(**script)
    with pytest.raises(error) as caught:
        openai_client.audio.speech.create(model="tts-1", voice="alloy", input=TEXT, response_format="pcm")
    assert caught.value.status_code == status
    assert set(caught.value.body) == {"message", "type", "param", "code"}
    assert "SECRET" not in caught.value.message
    if status == 429:
        assert caught.value.response.headers["Retry-After"] == "7"


def test_upstream_failure_in_transcription(openai_client, upstream) -> None:
    upstream.reset(mode="transcription_failed")
    with pytest.raises(openai.InternalServerError) as caught:
        transcribe(openai_client)
    assert caught.value.body["type"] == "server_error"


def test_failure_mid_sse_is_an_error_event(openai_client, upstream) -> None:
    upstream.reset(mode="close_before_done", chunks=4)
    audio = openai_client.audio.speech.create(
        model="tts-1", voice="alloy", input=TEXT, response_format="pcm", stream_format="sse"
    )
    events = sse_events(audio.content)
    assert events[0]["type"] == "speech.audio.delta"
    assert events[-1]["type"] == "error"
    assert set(events[-1]["error"]) == {"message", "type", "param", "code"}


def test_an_upload_over_the_body_limit_is_413_in_openai_shape(settings, upstream) -> None:
    app = create_app(dataclasses.replace(settings, max_body_bytes=8192))
    with (
        serve(app) as base,
        openai.OpenAI(base_url=f"{base}/v1", api_key="x", timeout=10, max_retries=0) as client,
        pytest.raises(openai.APIStatusError) as caught,
    ):
        transcribe(client)
    assert caught.value.status_code == 413
    assert set(caught.value.body) == {"message", "type", "param", "code"}
    assert upstream.connections == 0


@pytest.mark.parametrize("stream_format", ["audio", "sse"])
def test_a_client_that_leaves_mid_stream_frees_its_session(settings, upstream, stream_format) -> None:
    """With one session slot, a second request gets it as soon as the first client hangs up.

    The first client is a bare socket: it reads the first bytes and closes (the SDK's HTTP
    client keeps an unread connection open instead of closing it).
    """
    upstream.reset(chunks=40, chunk_delay=0.05)  # two seconds of streaming
    app = create_app(dataclasses.replace(settings, max_sessions=1))
    body = json.dumps(
        {
            "model": "tts-1",
            "voice": "alloy",
            "input": TEXT,
            "response_format": "pcm",
            "stream_format": stream_format,
        }
    ).encode()
    with (
        serve(app) as base,
        openai.OpenAI(base_url=f"{base}/v1", api_key="x", timeout=10, max_retries=0) as client,
    ):
        host, port = base.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=5) as first:
            first.sendall(
                b"POST /v1/audio/speech HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            assert first.recv(4096).startswith(b"HTTP/1.1 200")
        upstream.reset()  # the next session streams at once; the first keeps its slow script
        left = time.monotonic()
        while True:
            try:
                client.audio.speech.create(model="tts-1", voice="alloy", input="Hi.", response_format="pcm")
                break
            except openai.APIStatusError as error:
                assert error.status_code == 503 and time.monotonic() - left < 1.0
    assert upstream.connections == 1


def test_bearer_tokens_are_accepted_and_ignored(openai_served, upstream) -> None:
    with openai.OpenAI(
        base_url=f"{openai_served}/v1", api_key="whatever", timeout=10, max_retries=0
    ) as client:
        assert client.models.list().data


def test_pcm_is_24khz_16bit_little_endian(openai_client, upstream) -> None:
    audio = openai_client.audio.speech.create(model="tts-1", voice="alloy", input=TEXT, response_format="pcm")
    expected = np.frombuffer(b"".join(audio_for(TEXT, 4, 2)), "<i2")
    assert np.array_equal(np.frombuffer(audio.content, "<i2"), expected)
