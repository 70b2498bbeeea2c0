"""``bench_engine.py --stream-recognition``: an upload streamed against the same upload whole.

The upload is the engine's own voice reading four sentences, 1 s apart (about 15 s). Streamed,
it goes through the service's ``recognition_stream`` (server VAD on the engine), pushed all at
once as an upload is; whole, through ``recognize``. Both on an engine child process; time from
the first byte pushed to the last phrase (streamed) or to the transcript (whole), best and median
of ``runs``, and the word error rate of each; and one Whisper call over the whole upload in
this process, the least any of them can cost.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from speech_realtime.audio import float_to_pcm16, pcm16_to_float, resample
from speech_realtime.audio.wav import write_wav
from speech_realtime.cli import EngineProcess
from speech_realtime.config import Settings
from speech_realtime.engine.models import ASR_RATE, ENGINE_RATE, Models
from speech_realtime.options import Ended, Phrase
from speech_realtime.speech import SpeechService
from speech_realtime.text import word_error_rate

SENTENCES = [
    "The weather today is sunny with a light breeze.",
    "Please send the report to Maria before Friday.",
    "Our meeting starts at ten thirty in the morning.",
    "The train to Boston leaves at noon on Monday.",
]


def upload(models: Models) -> bytes:
    """PCM16 at 16 kHz: a second of silence, then each sentence followed by a second of silence."""
    pause = np.zeros(ASR_RATE, dtype=np.float32)
    parts = [pause]
    for sentence in SENTENCES:
        spoken = np.concatenate([audio for _, audio in models.synthesize(sentence)])
        parts += [resample(spoken, ENGINE_RATE, ASR_RATE), pause]
    return float_to_pcm16(np.concatenate(parts))


def streamed(service: SpeechService, pcm: bytes) -> tuple[float, str, int]:
    """(seconds to the last phrase, the phrases' text, how many phrases)."""
    started = time.perf_counter()
    stream = service.recognition_stream(rate=ASR_RATE)
    phrases: list[str] = []
    try:
        stream.push(pcm)
        stream.finish()
        while True:
            event = stream.poll(timeout=120)
            if event is None:
                raise RuntimeError("no event in 120 s")
            if isinstance(event, Phrase):
                phrases.append(event.text)
            if isinstance(event, Ended):
                break
    finally:
        stream.close()
    return time.perf_counter() - started, " ".join(phrases), len(phrases)


def whole(service: SpeechService, wav: bytes) -> tuple[float, str]:
    started = time.perf_counter()
    text = service.recognize_media(wav).text
    return time.perf_counter() - started, text


def one_call(models: Models, pcm: bytes, runs: int) -> list[float]:
    """Seconds of one Whisper call over the whole upload, in this process (the floor)."""
    samples = pcm16_to_float(pcm)
    models.transcribe(samples)
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        models.transcribe(samples)
        seconds.append(time.perf_counter() - started)
    return seconds


def stream_recognition(runs: int) -> int:
    models = Models()
    pcm = upload(models)
    floor = one_call(models, pcm, runs)
    reference = " ".join(SENTENCES)
    engine = EngineProcess.start()
    try:
        service = SpeechService(
            Settings.from_mapping({"SPEECH_ENGINE_URL": engine.url, "SPEECH_REQUEST_TIMEOUT": "120"})
        )
        whole(service, write_wav(pcm, ASR_RATE))  # warm up
        streams, wholes = [], []
        for _ in range(runs):
            seconds, text, count = streamed(service, pcm)
            streams.append((seconds, word_error_rate(reference, text), count))
            seconds, text = whole(service, write_wav(pcm, ASR_RATE))
            wholes.append((seconds, word_error_rate(reference, text)))
    finally:
        engine.stop()
    best_s, median_s = min(s for s, _, _ in streams), statistics.median(s for s, _, _ in streams)
    best_w, median_w = min(s for s, _ in wholes), statistics.median(s for s, _ in wholes)
    print(f"upload: {len(pcm) / 2 / ASR_RATE:.1f} s, {len(SENTENCES)} sentences 1 s apart\n")
    print(f"| measure ({runs} runs) | best | median | WER |\n| --- | --- | --- | --- |")
    phrases = sorted({count for _, _, count in streams})
    print(
        f"| streamed (`recognition_stream`, {'/'.join(map(str, phrases))} phrases) | {best_s:.2f} s "
        f"| {median_s:.2f} s | {max(w for _, w, _ in streams):.3f} |"
    )
    print(f"| whole (`recognize`) | {best_w:.2f} s | {median_w:.2f} s | {max(w for _, w in wholes):.3f} |")
    print(
        f"| one Whisper call over the whole upload, in process | {min(floor):.2f} s "
        f"| {statistics.median(floor):.2f} s | |"
    )
    print(f"| streamed / whole | {best_s / best_w:.2f}x | {median_s / median_w:.2f}x | |")
    return 0
