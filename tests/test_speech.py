"""The service layer directly: saturation, lazy streaming, check, validation before connecting."""

from __future__ import annotations

import threading
import time

import pytest

from speech_realtime.audio import PCM16
from speech_realtime.audio.formats import WireAudio
from speech_realtime.errors import BadRequest, Saturated, UnsupportedMedia, UpstreamAuth, UpstreamTimeout
from speech_realtime.options import SynthesisOptions
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
