"""The `vgg_deploy` logger, progress bars for long loops, and quieting the libraries that talk too much.

Modules log to `logging.getLogger(__name__)` (children of `vgg_deploy`) and wrap long loops in `progress_bar()`.
Where the messages go is the caller's choice: the CLI installs one stderr handler (`configure_cli_logging`, with
`-v/--verbose` and `-q/--quiet` on the group); a library user gets Python's defaults, i.e. warnings only and no bars,
until they configure logging themselves.
"""

from __future__ import annotations

import contextlib
import io
import logging
import sys
import time
import warnings
from typing import Iterable, Iterator, TextIO, TypeVar

__all__ = ["LOGGER_NAME", "NOISY_LOGGERS", "LOG_LINE_INTERVAL_S", "configure_cli_logging", "progress_bar", "quiet_libraries"]

LOGGER_NAME = "vgg_deploy"
log = logging.getLogger(LOGGER_NAME)

T = TypeVar("T")

# The libraries whose info/warning chatter (exporter passes, quantizer chunks, "please run pre-processing") means
# nothing to a user of ours. Only these are quieted, and only inside `quiet_libraries()`; the user's own loggers and
# ours keep their levels.
NOISY_LOGGERS = ("torch.onnx", "torch.export", "torch._dynamo", "torch.fx", "onnxscript", "onnx_ir",
                 "onnxruntime", "modelopt", "polygraphy", "onnx_graphsurgeon")
# ONNX Runtime's quantizer logs through the root logger (`logging.info(...)`): its records are recognised by file.
_NOISY_PATHS = ("onnxruntime/quantization", "onnxruntime\\quantization", "modelopt/")

_NON_TTY_STEPS = 10  # off a terminal, progress lines fall on tenths of the loop ...
LOG_LINE_INTERVAL_S = 5.0  # ... at most one per this many seconds: a loop done in a blink logs nothing


class _CommandFormatter(logging.Formatter):
    """`[command] message`, the prefix the CLI printed before logging existed; warnings say so."""

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.levelno >= logging.WARNING:
            message = f"{record.levelname.capitalize()}: {message}"
        return f"[{self.prefix}] {message}"


def configure_cli_logging(*, verbosity: int = 0, prefix: str = "vgg-deploy", stream: TextIO | None = None) -> None:
    """Send the `vgg_deploy` logger to stderr: info by default, debug with verbosity > 0, warnings only below 0.

    Called by the CLI for each command; replaces the handler an earlier call installed (tests invoke many commands
    in one process).
    """
    for handler in list(log.handlers):
        if getattr(handler, "vgg_deploy_cli", False):
            log.removeHandler(handler)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(_CommandFormatter(prefix))
    handler.vgg_deploy_cli = True  # type: ignore[attr-defined]
    log.addHandler(handler)
    log.setLevel(logging.DEBUG if verbosity > 0 else logging.INFO if verbosity == 0 else logging.WARNING)
    log.propagate = False  # the CLI owns stderr: no second copy through a root handler a library installed


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def _cli_stream() -> TextIO | None:
    """The stream the CLI handler writes to, so bars and messages share it (None when no CLI handler)."""
    for handler in log.handlers:
        if getattr(handler, "vgg_deploy_cli", False) and isinstance(handler, logging.StreamHandler):
            return handler.stream
    return None


def progress_bar(iterable: Iterable[T], *, desc: str, total: int | None = None, unit: str = "it") -> Iterator[T]:
    """Yield the items of `iterable` with progress shown: a tqdm bar on a terminal; elsewhere (logs, CI) a plain
    `desc: done/total (elapsed)` line at a tenth of the loop at most every LOG_LINE_INTERVAL_S, and a last line
    when the loop took that long; nothing when the `vgg_deploy` logger is not enabled for info."""
    if not log.isEnabledFor(logging.INFO):
        yield from iterable
        return
    if total is None:
        try:
            total = len(iterable)  # type: ignore[arg-type]
        except TypeError:
            total = None
    stream = _cli_stream() or sys.stderr
    if _is_tty(stream):
        from tqdm import tqdm

        yield from tqdm(iterable, desc=desc, total=total, unit=unit, file=stream, leave=False, dynamic_ncols=True)
        return
    done, next_step, written = 0, 1, False
    started = last = time.monotonic()
    for item in iterable:
        yield item
        done += 1
        if total and done * _NON_TTY_STEPS >= next_step * total:
            next_step = done * _NON_TTY_STEPS // total + 1
            now = time.monotonic()
            if now - last >= LOG_LINE_INTERVAL_S or (done == total and written):
                log.info("%s: %d/%d (%.0f s)", desc, done, total, now - started)
                last, written = now, True
    if not total and done and time.monotonic() - started >= LOG_LINE_INTERVAL_S:
        log.info("%s: %d (%.0f s)", desc, done, time.monotonic() - started)


class _DropLibraryRecords(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR or not any(part in record.pathname for part in _NOISY_PATHS)


@contextlib.contextmanager
def quiet_libraries() -> Iterator[None]:
    """Within the block: the NOISY_LOGGERS (and ONNX Runtime's quantizer's root-logger records) below ERROR are
    dropped, library prints to stdout are captured and Python warnings ignored. Nothing else changes."""
    loggers = [logging.getLogger(name) for name in NOISY_LOGGERS]
    levels = [logger.level for logger in loggers]
    root_filter = _DropLibraryRecords()
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    logging.getLogger().addFilter(root_filter)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.getLogger().removeFilter(root_filter)
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)
