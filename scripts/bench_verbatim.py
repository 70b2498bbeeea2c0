#!/usr/bin/env python3
"""CPU time of the TTS verbatim check (word edit distance) on texts of the longest allowed size.

The check runs on every synthesis while holding the GIL, so its cost is paid by every other
request of the worker. Prints a Markdown table: the median of --runs runs, per text pair.

Usage: .venv/bin/python scripts/bench_verbatim.py [--chars 4096] [--runs 9]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from speech_realtime.text import is_clear_mismatch

VOCABULARY = "the quick brown fox jumps over a lazy dog while the service reads every word aloud".split()


def text(chars: int, seed: int) -> str:
    rng = random.Random(seed)
    words: list[str] = []
    while sum(len(w) + 1 for w in words) < chars:
        words.append(rng.choice(VOCABULARY))
    return " ".join(words)[:chars]


def cpu_ms(reference: str, heard: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.process_time()
        is_clear_mismatch(reference, heard)
        times.append(time.process_time() - started)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chars", type=int, default=4096)
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    reference = text(args.chars, 1)
    print(f"| {args.chars}-character texts | CPU ms per check |\n| --- | ---: |")
    for label, heard in (("identical", reference), ("unrelated", text(args.chars, 2))):
        print(f"| {label} | {cpu_ms(reference, heard, args.runs):.1f} |")


if __name__ == "__main__":
    main()
