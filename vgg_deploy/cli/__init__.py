"""The `vgg-deploy` command line: one small module per command."""

from __future__ import annotations

import click

from ..errors import VGGDeployError
from ..interrupt import terminate_as_interrupt
from ..log import configure_cli_logging
from .bench_cmd import bench
from .build_trt_cmd import build_trt
from .data_cmd import digits
from .export_cmd import export
from .infer_cmd import infer
from .info_cmd import info
from .loadtest_cmd import loadtest
from .quantize_cmd import quantize
from .report_cmd import report
from .sensitivity_cmd import sensitivity
from .serve_cmd import serve
from .triton_repo_cmd import triton_repo
from .zoo_cmd import zoo

__all__ = ["main"]


class _Group(click.Group):
    """Turns user errors (VGGDeployError) into one line on stderr and exit 1; bugs keep their traceback."""

    def invoke(self, ctx: click.Context) -> object:
        terminate_as_interrupt()  # SIGTERM cleans up like Ctrl-C (temporary files, child processes)
        try:
            return super().invoke(ctx)
        except VGGDeployError as exc:
            raise click.ClickException(str(exc)) from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(package_name="vgg-deploy", prog_name="vgg-deploy")
@click.option("-v", "--verbose", count=True, help="More detail on stderr (repeatable).")
@click.option("-q", "--quiet", count=True, help="Only warnings and errors on stderr: no progress.")
@click.pass_context
def main(ctx: click.Context, verbose: int, quiet: int) -> None:
    """VGG from PyTorch to ONNX, FP16/INT8 and TensorRT, with measured results.

    \b
    Start with:
      vgg-deploy info                               what this machine has
      vgg-deploy export --model vgg16 -o vgg16.onnx export and verify against PyTorch
      vgg-deploy quantize vgg16.onnx --precision int8 --calib-data IMAGES/ -o vgg16.int8.onnx
      vgg-deploy build-trt vgg16.int8.onnx -o vgg16.int8.plan
      vgg-deploy bench --model vgg16 --backends cpu --batch-sizes 1,8
    """
    # progress and messages go to stderr as `[command] ...`, bars on a terminal, plain lines in logs
    configure_cli_logging(verbosity=verbose - quiet, prefix=ctx.invoked_subcommand or "vgg-deploy")


for command in (export, quantize, sensitivity, build_trt, infer, bench, zoo, report, triton_repo, serve, loadtest,
                digits, info):
    main.add_command(command)
