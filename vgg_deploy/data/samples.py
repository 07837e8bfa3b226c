"""`Samples`, the preprocessed inputs every source gives, and the seeded subsets a source is cut down to."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence

import numpy as np

__all__ = ["Samples", "choose_subset", "top_up_order"]


@dataclass(frozen=True, eq=False)
class Samples:
    """Preprocessed model inputs (N, C, H, W) float32, with labels when the source has them.

    classes: label index -> class name (sorted class-folder names, as torchvision's ImageFolder).
    skipped: (file, reason) for every file of the source that was not an image or could not be decoded.
    indices: each sample's position in the source's full, sorted list, so subsets can be traced back.
    """

    images: np.ndarray
    labels: np.ndarray | None
    classes: tuple[str, ...] | None
    source: str
    skipped: tuple[tuple[str, str], ...] = ()
    synthetic: bool = False
    indices: np.ndarray = field(default=None)  # type: ignore[arg-type]  # None -> 0..N-1

    def __post_init__(self) -> None:
        # Internal consistency (a bug if violated), not user input: user data is checked before it gets here.
        if self.images.ndim != 4 or self.images.dtype != np.float32:
            raise ValueError(f"Samples.images must be float32 (N, C, H, W), "
                             f"got {self.images.dtype} {self.images.shape}")
        if self.labels is not None and self.labels.shape != (len(self.images),):
            raise ValueError(f"Samples.labels must have shape ({len(self.images)},), got {self.labels.shape}")
        if self.indices is None:
            object.__setattr__(self, "indices", np.arange(len(self.images), dtype=np.int64))
        elif self.indices.shape != (len(self.images),):
            raise ValueError(f"Samples.indices must have shape ({len(self.images)},), got {self.indices.shape}")

    def __len__(self) -> int:
        return len(self.images)

    @property
    def noun(self) -> str:
        return "synthetic inputs" if self.synthetic else "images"

    def subset(self, indices: Sequence[int] | np.ndarray) -> Samples:
        """The samples at the given positions (in the order given), with their labels, indices and provenance."""
        idx = np.asarray(indices, dtype=np.intp).reshape(-1)
        return Samples(
            images=self.images[idx], labels=None if self.labels is None else self.labels[idx], classes=self.classes,
            source=self.source, skipped=self.skipped, synthetic=self.synthetic, indices=self.indices[idx],
        )

    def describe(self) -> str:
        """One line for logs and reports: how many, from where, labelled or not, how many files were skipped."""
        text = f"{len(self)} {self.noun} {tuple(self.images.shape[1:])} from {self.source}"
        if self.labels is not None:
            text += f", labelled ({len(self.classes) if self.classes else 'no'} class names)"
        if self.skipped:
            text += f", {len(self.skipped)} files skipped"
        return text


def choose_subset(count: int, limit: int | None, rng: np.random.Generator) -> np.ndarray:
    """Sorted positions of a random `limit` of `count` items; all of them when limit is None or not smaller."""
    if limit is None or limit >= count:
        return np.arange(count, dtype=np.int64)
    return np.sort(rng.permutation(count)[:limit])


def top_up_order(count: int, target: int, rng: np.random.Generator, found: Callable[[], int]) -> Iterator[int]:
    """Positions to try: the first `target` of a seeded permutation in sorted order, then more for each failure.

    Without failures this picks exactly what choose_subset picks, so a folder and the same images in memory agree.
    """
    order = rng.permutation(count) if target < count else np.arange(count)
    cursor = 0
    while cursor < count and found() < target:
        batch = np.sort(order[cursor:cursor + target - found()])
        cursor += len(batch)
        yield from (int(i) for i in batch)
