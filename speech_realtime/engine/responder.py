"""The long work of a session, as generators: transcription of a user audio item, and responses.

Each generator yields one batch of server events per step (a sentence voiced, a transcript
made), so the session's one thread can handle client events, ``response.cancel`` included,
between steps. Model failures end the work with the protocol's failure events
(``...input_audio_transcription.failed``, ``response.done`` with status ``failed``); closing a
generator (a client gone) stops the work quietly.

The model is an **echo model**: a response reads back the last user message, its text or the
transcript of its audio. Instructions are accepted and ignored.
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Generator, Iterator
from typing import Any

import numpy as np

from ..audio import StreamResampler, encode_wire
from .models import ASR_RATE, ENGINE_RATE, Heard, ModelSet, Word
from .phrases import phrases, snap_words
from .render import Event, Renderer, event
from .state import Conversation, Item, ResponsePlan, new_id

log = logging.getLogger(__name__)

#: Largest audio delta the engine sends, in seconds of audio.
DELTA_SECONDS = 0.5

#: A pause between words that ends an ``x_segments`` segment.
SEGMENT_GAP_SECONDS = 0.6
DELTA = "conversation.item.input_audio_transcription.delta"

Job = Iterator[list[Event]]


def recognize(samples: np.ndarray, models: ModelSet, language: str | None) -> Iterator[Heard | None]:
    """``samples`` transcribed phrase by phrase: one ``Heard`` per phrase, word times on the
    item's timeline; ``None`` after each step of voice activity over a long item.

    An item up to one model window is one call. A longer one is cut by :mod:`.phrases` first, so
    every step (a minute of VAD, or one Whisper call) is short and closing the generator stops
    the work at the next phrase. Word edges in silence are snapped to the speech (VAD runs).
    """
    for phrase in phrases(samples, models.voice_activity()):
        if phrase is None:
            yield None
        elif phrase.end > phrase.start:
            heard = models.transcribe(samples[phrase.start : phrase.end], language)
            offset = phrase.start / ASR_RATE
            words = [Word(w.text, round(w.start + offset, 3), round(w.end + offset, 3)) for w in heard.words]
            yield Heard(heard.text, tuple(snap_words(words, phrase.speech)))


def cue_segments(words: list[Word], gap: float = SEGMENT_GAP_SECONDS) -> list[dict[str, Any]]:
    """Words grouped into the ``x_segments`` extension: a segment ends at a sentence's end or at a
    pause of ``gap`` seconds between words (phrases never share a segment: they are cut at pauses).
    """
    groups: list[list[Word]] = []
    for word in words:
        last = groups[-1][-1] if groups else None
        if last is None or last.text.endswith((".", "!", "?")) or word.start - last.end >= gap:
            groups.append([])
        groups[-1].append(word)
    return [
        {
            "text": " ".join(w.text for w in group),
            "start": group[0].start,
            "end": group[-1].end,
            "words": [{"word": w.text, "start": w.start, "end": w.end} for w in group],
        }
        for group in groups
    ]


def _transcribed(
    item: Item, models: ModelSet, language: str | None, heard_already: Heard | None = None
) -> Iterator[Heard | None]:
    """:func:`recognize` of a user audio item (or ``heard_already``, its transcript made with
    other items'); its transcript is kept on the item when done and its audio let go (a long
    streaming session does not keep it all)."""
    samples = item.samples if item.samples is not None else np.zeros(0, dtype=np.float32)
    texts = []
    for heard in recognize(samples, models, language) if heard_already is None else [heard_already]:
        if heard is not None:
            texts.append(heard.text)
        yield heard
    item.parts[0]["transcript"] = " ".join(text for text in texts if text)
    item.samples = None


def interim_pieces(text: str) -> list[str]:
    """``text`` as word-sized deltas whose concatenation is ``text`` (at least one)."""
    return re.findall(r"\s*\S+", text) or [""]


def transcription(item: Item, models: ModelSet, language: str | None, heard: Heard | None = None) -> Job:
    """Per phrase, ``...input_audio_transcription.delta`` events (a word each, with a leading
    space after the first text, so they concatenate to the transcript), then ``.completed`` with
    the ``x_segments`` extension (or ``.failed``). ``heard``: the item's transcript, already made
    (with other items', :mod:`.batching`)."""
    where = {"item_id": item.id, "content_index": 0}
    seconds = round(len(item.samples) / ASR_RATE, 3) if item.samples is not None else 0.0
    preset = item.parts[0].get("transcript")
    words: list[Word] = []
    text = ""
    try:
        if preset is not None:
            text = str(preset)
            item.samples = None
            yield [event(DELTA, **where, delta=piece) for piece in interim_pieces(text)]
        else:
            for phrase in _transcribed(item, models, language, heard):
                if phrase is None:
                    yield []
                    continue
                said = (" " if text and phrase.text else "") + phrase.text
                text += said
                words += phrase.words
                yield [event(DELTA, **where, delta=piece) for piece in interim_pieces(said)]
    except Exception as exc:
        log.warning("engine transcription of %s failed: %s", item.id, exc)
        failure = {"type": "server_error", "code": "transcription_failed", "message": "The model failed."}
        yield [event("conversation.item.input_audio_transcription.failed", **where, error=failure)]
        return
    yield [
        event(
            "conversation.item.input_audio_transcription.completed",
            **where,
            transcript=text,
            usage={"type": "duration", "seconds": seconds},
            x_segments=cue_segments(words),
        )
    ]


def last_user_message(items: list[Item]) -> Item | None:
    """The item the echo model reads: the last user message."""
    return next((item for item in reversed(items) if item.role == "user" and item.parts), None)


def echo_text(plan: ResponsePlan, models: ModelSet) -> Generator[list[Event], None, str]:
    """The echo model: the last user message's text, or the transcript of its audio (made phrase
    by phrase, an empty batch of events per step, until done or the response is cancelled)."""
    item = last_user_message(plan.source)
    if item is None:
        return ""
    part = item.parts[-1]
    if part["type"] == "input_text":
        return str(part.get("text") or "")
    if part["type"] != "input_audio":
        return ""
    if part.get("transcript") is None:
        steps = _transcribed(item, models, None)
        for _ in steps:
            yield []
            if plan.cancelled:
                steps.close()
                return ""
    return str(part.get("transcript") or "")


def response(plan: ResponsePlan, conversation: Conversation, models: ModelSet, render: Renderer) -> Job:
    """One response: created, voiced or written step by step, done (completed, cancelled or failed)."""
    shell = {"object": "realtime.response", "id": plan.id, "status": "in_progress", "output": []}
    item = Item(new_id("item"), "assistant", [], status="in_progress")
    first = [
        event("response.created", response=shell),
        event("response.output_item.added", response_id=plan.id, output_index=0, item=render.item(item)),
    ]
    if plan.in_conversation:
        previous = conversation.last_id
        conversation.insert(item, previous)
        first += render.item_added(item, previous, finished=False)
    where = {"response_id": plan.id, "item_id": item.id, "output_index": 0, "content_index": 0}
    kind, field = ("audio", "transcript") if plan.audio_out else ("text", "text")
    first.append(event("response.content_part.added", **where, part={"type": kind, field: ""}))
    yield first

    spoken: list[str] = []
    text, failed = "", False
    try:
        text = yield from echo_text(plan, models)
        if plan.audio_out:
            yield from _voice(plan, text, models, render, where, spoken)
        elif text and not plan.cancelled:
            spoken.append(text)
            yield [render.response("text.delta", **where, delta=text)]
    except Exception as exc:
        log.warning("engine response %s failed: %s", plan.id, exc)
        failed = True

    said = " ".join(spoken)
    status = "failed" if failed else "cancelled" if plan.cancelled else "completed"
    item.parts = [{"type": f"output_{kind}", field: said}]
    item.status = "completed" if status == "completed" else "incomplete"
    rendered = render.item(item)
    last = (
        [render.response("audio.done", **where), render.response("transcript.done", **where, transcript=said)]
        if plan.audio_out
        else [render.response("text.done", **where, text=said)]
    )
    last += [
        event("response.content_part.done", **where, part={"type": kind, field: said}),
        event("response.output_item.done", response_id=plan.id, output_index=0, item=rendered),
    ]
    if plan.in_conversation:
        last += render.item_finished(item)
    words_in, words_out = len(text.split()), len(said.split())
    done: dict[str, Any] = {
        **shell,
        "status": status,
        "output": [rendered],
        "usage": {"total_tokens": words_in + words_out, "input_tokens": words_in, "output_tokens": words_out},
    }
    if status == "cancelled":
        done["status_details"] = {"type": "cancelled", "reason": "client_cancelled"}
    elif status == "failed":
        done["status_details"] = {"type": "failed", "error": {"type": "server_error", "code": "model_error"}}
    last.append(event("response.done", response=done))
    yield last


def _voice(
    plan: ResponsePlan,
    text: str,
    models: ModelSet,
    render: Renderer,
    where: dict[str, Any],
    spoken: list[str],
) -> Job:
    """Audio and transcript deltas, one chunk of voiced audio per step, until done or cancelled;
    a piece's text goes with the first audio of that piece."""
    fmt = plan.output_format
    step = int(DELTA_SECONDS * fmt.sample_rate)
    resampler = StreamResampler(ENGINE_RATE, fmt.sample_rate)
    pieces = models.synthesize(text, plan.speed)
    try:
        while not plan.cancelled:
            piece = next(pieces, None)
            sentence, audio = piece or ("", np.zeros(0, dtype=np.float32))
            samples = resampler.push(audio, last=piece is None)
            events = [
                render.response(
                    "audio.delta",
                    **where,
                    delta=base64.b64encode(encode_wire(samples[start : start + step], fmt)).decode("ascii"),
                )
                for start in range(0, len(samples), step)
            ]
            if sentence:
                events.append(
                    render.response("transcript.delta", **where, delta=(" " if spoken else "") + sentence)
                )
                spoken.append(sentence)
            if piece is None:
                if events:
                    yield events
                return
            yield events
    finally:
        close = getattr(pieces, "close", None)
        if close is not None:
            close()
