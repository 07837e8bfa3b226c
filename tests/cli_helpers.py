"""Assertions the CLI tests share."""

from __future__ import annotations

from typing import Any


def one_error_line(result: Any, *needles: str, code: int | None = 1) -> str:
    """A click result that failed with exit `code` (None: any non-zero) as one `Error:` line on stderr and no
    traceback, the line naming every needle; returns the line."""
    if code is None:
        assert result.exit_code != 0, result.output
    else:
        assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, result.output
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]
