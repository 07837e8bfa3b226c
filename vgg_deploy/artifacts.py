"""Artifacts are written to a temporary name in their folder and renamed into place only when complete."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

__all__ = ["atomic_output"]


@contextlib.contextmanager
def atomic_output(dest: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to `dest`; rename it to `dest` on success, delete it on any error."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files; artifacts get the usual permissions
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
