"""The Azure Speech REST API against the scripted upstream, with Azure's documented requests.

The requests follow "Text to speech REST API" and "Speech to text REST API for short audio"
(learn.microsoft.com): the same paths, headers, query parameters and bodies.
"""

from __future__ import annotations

import base64
import http.client
import io
import json
import struct
import time

import pytest
from azure_sdk_fixtures import silent_wav
from realtime_server import audio_for

from speech_realtime.tokens import TOKEN_LIFETIME, verify_token
from speech_realtime.voices import CATALOGUE

# The documented sample request body, byte for byte.
AZURE_SSML = """<speak version='1.0' xml:lang='en-US'><voice xml:lang='en-US' xml:gender='Male'
    name='en-US-ChristopherNeural'>
        I'm excited to try text to speech!
</voice></speak>"""
TTS_HEADERS = {
    "X-Microsoft-OutputFormat": "riff-24khz-16bit-mono-pcm",
    "Content-Type": "application/ssml+xml",
    "Authorization": "Bearer TOKEN",
    "User-Agent": "speech-realtime-tests",
}
STT_PATH = "/speech/recognition/conversation/cognitiveservices/v1"
WAV_16K = "audio/wav; codecs=audio/pcm; samplerate=16000"


def wav_16k(seconds: float = 1.0) -> bytes:
    return silent_wav(seconds)


def spoken_pcm(text: str) -> bytes:
    return b"".join(audio_for(text, 4, 2))


def tts(client, ssml: str, **headers):
    return client.post("/cognitiveservices/v1", data=ssml.encode(), headers={**TTS_HEADERS, **headers})


# -- text to speech ------------------------------------------------------------------------------


def test_the_documented_synthesis_request_answers_riff_audio_of_the_mapped_voice(client, upstream) -> None:
    response = tts(client, AZURE_SSML)
    assert response.status_code == 200, response.data
    assert response.mimetype == "audio/wav"
    assert response.data[:4] == b"RIFF" and response.data[8:12] == b"WAVE"
    assert struct.unpack("<I", response.data[24:28])[0] == 24000
    assert response.data[44:] == spoken_pcm("I'm excited to try text to speech!")
    session = upstream.client_events("session.update")[0]["session"]
    assert session["audio"]["output"]["voice"] == "ballad"  # Christopher -> a male voice


def test_synthesis_streams_chunked_in_the_requested_format(client, upstream) -> None:
    response = tts(client, AZURE_SSML, **{"X-Microsoft-OutputFormat": "raw-24khz-16bit-mono-pcm"})
    assert response.status_code == 200
    assert response.is_streamed and "Content-Length" not in response.headers
    assert response.data == spoken_pcm("I'm excited to try text to speech!")
    mp3 = tts(client, AZURE_SSML, **{"X-Microsoft-OutputFormat": "audio-24khz-48kbitrate-mono-mp3"})
    assert mp3.status_code == 200 and mp3.mimetype == "audio/mpeg" and len(mp3.data) > 100


def test_without_an_output_format_header_the_sdk_default_riff_16khz_is_used(client, upstream) -> None:
    response = client.post(
        "/cognitiveservices/v1", data=AZURE_SSML, headers={"Content-Type": "application/ssml+xml"}
    )
    assert response.status_code == 200
    assert response.data[:4] == b"RIFF" and struct.unpack("<I", response.data[24:28])[0] == 16000


def test_voices_are_read_in_order_with_speed_and_silence_between(client, upstream) -> None:
    ssml = (
        "<speak version='1.0' xmlns='http://www.w3.org/2001/10/synthesis' xml:lang='en-US'>"
        "<voice name='en-US-JennyNeural'>First part.</voice>"
        "<voice name='en-US-GuyNeural'><prosody rate='-20%'>Second part.</prosody><break time='250ms'/>"
        "<say-as interpret-as='characters'>ABC</say-as></voice></speak>"
    )
    response = tts(client, ssml, **{"X-Microsoft-OutputFormat": "raw-24khz-16bit-mono-pcm"})
    assert response.status_code == 200, response.data
    silence = bytes(2 * 6000)
    assert response.data == spoken_pcm("First part.") + spoken_pcm("Second part.") + silence + spoken_pcm(
        "ABC"
    )
    sessions = [e["session"]["audio"]["output"] for e in upstream.client_events("session.update")]
    assert [s["voice"] for s in sessions] == ["alloy", "echo", "echo"]
    assert [s.get("speed", 1.0) for s in sessions] == pytest.approx([1.0, 0.8, 1.0])
    texts = [e["item"]["content"][0]["text"] for e in upstream.client_events("conversation.item.create")]
    assert texts == ["First part.", "Second part.", "ABC"]  # never markup


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ('<!DOCTYPE speak [<!ENTITY x SYSTEM "file:///etc/passwd">]><speak>&x;</speak>', 400, "DOCTYPE"),
        ("<speak><voice name='en-US-JennyNeural'>unclosed</speak>", 400, "malformed SSML"),
        ("<speak><voice name='en-US-NobodyNeural'>Hi</voice></speak>", 400, "unknown voice"),
        ("<speak><prosody rate='warp'>Hi</prosody></speak>", 400, "prosody rate"),
        ("<?xml version='1.0' encoding='UTF-7'?><speak>Hi</speak>", 400, "encoding 'UTF-7'"),
        ("<?xml version='1.0' encoding='x-nope'?><speak>Hi</speak>", 400, "encoding 'x-nope'"),
    ],
)
def test_bad_ssml_is_an_azure_style_error_before_any_upstream_session(
    client, upstream, body, status, message
) -> None:
    response = tts(client, body)
    assert response.status_code == status
    assert response.mimetype == "text/plain" and message in response.get_data(as_text=True)
    assert upstream.connections == 0


def test_wrong_content_type_format_and_size_are_refused(client, upstream) -> None:
    assert tts(client, AZURE_SSML, **{"Content-Type": "application/json"}).status_code == 415
    bad_format = tts(client, AZURE_SSML, **{"X-Microsoft-OutputFormat": "riff-99khz-3bit-mono-pcm"})
    assert bad_format.status_code == 400 and "riff-99khz-3bit-mono-pcm" in bad_format.get_data(as_text=True)
    huge = "<speak>" + "word " * 20000 + "</speak>"
    assert tts(client, huge).status_code == 413
    assert upstream.connections == 0


def test_an_upstream_failure_is_a_status_with_a_short_body(client, upstream) -> None:
    upstream.script.mode = "rate_limit_event"
    response = tts(client, AZURE_SSML)
    assert response.status_code == 429 and response.mimetype == "text/plain"
    assert "Retry-After" in response.headers


def test_leading_silence_waits_for_the_first_audio_so_a_failure_is_still_a_status(client, upstream) -> None:
    ssml = "<speak><break time='250ms'/>Hello.<break time='250ms'/></speak>"
    raw = {"X-Microsoft-OutputFormat": "raw-24khz-16bit-mono-pcm"}
    response = tts(client, ssml, **raw)
    assert response.status_code == 200
    assert response.data == bytes(12000) + spoken_pcm("Hello.") + bytes(12000)
    upstream.script.mode = "rate_limit_event"
    failed = tts(client, ssml, **raw)
    assert failed.status_code == 429 and failed.mimetype == "text/plain"


def test_unknown_paths_of_the_family_answer_in_azures_way(client) -> None:
    assert client.get("/cognitiveservices/nothing").mimetype == "text/plain"
    wrong = client.post("/speech/recognition/shouting/cognitiveservices/v1", data=b"x")
    assert wrong.status_code == 404 and wrong.mimetype == "text/plain"
    assert client.get("/sts/v1.0/issueToken").status_code == 405


# -- voices ------------------------------------------------------------------------------------


def test_the_voice_list_is_the_catalogue_in_azures_shape(client) -> None:
    response = client.get(
        "/cognitiveservices/voices/list", headers={"Ocp-Apim-Subscription-Key": "YOUR_RESOURCE_KEY"}
    )
    assert response.status_code == 200
    voices = response.json
    assert [v["ShortName"] for v in voices] == [v.short_name for v in CATALOGUE]
    fields = {"Name", "DisplayName", "LocalName", "ShortName", "Gender", "Locale", "LocaleName",
              "SampleRateHertz", "VoiceType", "Status", "WordsPerMinute"}  # fmt: skip
    assert all(set(v) == fields for v in voices)
    assert any(v["ShortName"] == "en-US-AvaMultilingualNeural" for v in voices)


# -- speech to text --------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["conversation", "interactive", "dictation"])
def test_the_documented_recognition_request_answers_a_simple_result(client, upstream, mode) -> None:
    response = client.post(
        f"/speech/recognition/{mode}/cognitiveservices/v1?language=en-US",
        data=wav_16k(),
        headers={
            "Accept": "application/json;text/xml",
            "Content-Type": WAV_16K,
            "Ocp-Apim-Subscription-Key": "K",
        },
    )
    assert response.status_code == 200, response.data
    result = response.json
    assert result["RecognitionStatus"] == "Success"
    assert result["DisplayText"] == "hello from the scripted server"
    assert isinstance(result["Offset"], int) and isinstance(result["Duration"], int)
    assert result["Offset"] + result["Duration"] <= 10_000_000
    assert "NBest" not in result
    session = upstream.client_events("session.update")[0]["session"]
    assert session["audio"]["input"]["transcription"]["language"] == "en"  # ISO-639-1 upstream


def test_detailed_results_have_nbest(client, upstream) -> None:
    upstream.script.transcript = "Remind me to buy 5 pencils."
    response = client.post(
        f"{STT_PATH}?language=en-US&format=detailed&profanity=raw",
        data=wav_16k(),
        headers={"Content-Type": WAV_16K, "Transfer-Encoding": "chunked", "Expect": "100-continue"},
        environ_overrides={"wsgi.input_terminated": True},  # as servers de-chunk the body
    )
    assert response.status_code == 200, response.data
    (best,) = response.json["NBest"]
    assert set(best) >= {"Confidence", "Lexical", "ITN", "MaskedITN", "Display"}
    assert best["Display"] == "Remind me to buy 5 pencils."
    assert best["ITN"] == "remind me to buy 5 pencils"
    assert "five" in best["Lexical"]


@pytest.mark.parametrize(
    ("query", "display", "lexical"),
    [
        ("", "Well, **** happens.", "well **** happens"),  # Azure's default: masked
        ("&profanity=masked", "Well, **** happens.", "well **** happens"),
        ("&profanity=Removed", "Well, happens.", "well happens"),
        ("&profanity=raw", "Well, shit happens.", "well shit happens"),
    ],
)
def test_profanity_applies_to_every_text_form(client, upstream, query, display, lexical) -> None:
    upstream.script.transcript = "Well, shit happens."
    response = client.post(
        f"{STT_PATH}?language=en-US&format=detailed{query}", data=wav_16k(), headers={"Content-Type": WAV_16K}
    )
    assert response.status_code == 200, response.data
    (best,) = response.json["NBest"]
    assert response.json["DisplayText"] == best["Display"] == display
    assert best["Lexical"] == best["ITN"] == best["MaskedITN"] == lexical
    assert "Language" not in response.json and "PrimaryLanguage" not in response.json  # as Azure's


def test_raw_pcm_with_the_documented_content_type_and_ogg_opus_are_accepted(client, upstream) -> None:
    raw = client.post(f"{STT_PATH}?language=en-US", data=bytes(32000), headers={"Content-Type": WAV_16K})
    assert raw.status_code == 200 and raw.json["RecognitionStatus"] == "Success"
    av = pytest.importorskip("av")
    out = io.BytesIO()
    with av.open(out, "w", format="ogg") as container:
        stream = container.add_stream("libopus", rate=16000)
        frame = av.AudioFrame(format="s16", layout="mono", samples=16000)
        frame.planes[0].update(bytes(32000))
        frame.sample_rate = 16000
        for packet in (*stream.encode(frame), *stream.encode(None)):
            container.mux(packet)
    ogg = client.post(
        f"{STT_PATH}?language=en-US", data=out.getvalue(), headers={"Content-Type": "audio/ogg; codecs=opus"}
    )
    assert ogg.status_code == 200, ogg.data
    assert ogg.json["RecognitionStatus"] == "Success"


def test_no_words_is_initial_silence_timeout_with_status_200(client, upstream) -> None:
    upstream.script.transcript = ""
    response = client.post(f"{STT_PATH}?language=en-US", data=wav_16k(), headers={"Content-Type": WAV_16K})
    assert response.status_code == 200
    assert response.json == {
        "RecognitionStatus": "InitialSilenceTimeout",
        "Offset": 10_000_000,
        "Duration": 0,
    }


@pytest.mark.parametrize(
    ("query", "word"),
    [("format=verbose", "format"), ("profanity=stars", "profanity"), ("language=%21%21", "language")],
)
def test_bad_query_parameters_are_400(client, upstream, query: str, word: str) -> None:
    response = client.post(f"{STT_PATH}?{query}", data=wav_16k(), headers={"Content-Type": WAV_16K})
    assert response.status_code == 400 and word in response.get_data(as_text=True)
    assert upstream.connections == 0


def test_undecodable_or_too_short_audio_is_refused(client, upstream) -> None:
    garbage = client.post(
        f"{STT_PATH}?language=en-US", data=b"RIFF....WAVEjunk", headers={"Content-Type": WAV_16K}
    )
    assert garbage.status_code in (400, 415) and garbage.mimetype == "text/plain"
    short = client.post(f"{STT_PATH}?language=en-US", data=wav_16k(0.05), headers={"Content-Type": WAV_16K})
    assert short.status_code == 400
    assert upstream.connections == 0


# -- tokens ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("samplerate", ["abc", "1.5", "9" * 5000, "0"])
def test_a_bad_raw_pcm_samplerate_is_a_400_naming_the_sample_rate(client, upstream, samplerate) -> None:
    response = client.post(
        STT_PATH,
        data=bytes(32000),
        headers={"Content-Type": f"audio/wav; codecs=audio/pcm; samplerate={samplerate}"},
    )
    assert response.status_code == 400 and response.mimetype == "text/plain"
    message = response.get_data(as_text=True)
    assert "sample" in message.lower() and "sampleRate" not in message  # no other family's field
    assert upstream.connections == 0


def test_issue_token_answers_a_signed_ten_minute_token_as_text(client, app) -> None:
    response = client.post(
        "/sts/v1.0/issueToken",
        headers={"Content-type": "application/x-www-form-urlencoded", "Content-Length": "0",
                 "Ocp-Apim-Subscription-Key": "YourSpeechResourceKey"},
    )  # fmt: skip
    assert response.status_code == 200 and response.mimetype == "text/plain"
    token = response.get_data(as_text=True)
    secret = app.extensions["azure_token_secret"]
    assert verify_token(token, secret)
    assert not verify_token(token, secret, now=time.time() + TOKEN_LIFETIME + 1)
    assert not verify_token(token[:-2] + "xx", secret)
    for forged in ("é.é.é", "a.b", "", "a.%%%.b", f"{token[:-1]}é"):
        assert not verify_token(forged, secret)
    assert "YourSpeechResourceKey" not in token


def test_the_issued_token_is_accepted_as_bearer(client, upstream) -> None:
    token = client.post("/sts/v1.0/issueToken").get_data(as_text=True)
    response = tts(client, AZURE_SSML, Authorization=f"Bearer {token}")
    assert response.status_code == 200


# -- the reference's former Azure Speech routes ---------------------------------------------------


def test_api_speech_routes_answer_like_api_speech_realtime(client, upstream) -> None:
    pcm = bytes(48000)
    body = {"audioData": base64.b64encode(pcm).decode()}
    old = client.post("/api/speech/recognize", json=body)
    new = client.post("/api/speech-realtime/recognize", json=body)
    assert old.status_code == new.status_code == 200 and old.json == new.json
    spoken = client.post("/api/speech/synthesize", json={"text": "Hello there.", "voiceName": "JennyNeural"})
    assert spoken.status_code == 200 and spoken.data == spoken_pcm("Hello there.")
    bad = client.post("/api/speech/synthesize", json={"text": ""})
    assert bad.status_code == 400 and "error" in bad.json


# -- over a real loopback server: chunked upload as Azure documents it, chunked audio out --------


CHUNKED_HEADERS = {
    "Accept": "application/json;text/xml",
    "Ocp-Apim-Subscription-Key": "K",
    "Transfer-Encoding": "chunked",
    "Expect": "100-continue",
}


def test_chunked_upload_with_expect_100_continue_and_chunked_audio_over_http(openai_served, upstream) -> None:
    host, port = openai_served.removeprefix("http://").split(":")
    audio = wav_16k()
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request(
            "POST",
            f"{STT_PATH}?language=en-US&format=detailed",
            body=iter([audio[:1024], audio[1024:]]),  # only the first chunk has the header
            headers={**CHUNKED_HEADERS, "Content-Type": WAV_16K},
            encode_chunked=True,
        )
        response = conn.getresponse()
        assert response.status == 200
        assert json.loads(response.read())["NBest"][0]["Display"] == "hello from the scripted server"
        conn.request("POST", "/cognitiveservices/v1", body=AZURE_SSML.encode(), headers=TTS_HEADERS)
        response = conn.getresponse()
        assert response.status == 200 and response.getheader("Transfer-Encoding") == "chunked"
        assert response.read()[44:] == spoken_pcm("I'm excited to try text to speech!")
    finally:
        conn.close()
