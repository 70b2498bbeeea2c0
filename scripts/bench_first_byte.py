"""``bench_engine.py --first-byte``: the first audio byte of a forty-word sentence.

Through the service (/synthesize/stream, the engine in its own process), and inside the engine's
process: the first chunk of ``Models.synthesize`` against one whole-sentence Piper call (what the
engine's first byte waited for before). Best and median of ``runs``, since other work on the
machine stretches single runs.
"""

from __future__ import annotations

import statistics
import time

from harness import running_service

#: Forty words, one sentence, clauses as people write them.
SENTENCE = (
    "When the old lighthouse keeper finally retired after forty years on the rock, the villagers "
    "gathered on the pier, shared stories about the storms he had watched, and promised that the "
    "light would keep burning for every sailor still at sea."
)


def _row(label: str, seconds: list[float]) -> str:
    return f"| {label} | {min(seconds) * 1000:.0f} ms | {statistics.median(seconds) * 1000:.0f} ms |"


def in_process(runs: int) -> list[str]:
    """The engine's models in this process: the first chunk, against the whole sentence."""
    from piper import SynthesisConfig

    from speech_realtime.engine.models import Models, whole_voice

    models = Models()
    models.warm_up()
    voice = whole_voice()
    firsts, wholes, totals = [], [], []
    for _ in range(runs):
        started = time.perf_counter()
        pieces = models.synthesize(SENTENCE)
        next(pieces)
        firsts.append(time.perf_counter() - started)
        for _ in pieces:
            pass
        totals.append(time.perf_counter() - started)
    # after the chunked runs: the whole-sentence network's idle threads spin for a while after
    # each run and would slow whatever runs next
    for _ in range(runs):
        started = time.perf_counter()
        list(voice.synthesize(SENTENCE, SynthesisConfig()))
        wholes.append(time.perf_counter() - started)
    return [
        _row("engine, first chunk of `Models.synthesize`", firsts),
        _row("engine, the whole sentence chunk by chunk", totals),
        _row("engine, one whole-sentence Piper call (the first byte before)", wholes),
    ]


def first_byte(runs: int) -> int:
    print(f"{len(SENTENCE.split())} words: {SENTENCE}\n")
    print(f"| measure ({runs} runs) | best | median |\n| --- | --- | --- |")
    for row in in_process(runs):
        print(row, flush=True)
    with running_service() as service:
        service.post("/api/speech-realtime/synthesize", {"text": "Warm up."})
        firsts, totals = [], []
        for _ in range(runs):
            _, first, total = service.post("/api/speech-realtime/synthesize/stream", {"text": SENTENCE})
            firsts.append(first)
            totals.append(total)
    print(_row("service, /synthesize/stream first audio byte", firsts))
    print(_row("service, /synthesize/stream whole stream", totals))
    return 0
