"""Each model's speed relative to AlexNet's (the zoo's reference), and how such a ratio is written."""

from __future__ import annotations

from typing import Any

__all__ = ["REFERENCE_MODEL", "SEED_RATIO", "speed_ratios", "ratio_text"]

REFERENCE_MODEL = "alexnet"
# The seed's reading of GluonCV's chart: VGG runs at about 1/5 to 1/6 of AlexNet's speed.
SEED_RATIO = (1 / 6, 1 / 5)


def speed_ratios(rows: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """model -> backend -> images/s relative to AlexNet's on the same backend and batch size (largest batch)."""
    ok = [r for r in rows if r["images_per_s"]]
    if not ok:
        return {}
    batch = max(r["batch_size"] for r in ok)
    ref = {r["backend"]: r["images_per_s"] for r in ok if r["model"] == REFERENCE_MODEL and r["batch_size"] == batch}
    ratios: dict[str, dict[str, float]] = {}
    for row in ok:
        if row["model"] != REFERENCE_MODEL and row["batch_size"] == batch and row["backend"] in ref:
            ratios.setdefault(row["model"], {})[row["backend"]] = row["images_per_s"] / ref[row["backend"]]
    return ratios


def ratio_text(value: float) -> str:
    """0.2 -> "1/5", 3 -> "x3": how many times slower or faster than the reference."""
    return f"1/{1 / value:.3g}" if value < 1 else f"x{value:.3g}"
