"""The Azure Speech REST API on the offline engine: real voices, real recognition, round trips."""

from __future__ import annotations

import io
import wave

from speech_realtime.text import word_error_rate

#: One sample of the 24 kHz wire audio, in 100-ns ticks (rounded up).
WIRE_SAMPLE_TICKS = 417
SSML = (
    "<speak version='1.0' xmlns='http://www.w3.org/2001/10/synthesis' xml:lang='en-US'>"
    "<voice name='en-US-JennyNeural'>The quick brown fox jumps over the lazy dog.</voice>"
    "<break time='400ms'/>"
    "<voice name='en-US-GuyNeural'><prosody rate='slow'>"
    "Please call me back tomorrow morning.</prosody></voice>"
    "</speak>"
)


def wav_info(data: bytes) -> tuple[int, float]:
    """Rate and seconds of a streamed WAV (its header says "unknown size": count the bytes)."""
    with wave.open(io.BytesIO(data)) as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1
        return w.getframerate(), (len(data) - 44) / (2 * w.getframerate())


def test_ssml_with_two_voices_and_a_break_reads_back_through_recognition(engine_client) -> None:
    spoken = engine_client.post(
        "/cognitiveservices/v1",
        data=SSML,
        headers={
            "Content-Type": "application/ssml+xml",
            "X-Microsoft-OutputFormat": "riff-16khz-16bit-mono-pcm",
        },
    )
    assert spoken.status_code == 200, spoken.data
    rate, seconds = wav_info(spoken.data)
    assert rate == 16000 and seconds > 3
    heard = engine_client.post(
        "/speech/recognition/conversation/cognitiveservices/v1?language=en-US&format=detailed",
        data=spoken.data,
        headers={"Content-Type": "audio/wav; codecs=audio/pcm; samplerate=16000"},
    )
    assert heard.status_code == 200, heard.data
    result = heard.json
    assert result["RecognitionStatus"] == "Success"
    expected = "The quick brown fox jumps over the lazy dog. Please call me back tomorrow morning."
    assert word_error_rate(expected, result["DisplayText"]) < 0.25, result["DisplayText"]
    # The service hears the audio resampled to 24 kHz, whose length rounds up to a whole sample.
    end_limit = round(seconds * 10_000_000) + WIRE_SAMPLE_TICKS
    assert 0 <= result["Offset"] < result["Offset"] + result["Duration"] <= end_limit
    assert result["NBest"][0]["Display"] == result["DisplayText"]


def test_a_slower_prosody_rate_gives_longer_audio(engine_client) -> None:
    def seconds(rate: str) -> float:
        text = "Good morning, this is a test of the speaking rate."
        ssml = f"<speak><prosody rate='{rate}'>{text}</prosody></speak>"
        response = engine_client.post(
            "/cognitiveservices/v1",
            data=ssml,
            headers={
                "Content-Type": "application/ssml+xml",
                "X-Microsoft-OutputFormat": "riff-24khz-16bit-mono-pcm",
            },
        )
        assert response.status_code == 200, response.data
        return wav_info(response.data)[1]

    assert seconds("x-slow") > seconds("medium") * 1.2


def test_silence_is_not_a_match_with_status_200(engine_client) -> None:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(bytes(32000))
    response = engine_client.post(
        "/speech/recognition/interactive/cognitiveservices/v1?language=en-US",
        data=out.getvalue(),
        headers={"Content-Type": "audio/wav; codecs=audio/pcm; samplerate=16000"},
    )
    assert response.status_code == 200
    assert response.json["RecognitionStatus"] in ("InitialSilenceTimeout", "NoMatch")
    assert "DisplayText" not in response.json
