"""The benchmark harness: every backend against the eager fp32 model on the same inputs, with reports.

Importing this package imports no backend; `run_bench` and the runners import theirs when they run.
"""

from .backends import BACKENDS, Backend, BenchError, register_backend, resolve_backends
from .budget import BudgetChoice, select_within_budget
from .flops import model_flops, model_macs
from .harness import BenchOptions, run_bench
from .prepare import ModelSource
from .report import load_report, render_html, render_markdown, write_reports
from .schema import ReportError, validate_report
from .stats import Measurement, percentile

__all__ = [
    "run_bench", "BenchOptions", "ModelSource", "BACKENDS", "Backend", "BenchError", "register_backend",
    "resolve_backends", "Measurement", "percentile", "BudgetChoice", "select_within_budget", "model_macs", "model_flops",
    "write_reports", "render_markdown", "render_html", "load_report", "validate_report", "ReportError",
]
