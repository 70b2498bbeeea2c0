"""Transcription answers of ``/v1/audio/transcriptions``: json, text, srt, vtt, verbose_json, SSE."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import closing
from typing import TYPE_CHECKING, Any

from flask import Response, current_app, jsonify

from ..languages import fixed_language, language_name
from ..options import Ended, Phrase, Transcript
from ..subtitles import srt, vtt

if TYPE_CHECKING:
    from ..realtime.stream import RecognitionStream

_SUBTITLES = {
    "srt": (srt, "application/x-subrip; charset=utf-8"),
    "vtt": (vtt, "text/vtt; charset=utf-8"),
}
#: How long one poll of a recognition stream waits; the stream's own idle limit ends a stall.
_POLL_SECONDS = 0.5
#: ``language`` of a transcript whose language nobody knows (no request language, a backend
#: that detects but does not say what it detected).
UNKNOWN_LANGUAGE = "unknown"


def _usage(transcript: Transcript) -> dict[str, Any]:
    return {"type": "duration", "seconds": math.ceil(transcript.duration)}


def _language(transcript: Transcript) -> str:
    """OpenAI's ``language``: Whisper's full name (``english``) of the request's language, else
    of the backend's only language (the offline engine's model is English-only).

    No backend reports the language it detected (the Realtime API's transcription events carry
    none), so a cloud transcription without a request language is :data:`UNKNOWN_LANGUAGE`. A
    tag outside Whisper's table is given as sent, in lower case.
    """
    backend = current_app.extensions["speech"].endpoint.backend
    tag = transcript.language or fixed_language(backend)
    if not tag:
        return UNKNOWN_LANGUAGE
    return language_name(tag) or tag.lower()


def _verbose(transcript: Transcript, granularities: tuple[str, ...]) -> dict[str, Any]:
    """``verbose_json``: language, duration, segments (and words when asked for), usage.

    Fields OpenAI fills from Whisper's decoder (``avg_logprob``, ``tokens``, ...) are left out:
    no backend here reports them, and made-up values would mislead.
    """
    body: dict[str, Any] = {
        "task": "transcribe",
        "language": _language(transcript),
        "duration": round(transcript.duration, 3),
        "text": transcript.text,
    }
    if "segment" in granularities or not granularities:
        body["segments"] = [
            {"id": index, "seek": 0, "start": round(s.start, 3), "end": round(s.end, 3), "text": s.text}
            for index, s in enumerate(transcript.segments)
        ]
    if "word" in granularities:
        body["words"] = [
            {"word": w.text, "start": round(w.start, 3), "end": round(w.end, 3)}
            for segment in transcript.segments
            for w in segment.words
        ]
    body["usage"] = _usage(transcript)
    return body


def transcript_response(
    transcript: Transcript, response_format: str, granularities: tuple[str, ...]
) -> Response:
    """``transcript`` in ``response_format`` (already checked to be one OpenAI offers)."""
    if response_format == "text":
        return Response(transcript.text + "\n", content_type="text/plain; charset=utf-8")
    if response_format in _SUBTITLES:
        render, content_type = _SUBTITLES[response_format]
        return Response(render(transcript.segments), content_type=content_type)
    if response_format == "verbose_json":
        return jsonify(_verbose(transcript, granularities))
    body: dict[str, Any] = {"text": transcript.text}
    if transcript.logprobs is not None:
        body["logprobs"] = [
            {"token": t.token, "logprob": t.logprob, "bytes": list(t.bytes)} for t in transcript.logprobs
        ]
    body["usage"] = _usage(transcript)
    return jsonify(body)


def transcript_events(stream: RecognitionStream, pcm: bytes) -> Iterator[dict[str, Any]]:
    """``transcript.text.delta`` per phrase as the backend finishes it, then ``.done``.

    The upload goes to a streaming recognition session with server VAD, so the first phrase's
    text is sent while later ones are still being transcribed; the deltas join to the text of
    the ``done`` event.
    """
    phrases: list[str] = []
    with closing(stream):
        stream.push(pcm)
        stream.finish()
        while not isinstance(event := stream.poll(_POLL_SECONDS), Ended):
            if isinstance(event, Phrase) and (text := event.text.strip()):
                yield {"type": "transcript.text.delta", "delta": f" {text}" if phrases else text}
                phrases.append(text)
    yield {"type": "transcript.text.done", "text": " ".join(phrases)}
