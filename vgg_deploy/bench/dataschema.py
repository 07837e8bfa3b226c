"""JSON Schema (draft 2020-12) from dataclasses: the records are the truth, the schema is derived from them.

A field's type hint gives its JSON type (str, int, float, bool, None, Literal, list/tuple, dict[str, X], unions,
nested dataclasses as `$defs` references); a field's `metadata=schema_meta(...)` adds what a type cannot say
(minimum, maximum, minItems, ...) or, with `schema_of=`, the record a free-form dict follows. A field without a default is required.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Literal, Union

__all__ = ["schema_meta", "dataclass_schema"]

_SCALARS: dict[Any, str] = {str: "string", int: "integer", float: "number", bool: "boolean", type(None): "null"}


def schema_meta(*, minimum: float | None = None, maximum: float | None = None, min_items: int | None = None,
                max_items: int | None = None, required: tuple[str, ...] = (), schema_of: Any = None) -> dict[str, Any]:
    """A field's metadata with the schema keywords its type hint cannot carry (for arrays: their items' bounds):
    `x: int = field(metadata=schema_meta(minimum=1))`.

    required: keys a free-form dict (dict[str, Any]) must have; schema_of: the type whose schema a free-form
    dict follows (its JSON keeps the producer's key order and extra keys)."""
    keywords: dict[str, Any] = {"minimum": minimum, "maximum": maximum, "minItems": min_items, "maxItems": max_items}
    return {"json": {k: v for k, v in keywords.items() if v is not None}, "required": list(required),
            "schema_of": schema_of}


def dataclass_schema(root: type, *, title: str, schema_id: str) -> dict[str, Any]:
    """The JSON Schema of `root` (a dataclass), its nested dataclasses under `$defs`."""
    defs: dict[str, Any] = {}
    body = _object(root, defs)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": schema_id, "title": title, **body,
            "$defs": dict(sorted(defs.items()))}


def _object(cls: type, defs: dict[str, Any]) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for field in dataclasses.fields(cls):
        meta = field.metadata
        schema = _type(meta["schema_of"] if meta.get("schema_of") else hints[field.name], defs, meta.get("json", {}))
        if meta.get("required"):
            schema["required"] = list(meta["required"])
        properties[field.name] = schema
        if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            required.append(field.name)
    return {"type": "object", "required": required, "properties": properties}


def _type(hint: Any, defs: dict[str, Any], keywords: dict[str, Any]) -> dict[str, Any]:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return {}
    if hint in _SCALARS:
        return {"type": _SCALARS[hint], **_numeric(hint, keywords)}
    if dataclasses.is_dataclass(hint):
        name = hint.__name__  # type: ignore[union-attr]
        if name not in defs:
            defs[name] = {}  # a placeholder first: a record that refers to itself terminates
            defs[name] = _object(hint, defs)  # type: ignore[arg-type]
        return {"$ref": f"#/$defs/{name}"}
    if origin is Literal:
        return {"const": args[0]} if len(args) == 1 else {"enum": list(args)}
    if origin in (list, tuple):
        item = args[0] if args else Any
        array_keys = {k: v for k, v in keywords.items() if k in ("minItems", "maxItems")}
        return {"type": "array", "items": _type(item, defs, keywords), **array_keys}
    if origin is dict:
        value = args[1] if len(args) > 1 else Any
        return {"type": "object"} if value is Any else {"type": "object",
                                                         "additionalProperties": _type(value, defs, keywords)}
    if origin in (Union, types.UnionType):
        options = [_type(arg, defs, keywords) for arg in args]
        if all(set(o) <= {"type", "minimum", "maximum"} and isinstance(o.get("type"), str) for o in options):
            merged: dict[str, Any] = {"type": [o["type"] for o in options]}
            for o in options:
                merged.update({k: v for k, v in o.items() if k != "type"})
            return merged
        return {"anyOf": options}
    raise TypeError(f"no JSON Schema for the type hint {hint!r}")


def _numeric(hint: Any, keywords: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in keywords.items() if k in ("minimum", "maximum")} if hint in (int, float) else {}
