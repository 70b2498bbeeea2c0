"""Voice names: the Realtime API's voices, and one catalogue of the Azure Speech voices users send.

The catalogue (:data:`CATALOGUE`) is the single source: the aliases (:data:`ALIASES`), the
Azure-shaped voice list (:func:`azure_voice_list`) and name resolution (:func:`resolve_voice`)
are all derived from it. Every Azure voice maps to a Realtime voice of the same gender that
exists in both protocol dialects (the GA-only ``marin``/``cedar`` are never a mapping target,
so a name means the same voice on every backend). The reference maps Azure names onto ``nova``,
``onyx`` and ``fable``, which do not exist in the Realtime API; they are kept as aliases.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .config import Dialect
from .errors import BadRequest

PREVIEW_VOICES = ("alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse")
GA_VOICES = (*PREVIEW_VOICES, "marin", "cedar")
DEFAULT_VOICE = "alloy"
#: The Azure Speech SDK's default voice (it maps to :data:`DEFAULT_VOICE`).
DEFAULT_AZURE_VOICE = "en-US-AvaMultilingualNeural"
#: Realtime voices by gender, for the catalogue's invariant (tested).
FEMALE_VOICES = frozenset({"alloy", "coral", "sage", "shimmer", "marin"})
MALE_VOICES = frozenset({"ash", "ballad", "echo", "verse", "cedar"})

_LOCALE_NAMES = {"en-US": "English (United States)"}
#: Azure reports a speaking rate per voice; ours is the Realtime voices' typical rate (estimated).
WORDS_PER_MINUTE = 150


@dataclass(frozen=True)
class AzureVoice:
    """One Azure Speech voice: its short name, as Azure spells it, and the Realtime voice it uses."""

    short_name: str
    gender: str
    realtime: str
    locale: str = "en-US"

    @property
    def key(self) -> str:
        """The locale-less name, e.g. ``JennyNeural``."""
        return self.short_name[len(self.locale) + 1 :]

    @property
    def display_name(self) -> str:
        """``Jenny``, ``Ava Multilingual``: Azure's DisplayName."""
        base = self.key.removesuffix("Neural")
        return re.sub(r"(?<=[a-z])(?=Multilingual$)", " ", base)

    @property
    def long_name(self) -> str:
        """Azure's ``Name``: ``Microsoft Server Speech Text to Speech Voice (en-US, JennyNeural)``."""
        return f"Microsoft Server Speech Text to Speech Voice ({self.locale}, {self.key})"

    def to_azure(self) -> dict[str, Any]:
        """This voice in the shape of Azure's ``GET /cognitiveservices/voices/list``."""
        return {
            "Name": self.long_name,
            "DisplayName": self.display_name,
            "LocalName": self.display_name,
            "ShortName": self.short_name,
            "Gender": self.gender,
            "Locale": self.locale,
            "LocaleName": _LOCALE_NAMES[self.locale],
            "SampleRateHertz": "24000",
            "VoiceType": "Neural",
            "Status": "GA",
            "WordsPerMinute": str(WORDS_PER_MINUTE),
        }


def _voices(gender: str, pairs: str) -> tuple[AzureVoice, ...]:
    return tuple(
        AzureVoice(f"en-US-{name}Neural", gender, voice)
        for name, voice in (pair.split("=") for pair in pairs.split())
    )


#: The en-US neural voices of Azure's language list (prebuilt, generally available), each on a
#: Realtime voice of its gender. The reference's six keep their documented mapping; the SDK's
#: default voice (Ava) reads with the service's default voice.
CATALOGUE: tuple[AzureVoice, ...] = (
    *_voices(
        "Female",
        "AvaMultilingual=alloy Ava=alloy EmmaMultilingual=sage Emma=sage Jenny=alloy "
        "JennyMultilingual=alloy Aria=coral Jane=shimmer Sara=coral Nancy=shimmer Luna=sage "
        "CoraMultilingual=coral Cora=coral Amber=shimmer Ana=sage Ashley=coral Elizabeth=sage "
        "Michelle=shimmer Monica=coral",
    ),
    *_voices(
        "Male",
        "AndrewMultilingual=ash Andrew=ash BrianMultilingual=echo Brian=echo Guy=echo Davis=ash "
        "Jason=verse Tony=ballad Kai=verse ChristopherMultilingual=ballad Christopher=ballad "
        "BrandonMultilingual=verse Brandon=verse Eric=echo Jacob=ash Roger=ballad "
        "RyanMultilingual=verse SteffanMultilingual=echo Steffan=echo",
    ),
)

#: The six names the reference application maps (kept for its clients and its docs).
REFERENCE_NAMES = ("JennyNeural", "GuyNeural", "AriaNeural", "DavisNeural", "JaneNeural", "JasonNeural")
#: The reference's voice names that do not exist in the Realtime API.
LEGACY_ALIASES = {"nova": "coral", "onyx": "ash", "fable": "ballad"}
#: Every catalogue voice's locale-less name, e.g. ``JennyNeural``.
AZURE_NAMES = tuple(voice.key for voice in CATALOGUE)

_BY_KEY = {voice.key.lower(): voice for voice in CATALOGUE}
#: Lower-cased accepted name -> Realtime voice: the catalogue's short forms and legacy names.
ALIASES: dict[str, str] = {**{key: voice.realtime for key, voice in _BY_KEY.items()}, **LEGACY_ALIASES}

_LONG_NAME = re.compile(r"^microsoft server speech text to speech voice \(([\w-]+),\s*(\w+)\)$")


def voices_for(dialect: Dialect) -> tuple[str, ...]:
    """The Realtime voices a session of this protocol dialect offers."""
    return GA_VOICES if dialect == Dialect.GA else PREVIEW_VOICES


def azure_voice(name: str) -> AzureVoice | None:
    """The catalogue voice ``name`` names, in any of Azure's spellings, case-insensitive.

    Accepted: ``en-US-JennyNeural``, ``JennyNeural``, ``Jenny`` and Azure's long ``Name``
    (``Microsoft Server Speech Text to Speech Voice (en-US, JennyNeural)``).
    """
    key = name.strip().lower()
    if match := _LONG_NAME.match(key):
        locale, key = match.groups()
        voice = _BY_KEY.get(key)
        return voice if voice and voice.locale.lower() == locale else None
    if key.startswith("en-us-"):
        key = key[len("en-us-") :]
    return _BY_KEY.get(key) or _BY_KEY.get(f"{key}neural")


def azure_voice_list() -> list[dict[str, Any]]:
    """The catalogue as Azure's ``GET /cognitiveservices/voices/list`` returns voices."""
    return [voice.to_azure() for voice in CATALOGUE]


def resolve_voice(name: str | None, dialect: Dialect) -> str:
    """The Realtime voice for a user-supplied name; :class:`BadRequest` (``voice``) listing valid names."""
    if name is None:
        return DEFAULT_VOICE
    if not isinstance(name, str):
        raise BadRequest("the voice must be a string", code="invalid_voice", param="voice")
    if not name.strip():
        return DEFAULT_VOICE
    key = name.strip().lower()
    azure = azure_voice(key)
    voice = azure.realtime if azure else LEGACY_ALIASES.get(key, key)
    valid = voices_for(dialect)
    if voice not in valid:
        names = ", ".join((*valid, *(v.short_name for v in CATALOGUE), *LEGACY_ALIASES))
        raise BadRequest(
            f"unknown voice {name[:80]!r}; valid voices: {names}", code="invalid_voice", param="voice"
        )
    return voice
