"""Whole-buffer recognition phrase by phrase, through the service and its front ends, against
the scripted upstream transcribing each committed item from its audio (see ``tone_speech``)."""

from __future__ import annotations

import io
import random
import time

import pytest
from realtime_server import ItemReply
from tone_speech import tone_items, tone_recording, transcribe_tones

from speech_realtime.audio import PCM16, WireAudio
from speech_realtime.audio.wav import write_wav
from speech_realtime.errors import UpstreamError, UpstreamTimeout
from speech_realtime.options import RecognitionOptions, Segmentation
from speech_realtime.speech import SpeechService

#: Three 'recordings' of several phrases, joined with 2 s pauses (the case that lost 20 s).
JOINED = [(2.5, 0.4), (3.0, 0.5), (1.5, 2.0), (4.0, 0.3), (2.0, 0.6), (3.5, 2.0), (2.0, 0.5), (3.0, 0.5)]


def wire(audio: bytes) -> WireAudio:
    return WireAudio(audio, PCM16, PCM16.duration(audio), "pcm16")


@pytest.fixture
def service(settings) -> SpeechService:
    return SpeechService(settings)


def test_every_phrase_is_transcribed_once_in_order_with_its_real_place(service, upstream) -> None:
    upstream.script.items = tone_items
    audio, phrases = tone_recording(JOINED)
    transcript = service.recognize(wire(audio))
    assert transcript.text == " ".join(p.word for p in phrases)
    commits = upstream.client_events("input_audio_buffer.commit")
    assert 1 < len(commits) < len(phrases)  # phrases packed, never across the 2 s pauses
    # Each phrase is a segment, with the real bounds of its speech.
    assert [s.text for s in transcript.segments] == [p.word for p in phrases]
    for segment, phrase in zip(transcript.segments, phrases, strict=True):
        assert abs(segment.start - phrase.start) <= 0.05 and abs(segment.end - phrase.end) <= 0.05
        assert all(segment.start <= w.start <= w.end <= segment.end for w in segment.words)
    # The long quiet stretches are not sent; all the speech is.
    sent = sum(len(e["audio"]) for e in upstream.client_events("input_audio_buffer.append")) * 3 // 4
    assert sent < len(audio) - 2 * 24000 * 2 * 1.2


def test_a_600_second_upload_comes_back_whole(settings, upstream) -> None:
    rng = random.Random(7)
    layout: list[tuple[float, float]] = []
    total = 0.5
    while total < 590:
        layout.append((rng.uniform(0.5, 6.0), rng.choice((0.3, 0.5, 0.8, 1.5))))
        total += sum(layout[-1])
    upstream.script.items = tone_items
    audio, phrases = tone_recording(layout)
    audio += bytes(PCM16.sample_width * round((600 - PCM16.duration(audio)) * PCM16.sample_rate))
    service = SpeechService(settings.with_changes(request_timeout=2, receive_timeout=2))
    transcript = service.recognize(wire(audio))
    assert transcript.duration == 600
    assert transcript.text == " ".join(p.word for p in phrases)
    assert all(s.end - s.start < 25 for s in transcript.segments)
    sent = transcript.usage["seconds"]  # each item's usage is its audio: added up
    assert 0.7 * sum(seconds for seconds, _ in layout) < sent < 600


def test_segmentation_options_shape_the_items(service, upstream) -> None:
    upstream.script.items = tone_items
    audio, phrases = tone_recording([(1.0, 0.6)] * 5)
    fine = service.recognize(wire(audio), RecognitionOptions(segmentation=Segmentation(silence_ms=400)))
    assert len(fine.segments) == 5
    upstream.reset(items=tone_items)
    coarse = service.recognize(wire(audio), RecognitionOptions(segmentation=Segmentation(silence_ms=900)))
    assert len(coarse.segments) == 1
    assert fine.text == coarse.text == " ".join(p.word for p in phrases)


def test_the_engine_s_segments_and_word_times_are_used_when_it_sends_them(service, upstream) -> None:
    audio, phrases = tone_recording([(1.0, 2.0), (1.0, 2.0)])

    def with_segments(index: int, item: bytes) -> ItemReply:
        word = transcribe_tones(item)
        segment = {
            "text": word,
            "start": 0.25,
            "end": 1.0,
            "words": [{"word": word, "start": 0.3, "end": 0.9}],
        }
        return ItemReply(word, segments=[segment])

    upstream.script.items = with_segments
    transcript = service.recognize(wire(audio))
    first, second = transcript.segments
    assert (first.start, first.end) == pytest.approx(
        (phrases[0].start - 0.2 + 0.25, phrases[0].start - 0.2 + 1.0)
    )
    assert second.words[0].start == pytest.approx(phrases[1].start - 0.2 + 0.3)


def test_one_item_failing_fails_the_recognition_with_502(client, upstream) -> None:
    upstream.script.items = lambda index, item: ItemReply(transcribe_tones(item), fail=index == 2)
    audio, _ = tone_recording([(1.0, 2.0)] * 4)
    response = client.post(
        "/v1/audio/transcriptions",
        data={"model": "whisper-1", "file": (io.BytesIO(write_wav(audio, 24000)), "a.wav")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 502, response.json
    assert "item 2 failed" not in response.json["error"]["message"]  # the upstream's words: logged
    assert "upstream code: transcription_error" in response.json["error"]["message"]
    with pytest.raises(UpstreamError):
        SpeechService(client.application.extensions["speech"].settings).recognize(wire(audio))


def test_a_stalled_item_fails_within_the_idle_timeout(settings, upstream) -> None:
    upstream.script.items = lambda index, item: ItemReply(transcribe_tones(item), stall=index == 1)
    service = SpeechService(settings.with_changes(request_timeout=30, receive_timeout=1))
    audio, _ = tone_recording([(1.0, 2.0)] * 3)
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout, match="sent nothing for 1 s"):
        service.recognize(wire(audio))
    assert time.monotonic() - started < 1 + 1


def test_progress_keeps_a_recognition_alive_past_the_request_timeout(settings, upstream) -> None:
    upstream.script.items = lambda index, item: ItemReply(transcribe_tones(item), delay=0.3)
    service = SpeechService(settings.with_changes(request_timeout=1, receive_timeout=1))
    audio, phrases = tone_recording([(0.5, 1.5)] * 8)
    started = time.monotonic()
    assert service.recognize(wire(audio)).text == " ".join(p.word for p in phrases)
    assert time.monotonic() - started > 2


def test_front_ends_give_each_phrase_its_place(client, upstream) -> None:
    upstream.script.items = tone_items
    audio, phrases = tone_recording([(1.0, 2.0), (1.5, 2.0)], lead=1.5)
    upload = write_wav(audio, 24000)
    verbose = client.post(
        "/v1/audio/transcriptions",
        data={"model": "whisper-1", "response_format": "verbose_json", "file": (io.BytesIO(upload), "a.wav")},
        content_type="multipart/form-data",
    ).json
    assert [(s["text"], s["start"], s["end"]) for s in verbose["segments"]] == [
        (p.word, pytest.approx(p.start, abs=0.05), pytest.approx(p.end, abs=0.05)) for p in phrases
    ]
    azure = client.post(
        "/speech/recognition/conversation/cognitiveservices/v1?language=en-US&format=detailed",
        data=upload,
        content_type="audio/wav; codecs=audio/pcm; samplerate=24000",
    ).json
    assert azure["Offset"] == pytest.approx(1.5e7, abs=5e5)  # 100-ns ticks: where the speech starts
    assert azure["Offset"] + azure["Duration"] == pytest.approx(phrases[-1].end * 1e7, abs=5e5)
