"""A dependency-free progress counter on stderr for long loops (decoding images, calibration batches)."""

from __future__ import annotations

import sys
import time
from typing import Iterable, Iterator, TextIO, TypeVar

__all__ = ["progress"]

T = TypeVar("T")

_TTY_INTERVAL_S = 0.1  # redraw at most ten times a second, so a fast loop is not slowed by its own counter


def progress(
    iterable: Iterable[T],
    *,
    total: int | None = None,
    label: str = "progress",
    enabled: bool = True,
    stream: TextIO | None = None,
) -> Iterator[T]:
    """Yield the items of `iterable` while showing `label: done/total` on stderr (or `stream`).

    On a terminal the line is redrawn in place with \\r; elsewhere (logs, CI) a line is written every ~10% so a
    log stays short. Nothing is written when `enabled` is false. `total` defaults to len(iterable) when known.
    """
    if not enabled:
        yield from iterable
        return
    out = stream if stream is not None else sys.stderr
    if total is None:
        try:
            total = len(iterable)  # type: ignore[arg-type]
        except TypeError:
            total = None
    interactive = _is_tty(out)
    done = 0
    last_draw = 0.0
    next_step = 1  # the next tenth of `total` that earns a line when not interactive
    try:
        for item in iterable:
            yield item
            done += 1
            if interactive:
                now = time.monotonic()
                if now - last_draw >= _TTY_INTERVAL_S or done == total:
                    _write(out, f"\r{_text(label, done, total)}")
                    last_draw = now
            elif total and done * 10 >= next_step * total:
                _write(out, f"{_text(label, done, total)}\n")
                next_step = done * 10 // total + 1
    finally:
        if interactive and done:
            _write(out, f"\r{_text(label, done, total)}\n")
        elif not interactive and not total and done:
            _write(out, f"{_text(label, done, total)}\n")  # no total: one line at the end


def _text(label: str, done: int, total: int | None) -> str:
    return f"{label}: {done}/{total}" if total else f"{label}: {done}"


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def _write(stream: TextIO, text: str) -> None:
    stream.write(text)
    stream.flush()
