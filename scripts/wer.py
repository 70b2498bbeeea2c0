#!/usr/bin/env python3
"""Round-trip word error rate of the offline engine: synthesize each sentence through the
service, recognize the audio through the service, compare words (numbers normalised).

Usage: .venv/bin/python scripts/wer.py [--repeat N]
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import running_service

from speech_realtime.text import corpus_word_error_rate, word_error_rate

SENTENCES = [
    "The weather today is sunny with a light breeze.",
    "Please send the report to Maria before Friday.",
    "Our meeting starts at ten thirty in the morning.",
    "The train to Boston leaves from platform 4 at 6:15.",
    "I would like two coffees and a croissant, please.",
    "She paid 25 dollars for the concert tickets.",
    "Can you call me back when you have a minute?",
    "The package was delivered to the wrong address yesterday.",
    "Turn left at the second traffic light, then go straight.",
    "My flight was delayed by almost three hours.",
    "Doctor Patel will see you in room 12.",
    "Remember to water the plants while I am away.",
    "The quarterly revenue grew by 8 percent.",
    "We need to finish the project before the deadline.",
    "John and Sarah are getting married in June.",
    "Please keep your seat belt fastened during the flight.",
    "The museum is closed on Mondays and public holidays.",
    "How many people are coming to dinner tonight?",
    "The password must contain at least 12 characters.",
    "Heavy rain is expected across the region this weekend.",
    "Let me know if you need anything else from me.",
    "The library opens at nine and closes at five.",
    "Thank you for calling. Your order number is 4 5 7 2.",
    "Speech recognition has improved a lot in recent years. Small models now run on a laptop "
    "without a network connection, and they are fast enough to transcribe a meeting while it "
    "happens. The quality still depends on the microphone, the room, and how clearly people speak.",
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=1, help="synthesize each sentence N times")
    args = parser.parse_args()
    pairs: list[tuple[str, str]] = []
    with running_service() as service:
        for sentence in SENTENCES:
            for _ in range(args.repeat):
                audio, _, _ = service.post("/api/speech-realtime/synthesize", {"text": sentence})
                body, _, _ = service.post(
                    "/api/speech-realtime/recognize", {"audioData": base64.b64encode(audio).decode()}
                )
                heard = json.loads(body)["text"]
                pairs.append((sentence, heard))
                wer = word_error_rate(sentence, heard)
                mark = "" if wer == 0 else f"   <- {heard}"
                print(f"{wer:6.1%}  {sentence[:70]}{mark}")
    print(f"\nsentences: {len(SENTENCES)} x {args.repeat}, corpus WER: {corpus_word_error_rate(pairs):.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
