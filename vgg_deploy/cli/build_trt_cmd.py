"""`vgg-deploy build-trt`: a TensorRT engine (plus its manifest and layer listing) from an ONNX file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .params import (
    CUDA_DEVICE, Command, ConversionOptions, conversion_options, deprecated_alias, model_argument, output_option,
)

if TYPE_CHECKING:
    from ..trt.build import BuildReport

__all__ = ["build_trt"]


class ProfileType(click.ParamType):
    """MIN:OPT:MAX batch sizes, or N for a fixed batch."""

    name = "MIN:OPT:MAX"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from ..trt.errors import OptionError
        from ..trt.options import Profile, parse_profile

        if isinstance(value, Profile):
            return value
        try:
            return parse_profile(str(value))
        except OptionError as exc:
            self.fail(str(exc), param, ctx)


class SizeType(click.ParamType):
    """Bytes, or a number with K/M/G/T (binary units)."""

    name = "SIZE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        from ..trt.errors import OptionError
        from ..trt.options import parse_workspace

        if isinstance(value, int):
            return value
        try:
            return parse_workspace(str(value))
        except OptionError as exc:
            self.fail(str(exc), param, ctx)


@click.command("build-trt", cls=Command)
@model_argument(old_option="--onnx")
@click.option("--precision", type=click.Choice(["fp32", "fp16", "int8"]), default=None,
              help="Engine precision. Default: the ONNX's. From an fp32 ONNX, fp16/int8 first make the FP16 / Q/DQ "
                   "ONNX next to the engine.")
@conversion_options
@click.option("--profile", type=ProfileType(), default=None,
              help="Optimization profile MIN:OPT:MAX batch sizes (N alone: N:N:N). Default: 1:8:32, or the ONNX's "
                   "fixed batch.")
@deprecated_alias("--batch", replaces="profile", new="--profile")
@click.option("--workspace", type=SizeType(), default=None,
              help="Builder workspace limit, e.g. 4G or 512M. Default: TensorRT's (the GPU's memory).")
@click.option("--opt-level", type=click.IntRange(0, 5), default=3, show_default=True,
              help="Builder optimization level: higher builds longer and may run faster.")
@click.option("--timing-cache", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Timing cache file, read and updated. Default: one per TensorRT and GPU in ~/.cache/vgg-deploy.")
@click.option("--hardware-compat", type=click.Choice(["none", "ampere+", "same-cc"]), default="none",
              show_default=True, help="Let the engine run on other GPUs: ampere+ (any cc >= 8.0) or same-cc "
                                      "(TensorRT >= 10.9). Slower engines.")
@click.option("--version-compatible", is_flag=True,
              help="Let the engine run on later TensorRT releases (10.x engines also on 11.x).")
@click.option("--embed-lean-runtime", is_flag=True,
              help="With --version-compatible: keep the lean runtime inside the plan (bigger, self-contained).")
@click.option("--device", type=CUDA_DEVICE, default="cuda", show_default=True, help="CUDA device to build on.")
@click.option("--force", is_flag=True, help="Rebuild even when an engine with the same cache key exists.")
@output_option(help="The engine to write (.plan or .engine).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
def build_trt(
    model: Path, precision: str | None, conversion: ConversionOptions, profile: Any, workspace: int | None, opt_level: int, timing_cache: Path | None, hardware_compat: str, version_compatible: bool,
    embed_lean_runtime: bool, device: str, force: bool, output: Path, as_json: bool,
) -> None:
    """Build a TensorRT engine (TensorRT 10.x or 11.x, strongly typed) from the ONNX file MODEL.

    MODEL is an fp32 ONNX (from `vgg-deploy export`), or one already FP16 / Q/DQ INT8. Precision comes from the
    graph: an FP16 or Q/DQ ONNX is built as it is; from an fp32 ONNX, --precision fp16|int8 first makes that ONNX
    (int8 needs --calib-data) and keeps it next to the engine. Next to X.plan go X.plan.json (the manifest: GPU,
    TensorRT, precision, profile, source hashes; checked before the engine is loaded) and X.plan.layers.json
    (each layer's precision). An engine with the same
    ONNX, options, TensorRT and GPU is reused; --force rebuilds.

    \b
    Examples:
      vgg-deploy build-trt vgg16.onnx -o vgg16.plan
      vgg-deploy build-trt vgg16.onnx --precision int8 --calib-data images/ --profile 1:16:64 -o vgg16.int8.plan
      vgg-deploy build-trt vgg16.fp16.onnx --hardware-compat ampere+ --version-compatible -o vgg16.fp16.plan
    """
    from ..devices import device_index
    from ..trt.build import plan_build, run_build
    from ..trt.environment import current_platform
    from ..trt.errors import OptionError
    from ..trt.handoff import ConversionSettings

    conversion = conversion.resolved()  # here, so the engine cache key names the method actually used
    settings = ConversionSettings.of(calibration=conversion.calibration, gates=conversion.gates,
                                     fallback=conversion.fallback)
    try:  # everything decidable without TensorRT first: an impossible request is a usage error
        build = plan_build(model, output, precision=precision, profile=profile, workspace_bytes=workspace,
                           opt_level=opt_level, hardware_compat=hardware_compat,
                           version_compatible=version_compatible, embed_lean_runtime=embed_lean_runtime,
                           settings=settings)
        platform = current_platform(device_index(device))
        report = run_build(build, platform=platform, force=force, timing_cache=timing_cache)
    except OptionError as exc:
        raise click.UsageError(str(exc)) from None
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
        return
    _print_report(report, model)


def _print_report(report: BuildReport, model: Path) -> None:
    manifest = report.manifest
    where = f"{manifest.gpu_name} (compute capability {manifest.compute_capability}), TensorRT " \
            f"{manifest.tensorrt_version}"
    if report.reused:
        click.echo(f"{report.plan} is up to date ({manifest.precision}, batch {manifest.profile}, {where}): reused; "
                   "--force rebuilds")
        return
    if report.converted_onnx is not None:
        click.echo(f"made {report.converted_onnx} ({manifest.precision}) from {model}")
    click.echo(f"wrote {report.plan} ({manifest.engine_size_bytes / 1e6:.1f} MB, {manifest.precision}, batch "
               f"{manifest.profile}) in {manifest.build_seconds:.1f} s on {where}")
    result = report.result
    if result is not None:
        click.echo(f"layers: {result.layers.describe()}"
                   + (f" (listing: {result.layer_listing})" if result.layer_listing else ""))
    for note in report.notes:
        click.echo(f"note: {note}")
    for warning in report.warnings:
        click.echo(f"WARNING: {warning}", err=True)
