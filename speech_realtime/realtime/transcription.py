"""Transcription-only deployments and what each transcription model takes.

A transcription-only deployment (Azure ``gpt-live-transcribe``, OpenAI ``gpt-realtime-whisper``,
...) serves only Realtime *transcription* sessions: the connection asks for them
(``intent=transcription``) and the session is configured as one (GA ``session.type:
"transcription"``, preview ``transcription_session.update``). :class:`TranscriptionSession`
describes such a deployment; :class:`ModelTraits` says which of the newer transcription fields
a model has, as the ``openai`` package's ``AudioTranscription`` documents them:

- ``keywords`` and ``languages``: ``gpt-transcribe`` and ``gpt-live-transcribe``;
- ``delay``: ``gpt-realtime-whisper``, which takes no ``prompt`` and no turn detection
  (``turn_detection`` must be null: it has no VAD);
- log probabilities: not from ``whisper-1`` (OpenAI documents them for the ``gpt-4o-*-transcribe``
  models; others are asked and checked).

Azure names deployments freely, so the model behind a deployment is configured separately
(``AZURE_OPENAI_TRANSCRIBE_DEPLOYMENT_MODEL``, defaulting to the deployment's name).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..config import Backend, Dialect, Settings
from ..options import MAX_PROMPT_CHARS, TokenLogprob

KEYWORD_MODELS = frozenset({"gpt-transcribe", "gpt-live-transcribe"})
DELAY_MODELS = frozenset({"gpt-realtime-whisper"})
#: Models without a prompt or turn detection in transcription sessions.
NO_PROMPT_MODELS = DELAY_MODELS
#: Models known to give no log probabilities.
NO_LOGPROB_MODELS = frozenset({"whisper-1", "gpt-realtime-whisper"})
#: The ``include`` entry that asks for the transcription's log probabilities.
LOGPROBS_INCLUDE = "item.input_audio_transcription.logprobs"


@dataclass(frozen=True)
class ModelTraits:
    """Which transcription fields a model takes, from its (OpenAI) model name."""

    name: str

    @property
    def keywords(self) -> bool:
        return self.name in KEYWORD_MODELS

    @property
    def delay(self) -> bool:
        return self.name in DELAY_MODELS

    @property
    def prompt(self) -> bool:
        return self.name not in NO_PROMPT_MODELS

    @property
    def vad(self) -> bool:
        return self.name not in NO_PROMPT_MODELS

    @property
    def logprobs(self) -> bool:
        """False where the model is known to give none; True means 'ask and see'."""
        return self.name not in NO_LOGPROB_MODELS


@dataclass(frozen=True)
class TranscriptionSession:
    """A transcription-only deployment that recognition runs on.

    ``model``: the name sent as the transcription model (on Azure the deployment's name);
    ``traits``: what the model behind it takes; ``noise_reduction``: ``near_field``,
    ``far_field`` or None (not sent: the service's default, off); ``delay``: sent only to models
    that have it.
    """

    model: str
    traits: ModelTraits
    noise_reduction: str | None = None
    delay: str | None = None


def keywords_in_prompt(prompt: str | None, keywords: tuple[str, ...], limit: int) -> str | None:
    """``prompt`` followed by ``keywords``, for models without a ``keywords`` field.

    Whisper-style models take a prompt listing the words to expect (OpenAI's prompting guide);
    keywords are added, comma-separated, while the prompt stays within ``limit`` characters.
    """
    listed = ""
    for keyword in keywords:
        joined = f"{listed}, {keyword}" if listed else keyword
        if len(prompt or "") + 1 + len(joined) > limit:
            break
        listed = joined
    parts = [part for part in (prompt, listed) if part]
    return " ".join(parts) or None


def transcription_settings(
    dialect: Dialect,
    model: str,
    traits: ModelTraits,
    language: str | None,
    prompt: str | None,
    keywords: tuple[str, ...],
) -> dict[str, Any]:
    """A session's transcription settings: ``keywords`` as such where the model (and the GA
    dialect: the preview types have no such field) takes them, else in the prompt; no prompt
    for models that take none."""
    transcription: dict[str, Any] = {"model": model}
    if language:
        transcription["language"] = language
    if keywords and traits.keywords and dialect == Dialect.GA:
        transcription["keywords"] = list(keywords)
    elif keywords:
        prompt = keywords_in_prompt(prompt, keywords, MAX_PROMPT_CHARS)
    if prompt and traits.prompt:
        transcription["prompt"] = prompt
    return transcription


def token_logprobs(value: Any) -> tuple[TokenLogprob, ...] | None:
    """The ``logprobs`` of a transcription event (``[{token, logprob, bytes}]``); None when the
    event has none. Entries that are not such objects are skipped."""
    if not isinstance(value, list):
        return None
    found: list[TokenLogprob] = []
    for entry in value:
        if not isinstance(entry, dict):
            continue
        token, logprob, raw = entry.get("token"), entry.get("logprob"), entry.get("bytes")
        if not isinstance(token, str) or isinstance(logprob, bool) or not isinstance(logprob, int | float):
            continue
        data = tuple(b for b in raw if isinstance(b, int)) if isinstance(raw, list) else ()
        found.append(TokenLogprob(token, float(logprob), data))
    return tuple(found)


def transcription_session_for(settings: Settings) -> TranscriptionSession | None:
    """The configured transcription-only deployment, or None when recognition runs on realtime
    sessions."""
    name = settings.transcription_deployment
    if not name:
        return None
    traits = ModelTraits(settings.transcription_traits_model or name)
    return TranscriptionSession(name, traits, settings.noise_reduction, settings.transcribe_delay)


def logprobs_unavailable(settings: Settings, session: TranscriptionSession | None) -> str | None:
    """Why recognition on this configuration cannot give log probabilities, or None if it can
    (or may: the model is asked, and a transcript without them is refused then)."""
    if settings.backend == Backend.LOCAL:
        return "the local engine reports no log probabilities"
    if session is None and settings.dialect == Dialect.PREVIEW:
        return (
            "a preview (api-version) realtime session cannot ask for log probabilities; "
            "use the GA endpoint or a transcription deployment"
        )
    traits = session.traits if session else ModelTraits(settings.transcribe_model)
    if not traits.logprobs:
        return f"the transcription model {traits.name} gives no log probabilities"
    return None
