"""Output parity between a reference (fp32) and an artifact, with a tolerance relative to the logit scale."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["Parity", "compare_logits", "FP32_REL_TOL", "FP32_MIN_COSINE"]

FP32_REL_TOL = 1e-4  # an fp32 artifact: max abs diff <= FP32_REL_TOL * max(1, max |reference logit|)
FP32_MIN_COSINE = 0.99999


@dataclass(frozen=True)
class Parity:
    """Figures of one comparison, and the gates it was held to (None = not gated)."""

    max_abs_diff: float
    scale: float  # max(1, max |reference logit|): diffs are judged relative to it
    cosine: float  # the lowest per-sample cosine similarity
    top1_agreement: float  # fraction of samples whose argmax matches
    top5_containment: float  # fraction whose reference top-1 is in the candidate's top 5
    samples: int
    nonfinite: int  # NaN/Inf values in either output: always a failure
    max_rel_diff: float | None = None
    min_cosine: float | None = None
    min_top1: float | None = None

    @property
    def tolerance(self) -> float | None:
        """The allowed max abs diff, already scaled by the logits' magnitude."""
        return None if self.max_rel_diff is None else self.max_rel_diff * self.scale

    @property
    def passed(self) -> bool:
        return (
            self.nonfinite == 0
            and (self.tolerance is None or self.max_abs_diff <= self.tolerance)
            and (self.min_cosine is None or self.cosine >= self.min_cosine)
            and (self.min_top1 is None or self.top1_agreement >= self.min_top1)
        )

    def to_dict(self) -> dict[str, float | int | bool | None]:
        return {**asdict(self), "tolerance": self.tolerance, "passed": self.passed}

    def summary(self) -> str:
        if self.nonfinite:
            return f"{self.nonfinite} NaN/Inf values in the outputs: FAIL"
        diff = f"max abs diff {self.max_abs_diff:.3g}"
        diff += f" (tolerance {self.tolerance:.3g})" if self.tolerance is not None else \
            f" ({self.max_abs_diff / self.scale:.2g} x the logit scale {self.scale:.3g})"
        cosine = f"cosine {self.cosine:.7f}" + (f" (min {self.min_cosine})" if self.min_cosine is not None else "")
        top1 = f"top-1 agreement {self.top1_agreement:.1%}" + (f" (min {self.min_top1:.1%})" if self.min_top1 is not None else "")
        return (f"{diff}, {cosine}, {top1}, top-5 containment {self.top5_containment:.1%} "
                f"of {self.samples}: {'PASS' if self.passed else 'FAIL'}")


def compare_logits(
    reference: np.ndarray,
    candidate: np.ndarray,
    *,
    max_rel_diff: float | None = FP32_REL_TOL,
    min_cosine: float | None = FP32_MIN_COSINE,
    min_top1: float | None = None,
) -> Parity:
    """Compare two (N, classes) logit arrays; any NaN/Inf in either fails whatever the gates."""
    if reference.shape != candidate.shape:
        raise ValueError(f"shape mismatch: reference {reference.shape} vs candidate {candidate.shape}")
    ref = reference.astype(np.float64).reshape(len(reference), -1)
    out = candidate.astype(np.float64).reshape(len(candidate), -1)
    gates = {"max_rel_diff": max_rel_diff, "min_cosine": min_cosine, "min_top1": min_top1}
    nonfinite = int((~np.isfinite(ref)).sum() + (~np.isfinite(out)).sum())
    if nonfinite:
        nan = float("nan")
        return Parity(nan, nan, nan, 0.0, 0.0, len(ref), nonfinite, **gates)
    # The worst sample's cosine, so one bad image is not averaged away.
    norms = np.linalg.norm(ref, axis=1) * np.linalg.norm(out, axis=1)
    same = np.all(ref == out, axis=1).astype(np.float64)
    cosines = np.where(norms > 0, (ref * out).sum(axis=1) / np.where(norms > 0, norms, 1.0), same)
    top5 = np.argsort(-out, axis=1)[:, :5]
    return Parity(
        max_abs_diff=float(np.abs(ref - out).max()),
        scale=max(1.0, float(np.abs(ref).max())),
        cosine=float(cosines.min()),
        top1_agreement=float((ref.argmax(1) == out.argmax(1)).mean()),
        top5_containment=float((top5 == ref.argmax(1)[:, None]).any(axis=1).mean()),
        samples=len(ref),
        nonfinite=0,
        **gates,
    )
