"""`write_repository`: a Triton model repository, REPO/<name>/config.pbtxt and REPO/<name>/1/model.<suffix> (the
table of formats' `repository_file`: model.onnx, model.plan)."""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

from ..artifacts import atomic_output
from .facts import ServedModel, ServeError, served_model
from .triton_config import (LABELS_FILE, MODEL_FILE_BY_FORMAT, PLATFORM_BY_FORMAT, TritonModelConfig, check_config,
                            parse_config, render_config)

__all__ = ["RepositoryModel", "write_repository", "default_name", "read_labels"]


@dataclass(frozen=True)
class RepositoryModel:
    """One model written into a repository."""

    name: str
    folder: Path
    config_path: Path
    model_path: Path
    platform: str
    max_batch: int
    preferred_batch: tuple[int, ...]
    labels_path: Path | None
    gpu_name: str | None  # engines: the GPU type that must serve it

    def to_dict(self) -> dict[str, object]:
        return {k: (str(v) if isinstance(v, Path) else list(v) if isinstance(v, tuple) else v)
                for k, v in self.__dict__.items()}


def default_name(path: str | os.PathLike[str]) -> str:
    """`vgg16.int8.plan` -> `vgg16_int8`: a Triton model name from a file name."""
    stem = Path(path).name.rsplit(".", 1)[0]
    return re.sub(r"[^A-Za-z0-9_-]+", "_", stem).strip("_") or "model"


def read_labels(path: str | os.PathLike[str]) -> tuple[str, ...]:
    """One class label per line (blank lines at the end ignored)."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ServeError(f"{path}: cannot read labels ({exc})") from None
    while lines and not lines[-1].strip():
        lines.pop()
    return tuple(line.strip() for line in lines)


def write_repository(
    model_files: Sequence[str | os.PathLike[str]],
    repo: str | os.PathLike[str],
    *,
    config: TritonModelConfig,
    labels: Sequence[str] | None = None,
) -> list[RepositoryModel]:
    """Write one Triton model per file into `repo`; with several files, `config.name` is ignored and each model
    is named after its file. Everything is checked before anything is written."""
    repo = Path(repo)
    plans: list[tuple[ServedModel, TritonModelConfig, str, tuple[str, ...] | None]] = []
    for file in model_files:
        model = served_model(file)
        name = config.name if len(model_files) == 1 and config.name else default_name(file)
        model_labels = tuple(labels) if labels is not None else model.labels
        if model_labels is not None and len(model_labels) != model.classes:
            raise ServeError(f"{file}: {len(model_labels)} labels for a model with {model.classes} classes")
        model_config = replace(config, name=name, labels=model_labels is not None)
        text = render_config(model, model_config)
        check_config(parse_config(text, source=f"{name}/config.pbtxt"), model, source=f"{name}/config.pbtxt")
        plans.append((model, model_config, text, model_labels))
    names = [c.name for _, c, _, _ in plans]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ServeError(f"two model files would both be named {', '.join(duplicates)} in the repository; rename one")
    written = []
    for model, model_config, text, model_labels in plans:
        folder = repo / model_config.name
        (folder / "1").mkdir(parents=True, exist_ok=True)
        config_path = folder / "config.pbtxt"
        with atomic_output(config_path) as tmp:
            tmp.write_text(text, encoding="utf-8")
        target = folder / "1" / MODEL_FILE_BY_FORMAT[model.format]
        with atomic_output(target) as tmp:
            shutil.copyfile(model.path, tmp)
        for data in model.external_data:  # ONNX external weights must sit next to model.onnx
            with atomic_output(folder / "1" / data) as tmp:
                shutil.copyfile(model.path.parent / data, tmp)
        labels_path = None
        if model_labels is not None:
            labels_path = folder / LABELS_FILE
            with atomic_output(labels_path) as tmp:
                tmp.write_text("\n".join(model_labels) + "\n", encoding="utf-8")
        written.append(RepositoryModel(
            name=model_config.name, folder=folder, config_path=config_path, model_path=target,
            platform=PLATFORM_BY_FORMAT[model.format],
            max_batch=model_config.max_batch, preferred_batch=model_config.preferred_batch,
            labels_path=labels_path, gpu_name=model.gpu_name,
        ))
    return written
