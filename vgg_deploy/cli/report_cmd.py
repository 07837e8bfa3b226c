"""`vgg-deploy report`: redraw report.md, report.html and the charts from a bench report.json."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import VGGDeployError
from .params import OUTPUT_FOLDER, Command, output_option

__all__ = ["report"]


@click.command(cls=Command)
@click.argument("report_json", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@output_option(type=OUTPUT_FOLDER, required=False, old="--out",
               help="Folder for the rendered files [default: next to REPORT_JSON].")
def report(report_json: Path, output: Path | None) -> None:
    """Re-render report.md, report.html, chart.png and latency.png from REPORT_JSON (checked against the schema).

    \b
    Example:
      vgg-deploy report bench-report/report.json -o /tmp/rendered
    """
    from ..bench import load_report, write_reports

    target = output or report_json.parent
    try:
        data = load_report(report_json)
        paths = write_reports(data, target, write_json=output is not None and output.resolve() != report_json.parent.resolve())
    except VGGDeployError as exc:
        raise click.ClickException(str(exc)) from None
    for path in paths.values():
        click.echo(f"wrote {path}")
