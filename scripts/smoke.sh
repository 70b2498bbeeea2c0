#!/usr/bin/env bash
# The reference's "Testing" section with curl, against a running service:
# TTS to a PCM file, the info endpoint, STT of that file, and a chunked stream.
# Usage: scripts/smoke.sh [BASE_URL]   (default http://localhost:5000)
set -euo pipefail

base="${1:-${BASE_URL:-http://localhost:5000}}/api/speech-realtime"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "== TTS: POST $base/synthesize -> test-realtime.pcm"
curl -sS --fail-with-body -X POST "$base/synthesize" \
  -H 'Content-Type: application/json' \
  -d '{"text": "Testing Azure OpenAI Realtime API", "voiceName": "alloy"}' \
  -o "$work/test-realtime.pcm"
size=$(wc -c < "$work/test-realtime.pcm")
echo "test-realtime.pcm: $size bytes ($((size / 48)) ms of PCM16 24 kHz mono)"
[ "$size" -gt 0 ] || { echo "FAIL: empty audio" >&2; exit 1; }

echo "== Info: GET $base/info"
curl -sS --fail-with-body "$base/info"
echo

echo "== STT: POST $base/recognize (the audio just synthesized)"
{ printf '{"audioData": "'; base64 -w0 "$work/test-realtime.pcm"; printf '"}'; } > "$work/recognize.json"
curl -sS --fail-with-body -X POST "$base/recognize" \
  -H 'Content-Type: application/json' --data-binary "@$work/recognize.json"
echo

echo "== Streaming TTS: POST $base/synthesize/stream"
curl -sS --fail-with-body -N -X POST "$base/synthesize/stream" \
  -H 'Content-Type: application/json' \
  -d '{"text": "Hello, world! This sentence arrives as a chunked stream.", "voiceName": "nova"}' \
  -D "$work/headers" -o "$work/stream.pcm" \
  -w 'first byte after %{time_starttransfer} s, finished after %{time_total} s\n'
grep -i '^transfer-encoding: chunked' "$work/headers" || { echo "FAIL: not chunked" >&2; exit 1; }
echo "stream.pcm: $(wc -c < "$work/stream.pcm") bytes"
echo "smoke: OK"
