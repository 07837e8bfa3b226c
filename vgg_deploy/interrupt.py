"""SIGTERM ends a command the way Ctrl-C does: as KeyboardInterrupt, so every `finally` and context manager
(temporary files and folders, child processes, runners) cleans up on the way out.

Without this, SIGTERM (what `kill`, systemd, containers and job schedulers send) ends Python at once and leaves
partly written files behind. SIGKILL cannot be caught; `artifacts.remove_stale_temps` cleans up after it.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

__all__ = ["Terminated", "terminate_as_interrupt"]


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the main thread is, like KeyboardInterrupt for SIGINT."""


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated(f"signal {signum}")


def terminate_as_interrupt() -> None:
    """Make SIGTERM raise `Terminated` in the main thread (a no-op elsewhere: only it receives signals).
    A handler already set by someone else (not the default) is kept."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
        signal.signal(signal.SIGTERM, _raise_terminated)
