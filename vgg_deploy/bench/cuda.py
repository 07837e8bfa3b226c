"""CUDA facts the harness needs, all guarded: fp32 math mode (IEEE vs TF32), device memory, synchronisation.

None of this runs on a machine without CUDA; every function is safe to call there (it does nothing or returns
None). "fp32" on a GPU means IEEE fp32: torch's cuDNN convolutions default to TF32, so the mode is set explicitly.
"""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

from ..runtime.cuda_math import fp32_math, set_fp32_math

__all__ = ["fp32_math", "set_fp32_math", "device_used_mib", "torch_cuda_available"]


def torch_cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def device_used_mib(index: int = 0) -> float | None:
    """Device-wide used memory of GPU `index` from nvidia-smi, which (unlike cudaMemGetInfo) creates no CUDA
    context in this process, so a reading taken before activation does not include our own context.
    Falls back to cudaMemGetInfo through torch; None without a GPU."""
    smi = shutil.which("nvidia-smi")
    if smi is not None:
        try:
            out = subprocess.run([smi, f"--id={index}", "--query-gpu=memory.used", "--format=csv,noheader,nounits"],
                                 capture_output=True, text=True, timeout=20, check=True).stdout
            return float(out.strip().splitlines()[0])
        except (OSError, subprocess.SubprocessError, ValueError, IndexError):
            pass
    if not torch_cuda_available():
        return None
    import torch

    free, total = torch.cuda.mem_get_info(index)
    return (total - free) / 2**20
