"""`vgg-deploy infer`: top-k classes of images with any model file (.plan, .onnx, checkpoint)."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from .params import MODEL, Command, model_argument

__all__ = ["infer", "read_labels"]

_MAX_LABELS_BYTES = 16 << 20


def read_labels(path: Path) -> tuple[str, ...]:
    """One label per line (surrounding spaces and trailing empty lines ignored)."""
    from ..errors import VGGDeployError

    if path.stat().st_size > _MAX_LABELS_BYTES:
        raise VGGDeployError(f"{path}: {path.stat().st_size} bytes is too large for a labels file (one label a line)")
    try:
        lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    except UnicodeDecodeError:
        raise VGGDeployError(f"{path}: not a UTF-8 text file; give one label per line") from None
    while lines and not lines[-1]:
        lines.pop()
    if not lines:
        raise VGGDeployError(f"{path}: no labels in it; give one label per line, in class-index order")
    return tuple(lines)


@click.command(cls=Command)
@model_argument()
@click.argument("images", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--top-k", type=click.IntRange(min=1), default=5, show_default=True, help="Classes shown per image.")
@click.option("--labels", "labels_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="A text file with one label per line (class-index order); overrides the model's labels.")
@click.option("--batch-size", type=click.IntRange(min=1), default=None,
              help="Images per inference call. Default: 32, or the model's fixed batch.")
@click.option("--model", "model_name", type=MODEL, default=None,
              help="Checkpoints: the registered model it is (.pth and foreign files do not say; a vgg-deploy "
                   ".safetensors does).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON list instead of text.")
def infer(model: Path, images: tuple[Path, ...], top_k: int, labels_path: Path | None, batch_size: int | None,
          model_name: str | None, as_json: bool) -> None:
    """Classify IMAGES with MODEL and print the top-k classes with their probabilities.

    MODEL is a TensorRT engine (.plan/.engine, built by `vgg-deploy build-trt`), an ONNX file (ONNX Runtime) or a
    checkpoint (.pt/.pth/.safetensors, PyTorch); the images get the model's own preprocessing.

    \b
    Examples:
      vgg-deploy infer vgg16.int8.plan cat.jpg dog.png
      vgg-deploy infer vgg16.onnx photos/*.jpg --top-k 3 --labels imagenet_classes.txt --json
      vgg-deploy infer finetuned.pth cat.jpg --model vgg16_bn
    """
    from ..errors import VGGDeployError
    from ..formats import suffixes
    from ..runtime import load

    labels = read_labels(labels_path) if labels_path is not None else None
    options = {}
    if model_name is not None:
        if model.suffix.lower() not in suffixes("checkpoint"):
            raise click.UsageError(f"--model names what a checkpoint ({', '.join(suffixes('checkpoint'))}) is; "
                                   f"{model} carries its own description")
        options["model_name"] = model_name
    with load(model, **options) as runner:
        config = runner.config
        if config is None:
            raise VGGDeployError(f"{model}: no vgg-deploy metadata, so its preprocessing (input size, mean/std, "
                                 "labels) is unknown; export the model with `vgg-deploy export`")
        if labels is not None and len(labels) != config.num_classes:
            raise VGGDeployError(f"{labels_path}: {len(labels)} labels, but {model} has {config.num_classes} classes; "
                                 "give one label per class, in class-index order")
        predictions = runner.predict(list(images), top_k=top_k, batch_size=batch_size)
        backend = runner.name
    broken = [p.source for p in predictions if any(not math.isfinite(s.probability) for s in p.top_k)]
    if broken:
        raise VGGDeployError(f"{model}: NaN/Inf logits for {len(broken)} of {len(predictions)} images (first: "
                             f"{broken[0]}); the model overflows in its precision or its weights are damaged")
    if labels is not None:
        predictions = [
            replace(p, top_k=tuple(replace(s, label=labels[s.index] if s.index < len(labels) else s.label)
                                   for s in p.top_k))
            for p in predictions
        ]
    if as_json:
        click.echo(json.dumps([_as_dict(p, backend) for p in predictions], indent=2))
        return
    for prediction in predictions:
        click.echo(prediction.source)
        width = max(len(score.label) for score in prediction.top_k)
        for rank, score in enumerate(prediction.top_k, start=1):
            click.echo(f"  {rank}. {score.label:<{width}}  {score.probability:7.2%}  (class {score.index})")


def _as_dict(prediction: Any, backend: str) -> dict[str, Any]:
    return {"image": prediction.source, "backend": backend,
            "top_k": [{"index": s.index, "label": s.label, "probability": s.probability} for s in prediction.top_k]}
