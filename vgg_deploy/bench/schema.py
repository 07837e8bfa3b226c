"""report.json's JSON Schema (report.schema.json, next to this file) and the check against it.

`jsonschema` is used when installed; otherwise a small validator of the keywords the schema uses (type, enum,
const, required, properties, additionalProperties, items, minItems, maxItems, minimum, maximum, anyOf, local
$ref) — so the check needs no new dependency, and the tests compare the two where both are present.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..errors import VGGDeployError

__all__ = ["report_schema", "validate_report", "check_report", "ReportError", "SCHEMA_PATH"]

SCHEMA_PATH = Path(__file__).with_name("report.schema.json")
_SHOWN = 5


class ReportError(VGGDeployError):
    """A report.json that is unreadable or does not follow the schema."""


@lru_cache(maxsize=1)
def report_schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text())


def validate_report(report: Any, *, use_jsonschema: bool | None = None) -> list[str]:
    """Every way `report` breaks the schema, as "path: problem" lines (empty when it conforms).
    use_jsonschema: None = when installed, False = always the built-in validator."""
    schema = report_schema()
    if use_jsonschema is not False:
        try:
            import jsonschema
        except ImportError:
            if use_jsonschema:
                raise
        else:
            validator = jsonschema.Draft202012Validator(schema)
            return [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
                    for e in sorted(validator.iter_errors(report), key=lambda e: list(map(str, e.absolute_path)))]
    errors: list[str] = []
    _check(report, schema, schema, "", errors)
    return errors


def check_report(report: Any, *, source: str = "report") -> None:
    """Raise ReportError naming the first problems when `report` breaks the schema."""
    errors = validate_report(report)
    if errors:
        more = f" (and {len(errors) - _SHOWN} more)" if len(errors) > _SHOWN else ""
        raise ReportError(f"{source} does not follow the bench report schema: {'; '.join(errors[:_SHOWN])}{more}")


_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v),
    "null": lambda v: v is None,
}


def _check(value: Any, schema: dict[str, Any], root: dict[str, Any], path: str, errors: list[str]) -> None:
    where = path or "(top)"
    if "$ref" in schema:
        ref = schema["$ref"]
        if not ref.startswith("#/"):
            raise ValueError(f"only local $ref is supported, got {ref}")
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part]
        _check(value, target, root, path, errors)
    if "anyOf" in schema:
        if not any(not _errors_of(value, option, root, path) for option in schema["anyOf"]):
            errors.append(f"{where}: matches none of the allowed forms")
        return
    if "const" in schema and value != schema["const"]:
        errors.append(f"{where}: {value!r} is not {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}: {value!r} is not one of {schema['enum']}")
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_TYPES[t](value) for t in types):
            errors.append(f"{where}: {value!r:.60} is not of type {' or '.join(types)}")
            return
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{where}: {value} is less than the minimum {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{where}: {value} is greater than the maximum {schema['maximum']}")
    if isinstance(value, dict):
        for key in schema.get("required", []):
            if key not in value:
                errors.append(f"{where}: {key!r} is a required property")
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            if key in properties:
                _check(item, properties[key], root, f"{path}/{key}".lstrip("/"), errors)
            elif extra is False:
                errors.append(f"{where}: unexpected property {key!r}")
            elif isinstance(extra, dict):
                _check(item, extra, root, f"{path}/{key}".lstrip("/"), errors)
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            errors.append(f"{where}: fewer than {schema['minItems']} items")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errors.append(f"{where}: more than {schema['maxItems']} items")
        if "items" in schema:
            for index, item in enumerate(value):
                _check(item, schema["items"], root, f"{path}/{index}".lstrip("/"), errors)


def _errors_of(value: Any, schema: dict[str, Any], root: dict[str, Any], path: str) -> list[str]:
    found: list[str] = []
    _check(value, schema, root, path, found)
    return found
