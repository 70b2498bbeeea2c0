"""Voice names: the Realtime API's voices and the Azure Speech names users already send.

The reference maps Azure names onto ``nova``, ``onyx`` and ``fable``, which do not exist in the
Realtime API; here every name resolves to a real voice of the same gender.
"""

from __future__ import annotations

from .errors import BadRequest

PREVIEW_VOICES = ("alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse")
GA_VOICES = (*PREVIEW_VOICES, "marin", "cedar")
DEFAULT_VOICE = "alloy"

#: Azure Speech voices (female -> female voice, male -> male voice) and the reference's
#: non-existent names kept as aliases.
ALIASES = {
    "jennyneural": "alloy",
    "guyneural": "echo",
    "arianeural": "coral",
    "davisneural": "ash",
    "janeneural": "shimmer",
    "jasonneural": "verse",
    "nova": "coral",
    "onyx": "ash",
    "fable": "ballad",
}
AZURE_NAMES = ("JennyNeural", "GuyNeural", "AriaNeural", "DavisNeural", "JaneNeural", "JasonNeural")


def voices_for(dialect: str) -> tuple[str, ...]:
    """The Realtime voices a session of this protocol dialect offers."""
    return GA_VOICES if dialect == "ga" else PREVIEW_VOICES


def resolve_voice(name: str | None, dialect: str) -> str:
    """The Realtime voice for a user-supplied name; :class:`BadRequest` listing valid names."""
    if name is None:
        return DEFAULT_VOICE
    if not isinstance(name, str):
        raise BadRequest("voiceName must be a string", code="invalid_voice")
    if not name.strip():
        return DEFAULT_VOICE
    key = name.strip().lower()
    if key.startswith("en-us-"):
        key = key[len("en-us-") :]
    key = ALIASES.get(key, key)
    valid = voices_for(dialect)
    if key not in valid:
        names = ", ".join((*valid, *AZURE_NAMES, "nova", "onyx", "fable"))
        raise BadRequest(f"unknown voice {name!r}; valid voices: {names}", code="invalid_voice")
    return key
