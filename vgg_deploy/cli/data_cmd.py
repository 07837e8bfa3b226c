"""`vgg-deploy digits`: scikit-learn's 8x8 digits as an image folder, to try the pipeline on real data offline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .params import Command, output_option

__all__ = ["digits"]


class NewFolder(click.ParamType):
    """A folder to create: it must not exist yet, or be empty."""

    name = "DIR"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Path:
        from ..artifacts import OutputError, check_output

        path = Path(value)
        if path.is_file():
            self.fail(f"'{value}' is a file; give a new folder name", param, ctx)
        if path.is_dir() and any(path.iterdir()):
            self.fail(f"'{value}' already exists and is not empty; give a new folder name", param, ctx)
        try:
            return check_output(path, folder=True)
        except OutputError as exc:
            self.fail(str(exc), param, ctx)


@click.command(cls=Command)
@output_option(type=NewFolder(), help="The folder to create, with one sub-folder per digit (0-9).")
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="Write only the first N of the 1,797 digits. Default: all.")
def digits(output: Path, limit: int | None) -> None:
    """Write scikit-learn's bundled 8x8 digits as labelled PNG images: OUTPUT/<digit>/<index>.png.

    No download: the 1,797 images ship with scikit-learn (pip install "vgg-deploy[demo]"). The folder works
    wherever an image folder is accepted; its sub-folders are the classes, so it also gives labels.

    \b
    Examples:
      vgg-deploy digits -o digits_data
      vgg-deploy digits -o digits_small --limit 200
    """
    from ..data.digits import write_digits_folder

    count = write_digits_folder(output, limit=limit)
    click.echo(f"wrote {count} digit images (8x8 grayscale PNG, classes 0-9) to {output}")
