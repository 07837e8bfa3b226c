"""`vgg-deploy info`: the versions and hardware a bug report needs."""

from __future__ import annotations

import json
from typing import Any

import click

from .params import Command

__all__ = ["info"]


@click.command(cls=Command)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
def info(as_json: bool) -> None:
    """Show Python, PyTorch, ONNX, ONNX Runtime (with providers), OpenVINO, TensorRT, cuda-python and GPUs."""
    from ..environment import environment_facts

    facts = environment_facts()
    if as_json:
        click.echo(json.dumps(facts, indent=2))
        return
    for line in _lines(facts):
        click.echo(line)


def _lines(facts: dict[str, Any]) -> list[str]:
    cpu, torch, ort, trt = facts["cpu"], facts["torch"], facts["onnxruntime"], facts["tensorrt"]
    missing = "not installed"
    gpus = [f"{g['name']} (compute capability {g['compute_capability']}, {g['memory_mib']} MiB, driver {g['driver']})"
            for g in facts["gpus"]] or ["none found"]
    torch_line = missing if torch["version"] is None else (
        f"{torch['version']} (CUDA build {torch['cuda_build'] or 'none'}, "
        f"CUDA available: {'yes' if torch['cuda_available'] else 'no'}, {torch['threads']} threads)"
    )
    rows = [
        ("vgg-deploy", facts["vgg_deploy"]),
        ("Python", facts["python"]),
        ("Platform", facts["platform"]),
        ("CPU", f"{cpu['model']}, {cpu['usable_cores']} of {cpu['cores']} cores usable, "
                f"flags: {' '.join(cpu['flags']) or 'none of interest'}"),
        ("torch", torch_line),
        ("onnx", facts["onnx"] or missing),
        ("onnxscript", facts["onnxscript"] or missing),
        ("onnxruntime", f"{ort['version']} ({', '.join(ort['providers'])})" if ort["version"] else missing),
        ("openvino", facts["openvino"] or missing),
        ("TensorRT", trt["version"] or trt["status"]),
        ("cuda-python", facts["cuda_python"] or missing),
        ("numpy", facts["numpy"] or missing),
    ]
    width = max(len(k) for k, _ in rows)
    return [f"{k:<{width}}  {v}" for k, v in rows] + [f"{'GPU':<{width}}  {g}" for g in gpus]
