"""The training budget of the transfer part and the one loop that spends it.

The grader trains every pipeline (the student's and the reference's, in both
modes) with ``train`` for ``EPOCHS`` epochs of ``BATCH_SIZE`` images over the
target task's training split, then scores ``predict``'s logits on the hidden
test split.  Only ``build_model`` and ``make_optimizer`` differ between
pipelines.

This file imports only the standard library, numpy and torch: it is also
loaded by path in the sandboxed child, where ``grader`` is not importable.
"""

from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F

from .sizes import BATCH_SIZE, EPOCHS  # noqa: F401 - the budget's numbers, kept where torch is not needed


def _tensor(a, device: torch.device | None = None) -> torch.Tensor:
    return a.to(device) if isinstance(a, torch.Tensor) else torch.as_tensor(np.asarray(a), device=device)


def train(model: torch.nn.Module, optimizer: torch.optim.Optimizer, x, y, epochs: int, batch_size: int,
          seed: int) -> float:
    """The standard loop; returns the seconds it took.

    x: (N, 3, H, W) float32 images, y: (N,) int64 labels (numpy arrays or
    tensors).  Each epoch visits the images in an order drawn from a
    ``torch.Generator`` seeded with ``seed + epoch``; for each batch::

        optimizer.zero_grad(); loss = cross_entropy(model(xb), yb); loss.backward(); optimizer.step()
    """
    x = _tensor(x)
    y = _tensor(y, x.device).long()
    n = x.shape[0]
    start = time.perf_counter()
    model.train()
    for epoch in range(epochs):
        order = torch.randperm(n, generator=torch.Generator().manual_seed(seed + epoch)).to(x.device)
        for i in range(0, n, batch_size):
            idx = order[i:i + batch_size]
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x[idx]), y[idx])
            loss.backward()
            optimizer.step()
    return time.perf_counter() - start


def predict(model: torch.nn.Module, x, batch_size: int) -> np.ndarray:
    """Logits, float32 (N, num_classes), in eval mode without gradients."""
    x = _tensor(x)
    model.eval()
    with torch.no_grad():
        out = [model(x[i:i + batch_size]).float().cpu() for i in range(0, x.shape[0], batch_size)]
    return torch.cat(out).numpy() if out else np.zeros((0, 0), dtype=np.float32)


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of rows whose largest logit is the label: logits (N, C), labels (N,)."""
    return float(np.mean(np.argmax(logits, axis=1) == labels))
