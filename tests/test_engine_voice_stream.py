"""The real voice, chunk by chunk: the chunks are the whole decode, a long first sentence's first
audio comes out before the rest is made, and its clauses join without a seam (marker ``models``)."""

from __future__ import annotations

import base64
import json

import numpy as np
from piper import SynthesisConfig

from speech_realtime.engine.models import ENGINE_RATE, whole_voice
from speech_realtime.engine.piper_stream import soft_limit
from speech_realtime.engine.session import EngineSession

LONG = (
    "When the old lighthouse keeper finally retired after forty years, the villagers gathered on the "
    "pier, shared stories about the storms he had watched, and promised that the light would keep "
    "burning for every sailor still at sea."
)


def test_the_engine_holds_no_session_for_the_whole_network(models) -> None:
    assert models.voice.session is None  # the split network in models.stream is what runs


def test_chunked_decoding_is_the_whole_decode(models) -> None:
    voice = models.voice
    ids = voice.phonemes_to_ids(voice.phonemize(LONG)[0])
    quiet = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0, normalize_audio=False)  # no noise: repeatable
    whole = soft_limit(np.asarray(whole_voice().phoneme_ids_to_audio(ids, quiet), dtype=np.float32))
    chunks = list(models.stream.chunks(ids, (0.0, float(voice.config.length_scale), 0.0)))
    assert len(chunks) > 3
    assert np.abs(np.concatenate(chunks) - whole).max() < 1e-3


def _silent_runs(audio: np.ndarray, level: float = 0.01) -> np.ndarray:
    edges = np.diff(np.concatenate([[0], (np.abs(audio) <= level).astype(int), [0]]))
    return (np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)) / ENGINE_RATE


def test_a_long_sentences_first_audio_leaves_before_the_rest_is_made(models) -> None:
    session = EngineSession("ga", models)
    session.open()
    update = {"type": "realtime", "audio": {"input": {"turn_detection": None}}}
    session.handle(json.dumps({"type": "session.update", "session": update}))
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": LONG}]}
    session.handle(json.dumps({"type": "conversation.item.create", "item": item}))
    session.handle('{"type": "response.create"}')
    steps = []
    while session.busy:
        steps.append(session.step())
    audio_steps = [
        b"".join(base64.b64decode(e["delta"]) for e in batch if e["type"] == "response.output_audio.delta")
        for batch in steps
    ]
    first = next(index for index, audio in enumerate(audio_steps) if audio)
    whole = b"".join(audio_steps)
    # the first step with audio carries under a second of a sentence of about 12 s
    assert len(audio_steps[first]) / 48000 < 1.0 < 8.0 < len(whole) / 48000
    transcript = [
        e["delta"] for batch in steps for e in batch if e["type"] == "response.output_audio_transcript.delta"
    ]
    assert "".join(transcript) == LONG
    assert transcript[0] == "When the old lighthouse keeper finally retired after forty years,"
    samples = np.frombuffer(whole, dtype="<i2").astype(np.float32) / 32768
    # no long silence inside the sentence: the join is a comma's pause, as the whole sentence has
    inner = _silent_runs(samples[int(0.2 * ENGINE_RATE) : -int(0.5 * ENGINE_RATE)])
    assert inner.max() < 0.6, inner
    # no discontinuity: no step between two samples anywhere larger than the voice's own largest
    steps_between = np.abs(np.diff(samples))
    edges = np.cumsum([len(a) // 2 for a in audio_steps if a])[:-1]
    assert steps_between[edges - 1].max() <= np.percentile(steps_between, 99.9)
