"""SSML (Speech Synthesis Markup Language) as Azure Speech takes it, parsed safely into voiced parts.

Parsing uses the standard library's expat with every door to the outside shut: a size limit
before parsing, any DOCTYPE refused (so no entity can be declared, hence no entity expansion and
no external entity), external entity references refused, and a nesting limit. Malformed input,
an undefined entity and anything refused become :class:`BadRequest` with the line and column.

What the parts mean:

- ``<voice name>`` selects the voice of the text inside (any accepted name; resolved later, by
  the service, per backend); text outside any ``<voice>`` reads with ``default_voice``;
- ``<prosody rate>`` sets the speaking speed on Azure's scale (keywords ``x-slow`` .. ``x-fast``,
  ``+20%``/``-20%``, and multipliers such as ``1.5``; nested values are relative to the
  enclosing one), kept within Azure's 0.5 .. 2.0;
- ``<break time|strength>`` becomes silence (Azure's strengths: x-weak 250 ms .. x-strong
  1250 ms, 750 ms when unspecified; at most 20 s each, 600 s in all);
- at most 50 ``<voice>`` elements (Azure's limit) and 200 readings (text with one voice, speed
  and style; each is an upstream session);
- ``<bookmark mark>`` becomes a :class:`Mark` at a character position of the text it precedes
  (or ends, when a break or the document's end follows it);
- ``<sub alias>`` reads its alias; ``<mstts:express-as style>`` becomes a style hint;
- every other element (``say-as``, ``phoneme``, ``emphasis``, ``lang``, ``audio``, ...) is read
  as the text it contains, never as markup; ``<p>``, ``<s>`` and ``<voice>`` separate words.

Consecutive text with the same voice, speed and style is one :class:`Text` (one upstream reading).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from xml.parsers import expat

from .errors import BadRequest

#: Largest SSML document accepted (Azure limits a synthesis request to 64 KiB of SSML).
MAX_SSML_BYTES = 64 * 1024
MAX_DEPTH = 32
#: Azure's speaking-rate range (multipliers of the voice's default rate).
RATE_RANGE = (0.5, 2.0)
RATE_KEYWORDS = {"x-slow": 0.5, "slow": 0.64, "medium": 1.0, "default": 1.0, "fast": 1.55, "x-fast": 2.0}
BREAK_STRENGTHS = {"none": 0.0, "x-weak": 0.25, "weak": 0.5, "medium": 0.75, "strong": 1.0, "x-strong": 1.25}
DEFAULT_BREAK = 0.75
MAX_BREAK_SECONDS = 20.0
#: Most silence one document may ask for (Azure's limit on the audio of one request, 10 minutes):
#: without it, 64 KiB of 20 s breaks would make a small request stream hours of audio.
MAX_TOTAL_BREAK_SECONDS = 600.0
#: Azure's limit on ``<voice>`` elements per request.
MAX_VOICES = 50
#: Most parts read one after another (each is an upstream session): text split by prosody or
#: style changes within the voices counts too.
MAX_READINGS = 200
_SEPARATING = {"voice", "p", "s", "speak"}
_TIME = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s)\s*$", re.IGNORECASE)
_PERCENT = re.compile(r"^\s*([+-]?\d+(?:\.\d+)?)\s*%\s*$")
_NUMBER = re.compile(r"^\s*[+]?\d+(?:\.\d+)?\s*$")
_STYLE = re.compile(r"[A-Za-z][\w-]{0,39}")
_DECLARED_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([^"']{0,40})["']""")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Mark:
    """A bookmark: its name and the character position in its :class:`Text` where it stands."""

    name: str
    position: int


@dataclass(frozen=True)
class Text:
    """Text to read with one voice, speed and style; whitespace collapsed."""

    text: str
    voice: str | None = None
    speed: float = 1.0
    style: str | None = None
    marks: tuple[Mark, ...] = ()


@dataclass(frozen=True)
class Break:
    """Silence of ``seconds``."""

    seconds: float


Part = Text | Break


@dataclass(frozen=True)
class Document:
    """A parsed SSML document: its parts in reading order, and the ``xml:lang`` of ``<speak>``."""

    parts: tuple[Part, ...]
    language: str | None = None

    @property
    def texts(self) -> tuple[Text, ...]:
        return tuple(part for part in self.parts if isinstance(part, Text))

    @property
    def text(self) -> str:
        """Everything that is read, in order (for logs, limits and checks)."""
        return " ".join(part.text for part in self.texts)


def _bad(message: str, parser: expat.XMLParserType | None = None, code: str = "invalid_ssml") -> BadRequest:
    where = f" (line {parser.CurrentLineNumber}, column {parser.CurrentColumnNumber + 1})" if parser else ""
    return BadRequest(f"{message}{where}", code=code, param="text")


def parse_rate(value: str, current: float = 1.0) -> float:
    """The speed ``<prosody rate=value>`` sets inside text read at ``current``."""
    value = value.strip().lower()
    if value in RATE_KEYWORDS:
        rate = RATE_KEYWORDS[value]
    elif match := _PERCENT.match(value):
        rate = current * (1 + float(match.group(1)) / 100)
    elif _NUMBER.match(value):
        rate = current * float(value)
    else:
        raise BadRequest(
            f"prosody rate {value[:40]!r} is not x-slow, slow, medium, fast, x-fast, a percentage "
            "such as +20% or -10%, or a multiplier such as 1.5",
            code="invalid_ssml",
            param="speed",
        )
    if not math.isfinite(rate):
        raise BadRequest(
            f"prosody rate {value[:40]!r} is not a finite number", code="invalid_ssml", param="speed"
        )
    low, high = RATE_RANGE
    return min(high, max(low, rate))


def parse_break(time: str | None, strength: str | None) -> float:
    """The seconds of silence ``<break time strength>`` means; ``time`` wins when both are given."""
    if time is not None:
        match = _TIME.match(time)
        if not match:
            raise BadRequest(
                f"break time {time[:40]!r} is not a duration such as 500ms or 2s",
                code="invalid_ssml",
                param="text",
            )
        seconds = float(match.group(1)) / (1000 if match.group(2).lower() == "ms" else 1)
        return min(seconds, MAX_BREAK_SECONDS)
    if strength is not None:
        if strength.strip().lower() not in BREAK_STRENGTHS:
            raise BadRequest(
                f"break strength {strength[:40]!r} is not one of {', '.join(BREAK_STRENGTHS)}",
                code="invalid_ssml",
                param="text",
            )
        return BREAK_STRENGTHS[strength.strip().lower()]
    return DEFAULT_BREAK


@dataclass(frozen=True)
class _Scope:
    """What an open element sets for the text inside it."""

    name: str
    voice: str | None
    speed: float
    style: str | None
    silent: bool = False


class _Builder:
    """Collects parts from expat's callbacks; one per document."""

    def __init__(self, parser: expat.XMLParserType, default_voice: str | None) -> None:
        self.parser = parser
        self.stack: list[_Scope] = []
        self.default_voice = default_voice
        self.language: str | None = None
        self.parts: list[Part] = []
        self.run: str = ""
        self.run_key: tuple[str | None, float, str | None] | None = None
        self.run_marks: list[Mark] = []
        self.pending: list[str] = []
        self.break_since_text = True
        self.silence = 0.0
        self.voices = 0
        self.readings = 0

    # -- expat callbacks --------------------------------------------------------------------------

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        name = tag.rsplit(":", 1)[-1].lower()
        if not self.stack:
            if name != "speak":
                raise _bad(f"the root element must be <speak>, not <{tag}>", self.parser)
            self.language = attrs.get("xml:lang") or None
            self.stack.append(_Scope("speak", self.default_voice, 1.0, None))
            return
        if len(self.stack) >= MAX_DEPTH:
            raise _bad(f"elements are nested more than {MAX_DEPTH} deep", self.parser)
        scope = self.stack[-1]
        if name in _SEPARATING:
            self.separate()
        if name == "voice":
            self.voices += 1
            if self.voices > MAX_VOICES:
                raise _bad(f"the SSML has more than {MAX_VOICES} <voice> elements", self.parser)
            scope = replace(scope, voice=attrs.get("name", "").strip() or scope.voice)
        elif name == "prosody" and "rate" in attrs:
            scope = replace(scope, speed=parse_rate(attrs["rate"], scope.speed))
        elif name == "express-as" and _STYLE.fullmatch(attrs.get("style", "")):
            scope = replace(scope, style=attrs["style"].lower())
        elif name == "break":
            self.add_break(parse_break(attrs.get("time"), attrs.get("strength")))
        elif name == "bookmark" and attrs.get("mark"):
            self.add_mark(attrs["mark"])
        elif name == "sub" and "alias" in attrs:
            self.text(attrs["alias"], scope)
            scope = replace(scope, silent=True)
        self.stack.append(replace(scope, name=name))

    def end(self, tag: str) -> None:
        scope = self.stack.pop()
        if scope.name in _SEPARATING:
            self.separate()

    def characters(self, data: str) -> None:
        scope = self.stack[-1]
        if not scope.silent:
            self.text(data, scope)

    # -- building ---------------------------------------------------------------------------------

    def text(self, data: str, scope: _Scope) -> None:
        if not data:
            return
        key = (scope.voice, scope.speed, scope.style)
        if key != self.run_key and data.strip():
            self.flush()
            self.run_key = key
        if self.run_key is None:
            return
        collapsed = _SPACE.sub(" ", data)
        if self.run.endswith(" ") and collapsed.startswith(" "):
            collapsed = collapsed[1:]
        if not self.run:
            collapsed = collapsed.lstrip()
            if collapsed:
                self.run_marks.extend(Mark(name, 0) for name in self.pending)
                self.pending.clear()
        self.run += collapsed

    def separate(self) -> None:
        if self.run and not self.run.endswith(" "):
            self.run += " "

    def add_break(self, seconds: float) -> None:
        self.silence += seconds
        if self.silence > MAX_TOTAL_BREAK_SECONDS:
            raise _bad(f"the breaks add up to over {MAX_TOTAL_BREAK_SECONDS:g} s of silence", self.parser)
        if seconds > 0:
            self.flush()
            self.parts.append(Break(seconds))
            self.break_since_text = True

    def add_mark(self, name: str) -> None:
        if self.run.strip():
            self.run_marks.append(Mark(name, len(self.run)))
        elif not self.break_since_text:
            last = self.parts[-1]
            assert isinstance(last, Text)
            self.parts[-1] = replace(last, marks=(*last.marks, Mark(name, len(last.text))))
        else:
            self.pending.append(name)

    def flush(self) -> None:
        text = self.run.strip()
        if text and self.run_key is not None:
            voice, speed, style = self.run_key
            marks = tuple(replace(mark, position=min(mark.position, len(text))) for mark in self.run_marks)
            self.parts.append(Text(text, voice, speed, style, marks))
            self.readings += 1
            if self.readings > MAX_READINGS:
                raise _bad(f"the SSML asks for more than {MAX_READINGS} separate readings", self.parser)
            self.break_since_text = False
        self.run, self.run_key, self.run_marks = "", None, []

    def finish(self) -> Document:
        self.flush()
        texts = [i for i, part in enumerate(self.parts) if isinstance(part, Text)]
        if not texts:
            raise BadRequest("the SSML has no text to speak", code="empty_text", param="text")
        if self.pending:
            last = self.parts[texts[-1]]
            assert isinstance(last, Text)
            trailing = tuple(Mark(name, len(last.text)) for name in self.pending)
            self.parts[texts[-1]] = replace(last, marks=(*last.marks, *trailing))
        return Document(tuple(self.parts), self.language)


def _refuse(what: str, parser: expat.XMLParserType) -> Callable[..., None]:
    def handler(*_: object) -> None:
        raise _bad(f"SSML must not contain {what}", parser, code="ssml_refused")

    return handler


def _unreadable_encoding(data: bytes | str) -> BadRequest | None:
    """The error for a document whose XML declaration names an encoding expat cannot read
    (unknown, or multi-byte other than UTF-8 and UTF-16); None if it declares none."""
    head = data[:200].encode() if isinstance(data, str) else data[:200]
    match = _DECLARED_ENCODING.match(head)
    if match is None:
        return None
    name = match.group(1).decode("ascii", errors="replace")
    return BadRequest(
        f"the SSML declares encoding {name!r}, which this service cannot read; send UTF-8",
        code="invalid_ssml",
        param="text",
    )


def parse_ssml(
    data: bytes | str, *, default_voice: str | None = None, max_bytes: int = MAX_SSML_BYTES
) -> Document:
    """The voiced parts of an SSML document; :class:`BadRequest` for anything malformed or refused."""
    size = len(data.encode() if isinstance(data, str) else data)
    if size > max_bytes:
        raise BadRequest(
            f"the SSML is {size} bytes; the limit is {max_bytes}", code="ssml_too_large", param="text"
        )
    if not data.strip():
        raise BadRequest("the SSML document is empty", code="empty_text", param="text")
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    builder = _Builder(parser, default_voice)
    parser.StartDoctypeDeclHandler = _refuse(
        "a DOCTYPE (DTDs and entity declarations are not accepted)", parser
    )
    parser.EntityDeclHandler = _refuse("entity declarations", parser)
    parser.ExternalEntityRefHandler = _refuse("external entities", parser)
    parser.StartElementHandler = builder.start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.characters
    try:
        parser.Parse(data, True)
    except (LookupError, ValueError) as exc:  # expat's "unknown encoding" handler refused the declared one
        raise _unreadable_encoding(data) or exc from None
    except expat.ExpatError as exc:
        message = expat.errors.messages[exc.code]
        raise BadRequest(
            f"malformed SSML: {message} (line {exc.lineno}, column {exc.offset + 1})",
            code="invalid_ssml",
            param="text",
        ) from None
    return builder.finish()
