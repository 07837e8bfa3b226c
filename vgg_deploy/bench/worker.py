"""`python -m vgg_deploy.bench.worker`: measure one backend at one batch size in a fresh process.

Reads a JSON spec on stdin (or from the file named as the first argument), writes the JSON result to the
spec's `result_path` (or stdout when it has none). Libraries may print on stdout and stderr; the result file
is what the harness reads.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .measure import run_spec


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    spec = json.loads(Path(args[0]).read_text() if args else sys.stdin.read())
    result = run_spec(spec)
    text = json.dumps(result)
    if spec.get("result_path"):
        Path(spec["result_path"]).write_text(text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
