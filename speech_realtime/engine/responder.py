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
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..audio import StreamResampler, encode_wire
from .models import ASR_RATE, ENGINE_RATE, ModelSet
from .render import Event, Renderer, event
from .state import Conversation, Item, ResponsePlan, new_id

log = logging.getLogger(__name__)

#: Largest audio delta the engine sends, in seconds of audio.
DELTA_SECONDS = 0.5

Job = Iterator[list[Event]]


def transcript_of(item: Item, models: ModelSet, language: str | None = None) -> str:
    """The transcript of a user audio item, made once and kept on the item.

    The audio is let go once transcribed, so a long streaming session does not keep it all.
    """
    part = item.parts[0]
    if part.get("transcript") is None:
        samples = item.samples if item.samples is not None else np.zeros(0, dtype=np.float32)
        part["transcript"] = models.transcribe(samples, language) if len(samples) else ""
    item.samples = None
    return str(part["transcript"])


def interim_pieces(text: str) -> list[str]:
    """``text`` as word-sized deltas whose concatenation is ``text`` (at least one)."""
    return re.findall(r"\s*\S+", text) or [""]


def transcription(item: Item, models: ModelSet, language: str | None) -> Job:
    """``...input_audio_transcription.delta`` events, then ``.completed`` (or ``.failed``)."""
    where = {"item_id": item.id, "content_index": 0}
    seconds = round(len(item.samples) / ASR_RATE, 3) if item.samples is not None else 0.0
    try:
        text = transcript_of(item, models, language)
    except Exception as exc:
        log.warning("engine transcription of %s failed: %s", item.id, exc)
        failure = {"type": "server_error", "code": "transcription_failed", "message": "The model failed."}
        yield [event("conversation.item.input_audio_transcription.failed", **where, error=failure)]
        return
    deltas = [
        event("conversation.item.input_audio_transcription.delta", **where, delta=piece)
        for piece in interim_pieces(text)
    ]
    completed = event(
        "conversation.item.input_audio_transcription.completed",
        **where,
        transcript=text,
        usage={"type": "duration", "seconds": seconds},
    )
    yield [*deltas, completed]


def last_user_message(items: list[Item]) -> Item | None:
    """The item the echo model reads: the last user message."""
    return next((item for item in reversed(items) if item.role == "user" and item.parts), None)


def echo_text(items: list[Item], models: ModelSet) -> str:
    """The echo model: the last user message's text, or the transcript of its audio."""
    item = last_user_message(items)
    if item is None:
        return ""
    part = item.parts[-1]
    if part["type"] == "input_text":
        return str(part.get("text") or "")
    if part["type"] == "input_audio":
        return transcript_of(item, models)
    return ""


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
        text = echo_text(plan.source, models)
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
    """Audio and transcript deltas, one sentence per step, until done or cancelled."""
    fmt = plan.output_format
    step = int(DELTA_SECONDS * fmt.sample_rate)
    resampler = StreamResampler(ENGINE_RATE, fmt.sample_rate)
    pieces = models.synthesize(text, plan.speed)
    try:
        while not plan.cancelled:
            piece = next(pieces, None)
            if piece is None:
                return
            sentence, audio = piece
            samples = resampler.push(audio, last=not sentence)
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
            yield events
    finally:
        close = getattr(pieces, "close", None)
        if close is not None:
            close()
