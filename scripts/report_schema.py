"""Regenerate vgg_deploy/bench/report.schema.json from the report's dataclasses (tests check it is current).

    python scripts/report_schema.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vgg_deploy.bench.schema import SCHEMA_PATH, schema_text  # noqa: E402

if __name__ == "__main__":
    SCHEMA_PATH.write_text(schema_text())
    print(f"wrote {SCHEMA_PATH}")
