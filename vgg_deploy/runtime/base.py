"""The runner contract every backend follows, as Polygraphy's runners do.

Construction only stores options (no heavy import, no model, no GPU); `activate()` loads, `infer()` runs a
float32 (N, C, H, W) batch and returns float32 logits, `deactivate()` frees. The base class owns the state
machine and checks every batch before a backend sees it, so all backends fail the same way on bad input.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence, TypeVar

import numpy as np

from ..errors import VGGDeployError

if TYPE_CHECKING:
    from ..models.family import ModelFamily

__all__ = ["BaseRunner", "RunnerError", "Prediction", "ClassScore", "TimedCall", "DEFAULT_PREDICT_BATCH"]

_Runner = TypeVar("_Runner", bound="BaseRunner")
DEFAULT_PREDICT_BATCH = 32  # images per infer() call in predict() when the model takes any batch
_PREPROCESS_SLICE = 256


class RunnerError(VGGDeployError):
    """A runner that cannot be built, activated or fed as asked."""


@dataclass(frozen=True)
class ClassScore:
    index: int
    label: str
    probability: float


@dataclass(frozen=True)
class Prediction:
    """One image's most probable classes, most probable first."""

    source: str  # the image's path, or "<image i>" for an in-memory image
    top_k: tuple[ClassScore, ...]

    @property
    def best(self) -> ClassScore:
        return self.top_k[0]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TimedCall:
    """One prepared call for a timing loop (`BaseRunner.timed_call`): everything a call needs is set up before it.

    copies_included: True when each call copies the batch to the device and the outputs back, False when the
    inputs already sit on the device and the outputs stay there, None for a runner on host memory (the CPU).
    Every call on a GPU synchronizes before it returns, so a wall-clock time covers the work, not its launch.
    """

    call: Callable[[], object]
    copies_included: bool | None = None
    cuda_graphs: bool = False  # the call replays a captured CUDA graph
    notes: tuple[str, ...] = ()  # what a report should say about how it was timed


class BaseRunner:
    """Activate, infer, deactivate; subclasses fill `_activate_impl`, `_infer_impl`, `_deactivate_impl`.

    `_activate_impl` must set `_config` (None when the artifact carries no preprocessing facts),
    `_input_shape` (C, H, W) and `_batch_range` (min, max; max None = any batch).
    Activating an active runner is an error (a second load is a resource bug); deactivating an inactive one
    does nothing, so cleanup code may always call it. `with` activates only a runner that is not yet active.
    """

    def __init__(self, name: str) -> None:
        self._name = name
        self._active = False
        self._config: ModelFamily | None = None
        self._input_shape: tuple[int, int, int] | None = None
        self._batch_range: tuple[int, int | None] | None = None
        self._classes: int | None = None  # the output's class count, for runners that read it from the model

    # -- state machine ---------------------------------------------------------------------------------------
    @property
    def is_active(self) -> bool:
        return self._active

    def activate(self) -> None:
        """Load the model; the runner can infer afterwards."""
        if self._active:
            raise RunnerError(f"{self.name}: runner is already active; call deactivate() before activating it again")
        try:
            self._activate_impl()
        except BaseException:
            self._config, self._input_shape, self._batch_range = None, None, None
            raise
        if self._input_shape is None or self._batch_range is None:
            self._deactivate_impl()  # it loaded: free what it holds before reporting the bug
            self._config, self._input_shape, self._batch_range = None, None, None
            raise RuntimeError(f"{type(self).__name__}._activate_impl did not set the input shape and batch range")
        self._active = True

    def deactivate(self) -> None:
        """Free the model (and device memory); a no-op on an inactive runner."""
        if not self._active:
            return
        try:
            self._deactivate_impl()
        finally:
            self._active = False
            self._config, self._input_shape, self._batch_range = None, None, None

    def __enter__(self: _Runner) -> _Runner:
        if not self._active:  # load() hands out active runners: `with load(...) as m` must not load twice
            self.activate()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.deactivate()

    # -- facts -----------------------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        """Backend and options, e.g. "ort-fp32", "torch-bf16-cl"."""
        return self._name

    @property
    def config(self) -> ModelFamily | None:
        """The model's config (its preprocessing facts); None for an artifact that does not carry them."""
        self._require_active("config")
        return self._config

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        self._require_active("input_shape")
        return self._input_shape  # type: ignore[return-value]  # set by every activation

    @property
    def batch_range(self) -> tuple[int, int | None]:
        """(min, max) batch size; (1, None) for a dynamic batch, (n, n) for a fixed one."""
        self._require_active("batch_range")
        return self._batch_range  # type: ignore[return-value]

    def _require_active(self, what: str) -> None:
        if not self._active:
            raise RunnerError(f"{self.name}: runner is not active; call activate() (or use `with`) before {what}")

    # -- inference -------------------------------------------------------------------------------------------
    def infer(self, batch: np.ndarray) -> np.ndarray:
        """float32 (N, C, H, W) -> float32 (N, classes) logits."""
        self._require_active("infer()")
        self._check_batch(batch)
        return self._infer_impl(batch)

    def timed_call(self, batch: np.ndarray, *, include_copies: bool = True, cuda_graphs: bool = False) -> TimedCall:
        """A zero-argument call that runs `batch` as a benchmark should time it, with what it includes.

        include_copies=False lets a GPU runner put the batch on the device once and leave the outputs there, so
        the time is the model's and not the bus's; a runner that cannot says so (copies_included=True).
        cuda_graphs asks for CUDA-graph replay where the runner supports it (TimedCall.cuda_graphs says if it
        did). This default times infer() itself: host arrays in and out.
        """
        self._require_active("timed_call()")
        self._check_batch(batch)
        return TimedCall(call=lambda: self.infer(batch))  # the very call users make, checks included

    def _check_batch(self, batch: object) -> None:
        if not isinstance(batch, np.ndarray):
            raise RunnerError(f"{self.name}: infer() takes a numpy array, got {type(batch).__name__}")
        if batch.dtype != np.float32:
            raise RunnerError(
                f"{self.name}: input dtype is {batch.dtype}, it must be float32 (convert it with .astype(np.float32))"
            )
        expected = self.input_shape
        if batch.ndim != 4:
            raise RunnerError(
                f"{self.name}: input must be 4-D (N, C, H, W) = (N, {', '.join(map(str, expected))}), "
                f"got {batch.ndim}-D shape {batch.shape}"
            )
        if tuple(batch.shape[1:]) != expected:
            raise RunnerError(
                f"{self.name}: input (C, H, W) must be {expected}, got {tuple(batch.shape[1:])}"
            )
        low, high = self.batch_range
        n = batch.shape[0]
        if n < low or (high is not None and n > high):
            allowed = f"exactly {low}" if low == high else f"at least {low}" if high is None else f"{low} to {high}"
            raise RunnerError(f"{self.name}: batch of {n} is outside the model's batch range ({allowed})")

    def infer_all(self, images: np.ndarray, *, batch_size: int | None = None) -> np.ndarray:
        """Logits of any number of images, run in batches of `batch_size` (default: the model's fixed batch,
        else DEFAULT_PREDICT_BATCH); a fixed-batch model's last batch is padded and the padding dropped."""
        self._require_active("infer_all()")
        low, high = self.batch_range
        step = batch_size if batch_size is not None else high if high is not None else DEFAULT_PREDICT_BATCH
        if step < 1:
            raise RunnerError(f"{self.name}: batch_size must be >= 1, got {step}")
        step = max(low, step if high is None else min(step, high))  # a preferred size: the model's range wins
        logits: list[np.ndarray] = []
        for start in range(0, len(images), step):
            chunk = images[start:start + step]
            count = len(chunk)
            if count < low:  # a fixed-batch model: pad, then drop the padding's outputs
                chunk = np.concatenate([chunk, np.zeros((low - count, *chunk.shape[1:]), chunk.dtype)])
            logits.append(self.infer(chunk)[:count])
        if not logits:  # no images: still (0, classes), so callers can concatenate and index as usual
            return np.zeros((0, self._num_classes()), np.float32)
        return np.concatenate(logits)

    def predict(
        self, images: Iterable[Any], *, top_k: int = 5, batch_size: int | None = None
    ) -> list[Prediction]:
        """Classify PIL images or image paths with the model's own preprocessing; one Prediction per image.

        The images are run through infer_all() in batches of `batch_size`.
        """
        from ..data.preprocess import preprocess_image

        self._require_active("predict()")
        config = self._config
        if config is None:
            raise RunnerError(
                f"{self.name}: the model carries no preprocessing facts (no vgg-deploy metadata), so predict() "
                "cannot prepare images; export it with `vgg-deploy export`, or preprocess yourself and call infer()"
            )
        if top_k < 1:
            raise RunnerError(f"{self.name}: top_k must be >= 1, got {top_k}")
        # One path or image is one image, not a sequence of characters.
        images = [images] if isinstance(images, (str, Path)) or not hasattr(images, "__iter__") else list(images)
        if not images:
            return []
        logits = [  # preprocessed a slice at a time, so a long list of paths is never all in memory at once
            self.infer_all(np.stack([preprocess_image(image, config) for image in images[i:i + _PREPROCESS_SLICE]]),
                           batch_size=batch_size)
            for i in range(0, len(images), _PREPROCESS_SLICE)
        ]
        probabilities = _softmax(np.concatenate(logits))
        labels = config.labels
        return [
            Prediction(source=_source(image, i), top_k=_top_k(row, top_k, labels))
            for i, (image, row) in enumerate(zip(images, probabilities))
        ]

    # -- for subclasses --------------------------------------------------------------------------------------
    def _num_classes(self) -> int:
        """Classes the model outputs: `_classes` when the runner read it from the model's output, else its config."""
        if self._classes is not None and self._classes > 0:
            return self._classes
        if self._config is None:
            raise RunnerError(f"{self.name}: the model carries no facts saying how many classes it outputs, so an "
                              "empty batch has no shape; pass at least one image")
        return self._config.num_classes

    def _activate_impl(self) -> None:
        raise NotImplementedError

    def _infer_impl(self, batch: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _deactivate_impl(self) -> None:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} {'active' if self._active else 'inactive'}>"


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits.astype(np.float64) - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def _top_k(probabilities: np.ndarray, k: int, labels: Sequence[str] | None) -> tuple[ClassScore, ...]:
    order = np.argsort(-probabilities, kind="stable")[:k]
    return tuple(
        ClassScore(
            index=int(i),
            label=labels[i] if labels is not None and i < len(labels) else str(int(i)),
            probability=float(probabilities[i]),
        )
        for i in order
    )


def _source(image: Any, index: int) -> str:
    return str(image) if isinstance(image, (str, Path)) else f"<image {index}>"
