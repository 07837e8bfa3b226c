"""`python -m vgg_deploy.bench.worker`: measure one backend at one batch size in a fresh process.

Reads a JSON spec on stdin (or from the file named as the first argument), writes the JSON result to the
spec's `result_path` (or stdout when it has none). Libraries may print on stdout and stderr; the result file
is what the harness reads.
"""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

from ..interrupt import Terminated, terminate_as_interrupt
from .measure import run_spec


def main(argv: list[str] | None = None) -> int:
    terminate_as_interrupt()  # a worker sent SIGTERM frees its runner (device memory, threads) on the way out
    args = sys.argv[1:] if argv is None else argv
    try:
        spec = json.loads(Path(args[0]).read_text() if args else sys.stdin.read())
        result = run_spec(spec)
    except Terminated:
        return 128 + signal.SIGTERM  # the shell's convention for "ended by SIGTERM", after the clean-up
    text = json.dumps(result.to_dict())
    if spec.get("result_path"):
        Path(spec["result_path"]).write_text(text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
