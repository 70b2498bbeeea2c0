"""A long joined recording through the service on the real engine: every passage comes back,
and every subtitle cue lies on the speech it holds (marker ``models``)."""

from __future__ import annotations

import io

from engine_client import speech_pcm
from long_reading import long_recording
from test_subtitles import parse_srt

from speech_realtime.audio import float_to_pcm16, pcm16_to_float
from speech_realtime.audio.wav import write_wav
from speech_realtime.text import corpus_word_error_rate, word_error_rate

#: How far a cue may reach past the speech it holds (the issue's bound).
SLACK = 0.5


def test_a_long_joined_recording_keeps_every_passage_with_cues_on_their_speech(models, engine_client) -> None:
    samples, passages = long_recording(lambda text: pcm16_to_float(speech_pcm(models, text)))
    assert len(samples) / 24000 > 120
    upload = write_wav(float_to_pcm16(samples), 24000)
    response = engine_client.post(
        "/v1/audio/transcriptions",
        data={"model": "whisper-1", "response_format": "srt", "file": (io.BytesIO(upload), "joined.wav")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.data[:300]
    cues = parse_srt(response.get_data(as_text=True))
    heard: list[list[str]] = [[] for _ in passages]
    for cue in cues:
        home = [
            i for i, p in enumerate(passages) if p.start - SLACK <= cue.start and cue.end <= p.end + SLACK
        ]
        assert home, f"cue {cue} lies outside every passage's speech {passages}"
        heard[home[0]].append(cue)
    pairs = []
    for passage, own in zip(passages, heard, strict=True):
        assert own, f"nothing heard of {passage.text[:40]!r}"
        assert abs(own[0].start - passage.start) <= SLACK and abs(own[-1].end - passage.end) <= SLACK
        text = " ".join(cue.text for cue in own)
        assert word_error_rate(passage.text, text) <= 0.2, (passage.text, text)
        pairs.append((passage.text, text))
    assert corpus_word_error_rate(pairs) <= 0.10, pairs
