"""Language names as OpenAI's transcription answers give them, and the backends' fixed languages.

OpenAI's ``verbose_json`` reports ``language`` as Whisper's full lower-case name (``english``,
``german``), not a code. :data:`WHISPER_NAMES` is Whisper's own table (ISO-639-1 codes, plus
``haw`` and ``yue``; ``jw`` is Whisper's spelling of Javanese), with the codes Azure locales use
where they differ (``nb-NO``, ``jv-ID``, ``fil-PH``).
"""

from __future__ import annotations

from .config import Backend

WHISPER_NAMES: dict[str, str] = {
    "en": "english", "zh": "chinese", "de": "german", "es": "spanish", "ru": "russian",
    "ko": "korean", "fr": "french", "ja": "japanese", "pt": "portuguese", "tr": "turkish",
    "pl": "polish", "ca": "catalan", "nl": "dutch", "ar": "arabic", "sv": "swedish",
    "it": "italian", "id": "indonesian", "hi": "hindi", "fi": "finnish", "vi": "vietnamese",
    "he": "hebrew", "uk": "ukrainian", "el": "greek", "ms": "malay", "cs": "czech",
    "ro": "romanian", "da": "danish", "hu": "hungarian", "ta": "tamil", "no": "norwegian",
    "th": "thai", "ur": "urdu", "hr": "croatian", "bg": "bulgarian", "lt": "lithuanian",
    "la": "latin", "mi": "maori", "ml": "malayalam", "cy": "welsh", "sk": "slovak",
    "te": "telugu", "fa": "persian", "lv": "latvian", "bn": "bengali", "sr": "serbian",
    "az": "azerbaijani", "sl": "slovenian", "kn": "kannada", "et": "estonian", "mk": "macedonian",
    "br": "breton", "eu": "basque", "is": "icelandic", "hy": "armenian", "ne": "nepali",
    "mn": "mongolian", "bs": "bosnian", "kk": "kazakh", "sq": "albanian", "sw": "swahili",
    "gl": "galician", "mr": "marathi", "pa": "punjabi", "si": "sinhala", "km": "khmer",
    "sn": "shona", "yo": "yoruba", "so": "somali", "af": "afrikaans", "oc": "occitan",
    "ka": "georgian", "be": "belarusian", "tg": "tajik", "sd": "sindhi", "gu": "gujarati",
    "am": "amharic", "yi": "yiddish", "lo": "lao", "uz": "uzbek", "fo": "faroese",
    "ht": "haitian creole", "ps": "pashto", "tk": "turkmen", "nn": "nynorsk", "mt": "maltese",
    "sa": "sanskrit", "lb": "luxembourgish", "my": "myanmar", "bo": "tibetan", "tl": "tagalog",
    "mg": "malagasy", "as": "assamese", "tt": "tatar", "haw": "hawaiian", "ln": "lingala",
    "ha": "hausa", "ba": "bashkir", "jw": "javanese", "su": "sundanese", "yue": "cantonese",
    "nb": "norwegian", "jv": "javanese", "fil": "tagalog",
}  # fmt: skip

#: The one language a backend's transcription model speaks, where it has only one: the
#: offline engine's model is Whisper tiny.en (English only). The cloud models detect.
FIXED_LANGUAGES: dict[Backend, str] = {Backend.LOCAL: "en"}


def primary(tag: str) -> str:
    """The primary subtag of a language tag, lower case: ``en`` for ``en-US``."""
    return tag.replace("_", "-").split("-", 1)[0].lower()


def language_name(tag: str | None) -> str | None:
    """Whisper's name of the language ``tag`` names (``en-US`` -> ``english``); None if unknown."""
    return WHISPER_NAMES.get(primary(tag)) if tag else None


def fixed_language(backend: Backend) -> str | None:
    """The ISO-639-1 code of the only language ``backend`` transcribes; None if it detects."""
    return FIXED_LANGUAGES.get(backend)
