"""The official ``openai`` SDK against ``/v1`` over the offline engine: real voices, real words."""

from __future__ import annotations

import io
import re

import av
import pytest
from test_subtitles import parse_vtt

from speech_realtime.audio.wav import write_wav

SENTENCE = "The quick brown fox jumps over the lazy dog."


def seconds(data: bytes) -> float:
    with av.open(io.BytesIO(data)) as container:
        frames = list(container.decode(audio=0))
    return sum(frame.samples for frame in frames) / frames[0].sample_rate


def words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


def speak(client, speed: float = 1.0, response_format: str = "wav") -> bytes:
    return client.audio.speech.create(
        model="tts-1", voice="alloy", input=SENTENCE, response_format=response_format, speed=speed
    ).content


def test_round_trip_through_the_sdk(engine_openai_client) -> None:
    mp3 = speak(engine_openai_client, response_format="mp3")
    assert 1.0 < seconds(mp3) < 6.0
    result = engine_openai_client.audio.transcriptions.create(model="whisper-1", file=("fox.mp3", mp3))
    heard = words(result.text)
    assert sum(word in heard for word in words(SENTENCE)) >= len(words(SENTENCE)) - 1


def test_a_faster_speed_gives_shorter_audio(engine_openai_client) -> None:
    slow = seconds(speak(engine_openai_client, speed=0.5))
    normal = seconds(speak(engine_openai_client))
    fast = seconds(speak(engine_openai_client, speed=1.5))
    assert fast < 0.85 * normal < 0.85 * 0.85 * slow


def test_verbose_json_times_from_the_engine(engine_openai_client) -> None:
    wav = speak(engine_openai_client)
    duration = seconds(wav)
    result = engine_openai_client.audio.transcriptions.create(
        model="whisper-1",
        file=("fox.wav", wav),
        response_format="verbose_json",
        timestamp_granularities=["word", "segment"],
    )
    assert abs(result.duration - duration) < 0.05
    assert result.segments and result.words
    times = [t for w in result.words for t in (w.start, w.end)]
    assert times == sorted(times) and times[0] >= 0 and times[-1] <= duration + 0.01
    cues = parse_vtt(
        engine_openai_client.audio.transcriptions.create(
            model="whisper-1", file=("fox.wav", wav), response_format="vtt"
        )
    )
    assert words(" ".join(cue.text for cue in cues)) == words(result.text)


def test_streaming_transcription_from_the_engine(engine_openai_client) -> None:
    pcm = speak(engine_openai_client, response_format="pcm")
    pause = bytes(48000)  # one second of silence between two readings: two turns for the VAD
    wav = write_wav(pcm + pause + pcm, 24000)
    events = list(
        engine_openai_client.audio.transcriptions.create(
            model="whisper-1", file=("fox.wav", wav), stream=True
        )
    )
    deltas = [e.delta for e in events[:-1]]
    assert events[-1].type == "transcript.text.done"
    assert len(deltas) == 2
    assert "".join(deltas) == events[-1].text
    assert words(events[-1].text).count("fox") == 2


@pytest.mark.parametrize("response_format", ["opus", "aac", "flac", "pcm"])
def test_other_formats_from_the_engine(engine_openai_client, response_format) -> None:
    audio = speak(engine_openai_client, response_format=response_format)
    duration = len(audio) / 48000 if response_format == "pcm" else seconds(audio)
    assert 1.0 < duration < 6.0
