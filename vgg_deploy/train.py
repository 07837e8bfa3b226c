"""A short, seeded training loop: enough to give the small VGGs real weights on real data for demos and tests."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from .log import progress_bar

if TYPE_CHECKING:
    from .models.vgg import VGG

__all__ = ["train_classifier", "accuracy"]

log = logging.getLogger(__name__)


def train_classifier(
    model: VGG,
    images: np.ndarray,
    labels: np.ndarray,
    *,
    epochs: int = 8,
    batch_size: int = 32,
    lr: float = 5e-3,
    seed: int = 0,
) -> list[float]:
    """Train with Adam and cross-entropy on (N, C, H, W) float32 images; returns the mean loss of each epoch.
    The model is left in eval mode."""
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    x, y = torch.from_numpy(np.ascontiguousarray(images)), torch.from_numpy(labels.astype(np.int64))
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=lr, total_steps=epochs * -(-len(x) // batch_size)
    )
    loss_fn = nn.CrossEntropyLoss()
    losses = []
    model.train()
    for epoch in progress_bar(range(epochs), desc="training", unit="epoch"):
        order = torch.randperm(len(x), generator=generator)
        total = 0.0
        for start in range(0, len(x), batch_size):
            idx = order[start:start + batch_size]
            optimizer.zero_grad()
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            optimizer.step()
            schedule.step()
            total += float(loss.detach()) * len(idx)
        losses.append(total / len(x))
        log.debug("epoch %d/%d: loss %.4f", epoch + 1, epochs, losses[-1])
    model.eval()
    if losses:
        log.info("trained %d epochs: loss %.4f", epochs, losses[-1])
    return losses


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Top-1 accuracy of (N, classes) logits."""
    return float((np.asarray(logits).argmax(1) == labels).mean())
