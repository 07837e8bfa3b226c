#!/usr/bin/env python
"""Rewrite README.md's command reference table from the click commands (--check: exit 1 when it is stale).

    python scripts/cli_reference.py [--check]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    from vgg_deploy.cli import main as cli
    from vgg_deploy.cli.reference import render_reference, replace_reference

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only say whether README.md is up to date")
    args = parser.parse_args()
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    updated = replace_reference(text, render_reference(cli))
    if updated == text:
        print("README.md: command reference is up to date")
        return 0
    if args.check:
        print("README.md: command reference is stale; run python scripts/cli_reference.py", file=sys.stderr)
        return 1
    readme.write_text(updated, encoding="utf-8")
    print("README.md: command reference rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main())
