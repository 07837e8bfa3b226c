"""Temporary names that say who writes them (`.NAME.HOST+PID+START-x.tmp`), and removing those whose writer is gone
(after a SIGKILL or a power cut), and only those: a writer still running on this or another host keeps its file."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
from pathlib import Path

__all__ = ["temp_prefix", "remove_stale_temps"]

_HOST = re.sub(r"[^A-Za-z0-9-]", "_", socket.gethostname() or "host")
_TEMP = re.compile(r"\.(?P<host>[A-Za-z0-9_-]+)\+(?P<pid>\d+)\+(?P<start>\d+)-[A-Za-z0-9_]*\.tmp$")


def _start_time(pid: int) -> int:
    """The process's start time in clock ticks since boot (0 where /proc is not available)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    return int(stat[stat.rindex(")") + 2:].split()[19])  # field 22; the command name may contain spaces


def temp_prefix(name: str) -> str:
    """`.NAME.HOST+PID+START-`: the start of a hidden temporary name that says who writes it (mkstemp and
    mkdtemp add a random part and `.tmp`, so one process may have several)."""
    return f".{name}.{_HOST}+{os.getpid()}+{_start_time(os.getpid())}-"


def _writer_gone(host: str, pid: int, start: int) -> bool:
    if host != _HOST:
        return False  # another host's process: we cannot tell whether it still runs
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # alive, another user's
    return start != 0 and _start_time(pid) not in (0, start)  # the PID was reused by a newer process


def remove_stale_temps(folder: str | Path) -> list[Path]:
    """Delete the temporary files and folders in `folder` left by dead writers on this host; return them."""
    removed: list[Path] = []
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return removed
    for entry in entries:
        match = _TEMP.search(entry.name)
        if not entry.name.startswith(".") or match is None:
            continue
        if not _writer_gone(match["host"], int(match["pid"]), int(match["start"])):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                entry.unlink()
        removed.append(entry)
    return removed
