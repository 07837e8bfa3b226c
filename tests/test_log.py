"""vgg_deploy.log: progress bars (tqdm on a terminal, periodic lines in logs, nothing when quiet) and the CLI's
-v/-q on the `vgg-deploy` group."""

from __future__ import annotations

import io
import logging

import pytest
from click.testing import CliRunner

from vgg_deploy.cli import main
from vgg_deploy import log as vgg_log
from vgg_deploy.log import LOGGER_NAME, configure_cli_logging, progress_bar


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def cli_log():
    """The `vgg_deploy` logger as the CLI sets it up, restored afterwards (tests share one process)."""
    logger = logging.getLogger(LOGGER_NAME)
    saved = (list(logger.handlers), logger.level, logger.propagate)

    def install(stream: io.StringIO, verbosity: int = 0) -> io.StringIO:
        configure_cli_logging(verbosity=verbosity, prefix="test", stream=stream)
        return stream

    yield install
    logger.handlers[:], logger.level, logger.propagate = saved[0], saved[1], saved[2]


def test_progress_in_a_log_writes_a_line_per_tenth(cli_log, monkeypatch):
    monkeypatch.setattr(vgg_log, "LOG_LINE_INTERVAL_S", 0.0)  # a slow loop: every tenth is due
    out = cli_log(io.StringIO())
    assert list(progress_bar(range(100), desc="decoding")) == list(range(100))
    lines = out.getvalue().splitlines()
    assert len(lines) == 10
    assert lines[0].startswith("[test] decoding: 10/100") and lines[-1].startswith("[test] decoding: 100/100")


def test_progress_on_a_terminal_is_a_tqdm_bar(cli_log):
    out = cli_log(_Terminal())
    assert list(progress_bar(iter(range(37)), desc="calib", total=37, unit="batch")) == list(range(37))
    text = out.getvalue()
    assert "calib:" in text and "/37 [" in text and "batch/s" in text  # tqdm's bar with its total and unit
    assert text.endswith("\r") and "[test]" not in text  # redrawn in place and cleared at the end: no log lines


def test_progress_when_quiet_writes_nothing(cli_log):
    out = cli_log(io.StringIO(), verbosity=-1)
    assert list(progress_bar(range(5), desc="n")) == list(range(5))
    assert out.getvalue() == ""


def test_a_quick_loop_in_a_log_writes_nothing(cli_log):
    out = cli_log(io.StringIO())
    assert list(progress_bar(range(100), desc="decoding")) == list(range(100))
    assert out.getvalue() == ""  # a loop done in a blink: the surrounding log lines say what happened


def test_a_slow_loop_in_a_log_writes_a_line_per_interval_and_the_end(cli_log, monkeypatch):
    clock = iter(range(0, 10_000, 2))  # every tenth of the loop costs 2 s of the fake clock
    monkeypatch.setattr(vgg_log.time, "monotonic", lambda: float(next(clock)))
    out = cli_log(io.StringIO())
    assert list(progress_bar(range(100), desc="calib")) == list(range(100))
    lines = out.getvalue().splitlines()
    assert 3 <= len(lines) <= 4 and lines[-1].startswith("[test] calib: 100/100")  # every ~5 s, and the end
    assert all(line.startswith("[test] calib: ") for line in lines)


def test_progress_without_a_total_writes_one_line_at_the_end(cli_log, monkeypatch):
    monkeypatch.setattr(vgg_log, "LOG_LINE_INTERVAL_S", 0.0)
    out = cli_log(io.StringIO())
    assert list(progress_bar((i for i in range(5)), desc="n")) == list(range(5))
    assert out.getvalue().startswith("[test] n: 5 (")


def test_export_progress_follows_quiet_and_verbose(tmp_path):
    """`[export]` lines on stderr by default, none with -q; -v adds nothing the default hides from the result."""
    runner = CliRunner()
    args = ["export", "--model", "vgg_tiny", "-o"]
    default = runner.invoke(main, [*args, str(tmp_path / "a.onnx")])
    assert default.exit_code == 0, default.output
    assert "[export] building vgg_tiny" in default.stderr and "[export] verifying" in default.stderr
    quiet = runner.invoke(main, ["-q", *args, str(tmp_path / "b.onnx")])
    assert quiet.exit_code == 0, quiet.output
    assert "[export]" not in quiet.stderr and "wrote" in quiet.stdout
    verbose = runner.invoke(main, ["-v", *args, str(tmp_path / "c.onnx")])
    assert verbose.exit_code == 0 and "[export] building vgg_tiny" in verbose.stderr
