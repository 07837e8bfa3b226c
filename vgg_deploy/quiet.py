"""Silence libraries that print progress and log warnings on a user's terminal (exporter, quantizer)."""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from typing import Iterator

__all__ = ["quiet_libraries"]


@contextlib.contextmanager
def quiet_libraries() -> Iterator[None]:
    """Within the block: stdout captured, Python warnings ignored, log records below ERROR dropped."""
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(previous)
