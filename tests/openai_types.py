"""Validation of Realtime events against the typed models of the official ``openai`` package.

The package's unions carry its own discriminator marker; they are rebuilt here with pydantic's
``Field(discriminator="type")``. Its models allow extra fields, so validation also walks the
result and fails on anything that landed in ``model_extra`` (a misspelt or misplaced field).
"""

from __future__ import annotations

from typing import Annotated, Any, Union, get_args

from openai.types import realtime as ga
from openai.types.beta import realtime as preview
from pydantic import BaseModel, Field, TypeAdapter


def _adapter(union: Any) -> TypeAdapter[Any]:
    members = get_args(get_args(union)[0])
    return TypeAdapter(Annotated[Union[members], Field(discriminator="type")])  # noqa: UP007


CLIENT = {"ga": _adapter(ga.RealtimeClientEvent), "preview": _adapter(preview.RealtimeClientEvent)}
SERVER = {"ga": _adapter(ga.RealtimeServerEvent), "preview": _adapter(preview.RealtimeServerEvent)}


def extras(value: Any, path: str = "") -> list[str]:
    """Paths of every field that no model declared."""
    found: list[str] = []
    if isinstance(value, BaseModel):
        found += [f"{path}.{name}" for name in (value.model_extra or {})]
        for name in type(value).model_fields:
            found += extras(getattr(value, name), f"{path}.{name}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found += extras(item, f"{path}[{index}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            found += extras(item, f"{path}.{key}")
    return found


#: Fields the real services send on session objects that the SDK's models do not declare (GA
#: types session.created's session as the *create request*, which has no id or expiry).
SESSION_FIELDS_NOT_MODELLED = {".session.id", ".session.object", ".session.expires_at"}


#: Documented extensions (docs/engine.md): fields an event may carry beyond the SDK's model. The
#: models allow extra fields, so SDK clients read these events unchanged; the shape is checked here.
EXTENSIONS = {"conversation.item.input_audio_transcription.completed": ".x_segments"}


class _Word(BaseModel, extra="forbid"):
    word: str
    start: float
    end: float


class _Segment(BaseModel, extra="forbid"):
    text: str
    start: float
    end: float
    words: list[_Word]


_SEGMENTS = TypeAdapter(list[_Segment])


def _validate(adapters: dict[str, TypeAdapter[Any]], dialect: str, event: dict[str, Any]) -> BaseModel:
    model = adapters[dialect].validate_python(event)
    extension = EXTENSIONS.get(event["type"])
    if extension is not None and extension[1:] in event:
        _SEGMENTS.validate_python(event[extension[1:]])
    allowed = SESSION_FIELDS_NOT_MODELLED | ({extension} if extension else set())
    leftover = [path for path in extras(model) if path not in allowed]
    assert not leftover, f"{event['type']} ({dialect}) has undeclared fields: {leftover}"
    return model


def validate_client_event(dialect: str, event: dict[str, Any]) -> BaseModel:
    return _validate(CLIENT, dialect, event)


def validate_server_event(dialect: str, event: dict[str, Any]) -> BaseModel:
    return _validate(SERVER, dialect, event)
