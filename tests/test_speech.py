"""The service layer directly: saturation, lazy streaming, check, validation before connecting."""

from __future__ import annotations

import threading
import time

import pytest

from speech_realtime.audio import PCM16, WireAudio
from speech_realtime.errors import BadRequest, Saturated, UnsupportedMedia, UpstreamAuth, UpstreamTimeout
from speech_realtime.options import RecognitionOptions, SynthesisOptions, clamp_speed
from speech_realtime.speech import SpeechService


@pytest.fixture
def service(settings) -> SpeechService:
    return SpeechService(settings)


def test_sessions_beyond_the_limit_are_refused_with_503(settings, upstream) -> None:
    service = SpeechService(settings.with_changes(max_sessions=1))
    upstream.script.chunk_delay = 0.3
    stream = service.synthesize_stream("A slow sentence.", SynthesisOptions(voice="alloy"))
    assert next(stream)
    with pytest.raises(Saturated) as caught:
        service.synthesize("Another one.")
    assert caught.value.retry_after == 1
    assert caught.value.status == 503
    stream.close()
    assert service.synthesize("Now there is room.").audio


def test_concurrent_requests_each_get_their_own_session(service, upstream) -> None:
    results: list[bytes] = []
    threads = [
        threading.Thread(target=lambda i=i: results.append(service.synthesize(f"Sentence {i}.").audio))
        for i in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 4
    assert upstream.connections == 4


def test_stream_connects_only_when_iterated(service, upstream) -> None:
    stream = service.synthesize_stream("Hello.", SynthesisOptions(voice="alloy"))
    assert upstream.connections == 0
    assert b"".join(stream)
    assert upstream.connections == 1


def test_validation_happens_before_any_connection(service, upstream) -> None:
    with pytest.raises(BadRequest):
        service.synthesize_stream("", SynthesisOptions(voice="alloy"))
    with pytest.raises(BadRequest):
        service.recognize(WireAudio(bytes(10), PCM16, PCM16.duration(bytes(10)), "pcm16"))
    with pytest.raises(UnsupportedMedia):
        service.recognize_media(b"not audio at all", label=None)
    assert upstream.connections == 0


def test_check_times_the_handshake_and_session(service, dialect) -> None:
    result = service.check()
    assert result["backend"] == "azure"
    assert result["protocol"] == dialect
    assert result["auth"] == "api-key"
    assert result["sessionCreated"] is True
    assert result["handshakeMs"] >= 0
    assert result["sessionMs"] >= 0


def test_check_reports_refused_credentials(service, upstream) -> None:
    upstream.script.handshake_status = 401
    with pytest.raises(UpstreamAuth):
        service.check()


def test_an_upstream_that_goes_quiet_fails_after_the_receive_timeout(settings, upstream) -> None:
    service = SpeechService(settings.with_changes(request_timeout=30, receive_timeout=0.5))
    upstream.script.mode = "silence"
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout, match=r"sent nothing for 0\.5 s"):
        service.synthesize("Hello.")
    assert time.monotonic() - started < 2


@pytest.mark.parametrize("tag", ["en", "en-US", "zh-Hant-TW", "es-419", "yue"])
def test_language_tags_are_accepted_and_sent_upstream_as_their_primary_subtag(tag: str) -> None:
    options = RecognitionOptions(language=tag)
    assert options.language == tag
    assert options.upstream_language == tag.split("-")[0].lower()


@pytest.mark.parametrize("tag", ["x" * 10_000, "english please", "e", "en_US", "en-", "<script>", 5])
def test_anything_else_as_language_is_a_bad_request_naming_language(tag: object) -> None:
    with pytest.raises(BadRequest) as caught:
        RecognitionOptions(language=tag)  # type: ignore[arg-type]
    assert caught.value.param == "language"
    assert len(caught.value.message) < 120


def test_prompt_and_instructions_are_bounded_and_speed_is_in_the_api_range() -> None:
    RecognitionOptions(prompt="p" * 1024)
    with pytest.raises(BadRequest) as caught:
        RecognitionOptions(prompt="p" * 1025)
    assert caught.value.param == "prompt"
    with pytest.raises(BadRequest) as caught:
        SynthesisOptions(instructions="i" * 2049)
    assert caught.value.param == "instructions"
    for speed in (0.25, 1, 1.5):
        SynthesisOptions(speed=speed)
    for bad in (0.2, 1.6, float("nan"), float("inf"), True, "fast"):
        with pytest.raises(BadRequest) as caught:
            SynthesisOptions(speed=bad)  # type: ignore[arg-type]
        assert caught.value.param == "speed"
    assert clamp_speed(4.0) == 1.5 and clamp_speed(0.1) == 0.25


def test_a_bad_language_never_reaches_the_upstream(service, upstream) -> None:
    with pytest.raises(BadRequest):
        service.recognize_media(bytes(9600), "pcm16", options=RecognitionOptions(language="x" * 10_000))
    assert upstream.connections == 0


def test_a_transcript_carries_one_segment_with_estimated_word_times(service, upstream) -> None:
    result = service.recognize_media(bytes(48000), "pcm16", options=RecognitionOptions(language="en-GB"))
    assert result.text == upstream.script.transcript
    assert result.language == "en-GB"
    (segment,) = result.segments
    assert (segment.start, segment.end) == (0.0, 1.0)
    assert " ".join(w.text for w in segment.words) == result.text
    assert segment.words[-1].end == 1.0
