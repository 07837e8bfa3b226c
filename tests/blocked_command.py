"""Test-only: run a vgg-deploy command with one step blocked until the test says go, to interrupt it there.

    python tests/blocked_command.py READY RELEASE MODULE:ATTR[.ATTR] -- vgg-deploy arguments...

MODULE's ATTR (a function, or a method as Class.method) is wrapped: its first call creates the file READY, then
waits until the file RELEASE exists, then runs the original. A test waits for READY, then sends SIGTERM or
SIGKILL, so the interruption always lands at the same step: no sleeps, no timing.
"""

from __future__ import annotations

import functools
import importlib
import sys
import time
from pathlib import Path
from typing import Any, Callable


def block(target: str, ready: Path, release: Path) -> None:
    module_name, _, attr_path = target.partition(":")
    owner: Any = importlib.import_module(module_name)
    *parents, name = attr_path.split(".")
    for parent in parents:
        owner = getattr(owner, parent)
    original: Callable[..., Any] = getattr(owner, name)

    @functools.wraps(original)
    def blocked(*args: Any, **kwargs: Any) -> Any:
        ready.touch()
        while not release.exists():
            time.sleep(0.01)  # a poll, not a timing assumption: the test decides when this ends
        return original(*args, **kwargs)

    setattr(owner, name, blocked)


def main() -> None:
    ready, release, target, separator, *args = sys.argv[1:]
    assert separator == "--", "usage: blocked_command.py READY RELEASE MODULE:ATTR -- ARGS..."
    block(target, Path(ready), Path(release))
    from vgg_deploy.cli import main as cli

    cli.main(args=args, prog_name="vgg-deploy")


if __name__ == "__main__":
    main()
