"""Output parity between a reference (PyTorch fp32) and an artifact, with a tolerance relative to logit scale."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["Parity", "compare_logits", "FP32_REL_TOL", "FP32_MIN_COSINE"]

FP32_REL_TOL = 1e-4  # max abs diff <= FP32_REL_TOL * max(1, max |reference logit|)
FP32_MIN_COSINE = 0.99999


@dataclass(frozen=True)
class Parity:
    max_abs_diff: float
    tolerance: float  # the allowed max abs diff, already scaled by the logits' magnitude
    cosine: float  # the lowest per-sample cosine similarity
    top1_agreement: float  # fraction of samples whose argmax matches; reported, never a gate
    samples: int
    nonfinite: int  # NaN/Inf values in either output
    min_cosine: float

    @property
    def passed(self) -> bool:
        return self.nonfinite == 0 and self.max_abs_diff <= self.tolerance and self.cosine >= self.min_cosine

    def to_dict(self) -> dict[str, float | int | bool]:
        return {**asdict(self), "passed": self.passed}

    def summary(self) -> str:
        verdict = "PASS" if self.passed else "FAIL"
        nonfinite = f", {self.nonfinite} NaN/Inf values" if self.nonfinite else ""
        return (
            f"max abs diff {self.max_abs_diff:.3g} (tolerance {self.tolerance:.3g}), cosine {self.cosine:.7f} "
            f"(min {self.min_cosine}), top-1 agreement {self.top1_agreement:.1%} of {self.samples}{nonfinite}: {verdict}"
        )


def compare_logits(
    reference: np.ndarray, candidate: np.ndarray, *, rel_tol: float = FP32_REL_TOL, min_cosine: float = FP32_MIN_COSINE
) -> Parity:
    """Compare two (N, classes) logit arrays; any NaN/Inf in either fails."""
    if reference.shape != candidate.shape:
        raise ValueError(f"shape mismatch: reference {reference.shape} vs candidate {candidate.shape}")
    ref = reference.astype(np.float64).reshape(len(reference), -1)
    out = candidate.astype(np.float64).reshape(len(candidate), -1)
    nonfinite = int((~np.isfinite(ref)).sum() + (~np.isfinite(out)).sum())
    if nonfinite:
        return Parity(float("nan"), float("nan"), float("nan"), 0.0, len(ref), nonfinite, min_cosine)
    scale = max(1.0, float(np.abs(ref).max()))
    # The worst sample's cosine, so one bad image is not averaged away.
    norms = np.linalg.norm(ref, axis=1) * np.linalg.norm(out, axis=1)
    dots = (ref * out).sum(axis=1)
    same = np.all(ref == out, axis=1)
    cosines = np.where(norms > 0, dots / np.where(norms > 0, norms, 1.0), same.astype(np.float64))
    cosine = float(cosines.min())
    return Parity(
        max_abs_diff=float(np.abs(ref - out).max()),
        tolerance=rel_tol * scale,
        cosine=cosine,
        top1_agreement=float((ref.argmax(1) == out.argmax(1)).mean()),
        samples=len(ref),
        nonfinite=0,
        min_cosine=min_cosine,
    )
