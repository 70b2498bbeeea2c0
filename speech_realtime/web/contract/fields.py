"""One request field, declared once: what the route's checks read and what the OpenAPI schema shows.

A :class:`Field` holds a field's name as the client sends it, its JSON type, whether it is
required, its enum, default, bounds and length limit, and the semantic input (``param``) the
error renderers map. The checks of each family (:mod:`..inputs`, :mod:`..openai_requests`,
:mod:`..azure_speech`) take a :class:`Field` instead of a loose name and bounds, and
:meth:`Field.schema` writes the same facts as JSON Schema, so the contract cannot say one
thing while the code checks another.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True)
class Field:
    """A request field (JSON property, form field, query parameter or header).

    ``type`` is a JSON Schema type (``string``, ``integer``, ``number``, ``boolean``,
    ``object``, ``array``); ``enum`` the accepted values (matched case-insensitively where
    the check says so, as Azure does); ``minimum``/``maximum`` inclusive bounds (on numbers);
    ``max_length`` a string's limit in characters; ``blank``: an empty string counts as
    absent (the default applies), so ``""`` joins the enum; ``param`` the semantic input named in
    errors (``text``, ``voice``, ``audio``, ``rate``, ...); ``schema_extra`` JSON Schema
    keywords the simple ones cannot say (``format``, ``oneOf``, ``items``).
    """

    name: str
    type: str
    description: str = ""
    required: bool = False
    enum: tuple[Any, ...] = ()
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    max_length: int | None = None
    param: str | None = None
    blank: bool = False
    schema_extra: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def bounds(self) -> tuple[float, float]:
        """``(minimum, maximum)`` for the number checks (unbounded ends as infinities)."""
        low = float("-inf") if self.minimum is None else self.minimum
        high = float("inf") if self.maximum is None else self.maximum
        return low, high

    def schema(self, *, nullable: bool = False) -> dict[str, Any]:
        """This field as JSON Schema (OpenAPI 3.1); ``nullable``: JSON ``null`` is taken as absent."""
        schema: dict[str, Any] = {"type": self.type}
        if self.description:
            schema["description"] = self.description
        if self.enum:
            schema["enum"] = [*self.enum, ""] if self.blank else list(self.enum)
        if self.default is not None:
            schema["default"] = self.default
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        if self.max_length is not None:
            schema["maxLength"] = self.max_length
        schema.update(self.schema_extra)
        if nullable:
            kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
            schema["type"] = [*kinds, "null"]
            if "enum" in schema:
                schema["enum"] = [*schema["enum"], None]
        return schema


def object_schema(fields: Iterable[Field], *, nullable: Iterable[Field] = ()) -> dict[str, Any]:
    """A JSON object of ``fields`` (``nullable``: those whose ``null`` is taken as absent).
    Other properties are allowed: every route ignores fields it does not know."""
    fields = tuple(fields)
    nulls = {spec.name for spec in nullable}
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {spec.name: spec.schema(nullable=spec.name in nulls) for spec in fields},
    }
    required = [spec.name for spec in fields if spec.required]
    if required:
        schema["required"] = required
    return schema
