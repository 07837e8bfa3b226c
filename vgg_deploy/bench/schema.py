"""report.json's JSON Schema, generated from the report's dataclasses (bench.records), and the check against it.

The schema ships as report.schema.json next to this file for other tools; `python scripts/report_schema.py`
rewrites it from the dataclasses, and a test keeps the two equal. Reports are checked with `jsonschema` when it
is installed (a dev dependency); without it, only the report's kind, version and top-level keys are checked.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..errors import VGGDeployError
from .dataschema import dataclass_schema
from .records import SCHEMA_NAME, SCHEMA_VERSION, BenchReport

__all__ = ["report_schema", "validate_report", "check_report", "ReportError", "SCHEMA_PATH"]

SCHEMA_PATH = Path(__file__).with_name("report.schema.json")
_SHOWN = 5


class ReportError(VGGDeployError):
    """A report.json that is unreadable or does not follow the schema."""


@lru_cache(maxsize=1)
def report_schema() -> dict[str, Any]:
    """The schema of report.json, generated from BenchReport and the records it holds."""
    return dataclass_schema(BenchReport, title=f"vgg-deploy bench report, schema version {SCHEMA_VERSION}",
                            schema_id="https://vgg-deploy/bench/report.schema.json")


def validate_report(report: Any) -> list[str]:
    """Every way `report` breaks the schema, as "path: problem" lines (empty when it conforms)."""
    try:
        import jsonschema
    except ImportError:
        return _top_level_errors(report)
    validator = jsonschema.Draft202012Validator(report_schema())
    return [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
            for e in sorted(validator.iter_errors(report), key=lambda e: list(map(str, e.absolute_path)))]


def check_report(report: Any, *, source: str = "report") -> None:
    """Raise ReportError naming the first problems when `report` breaks the schema."""
    errors = validate_report(report)
    if errors:
        more = f" (and {len(errors) - _SHOWN} more)" if len(errors) > _SHOWN else ""
        raise ReportError(f"{source} does not follow the bench report schema: {'; '.join(errors[:_SHOWN])}{more}")


def _top_level_errors(report: Any) -> list[str]:
    if not isinstance(report, dict):
        return [f"(top): {type(report).__name__} is not an object"]
    if report.get("schema") != SCHEMA_NAME or report.get("schema_version") != SCHEMA_VERSION:
        return [f"(top): not a {SCHEMA_NAME} report of schema version {SCHEMA_VERSION}"]
    return [f"(top): {key!r} is a required property" for key in report_schema()["required"] if key not in report]


def schema_text() -> str:
    return json.dumps(report_schema(), indent=2) + "\n"

