"""The reference answer to the transfer exercise, graded like a submission.

``build_model(pretrained, num_classes, mode)`` swaps the pretrained head for a
new ``nn.Linear(feature_dim, num_classes)`` and, in ``"feature_extractor"``
mode, freezes everything else; ``make_optimizer(model, mode)`` then trains

- feature_extractor: only the head, ``Adam(model.fc.parameters(), lr=HEAD_LR)``;
- fine_tune: everything, in two parameter groups, the pretrained layers with a
  learning rate ten times smaller than the new head's, so that the few
  hundred target images nudge the pretrained features rather than wipe them.

This file imports only torch: it is loaded by path in the sandboxed child.
"""

from __future__ import annotations

import torch
from torch import nn

MODES = ("feature_extractor", "fine_tune")
HEAD_LR = 1e-2
BACKBONE_LR = HEAD_LR / 10


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")


def build_model(pretrained: nn.Module, num_classes: int, mode: str) -> nn.Module:
    """``pretrained`` itself, with a fresh head of ``num_classes`` outputs (and frozen backbone in
    feature_extractor mode)."""
    _check_mode(mode)
    if mode == "feature_extractor":
        for p in pretrained.parameters():
            p.requires_grad = False
    pretrained.fc = nn.Linear(pretrained.fc.in_features, num_classes)  # new parameters: requires_grad True
    return pretrained


def make_optimizer(model: nn.Module, mode: str) -> torch.optim.Optimizer:
    _check_mode(mode)
    head = list(model.fc.parameters())
    if mode == "feature_extractor":
        return torch.optim.Adam(head, lr=HEAD_LR)
    head_ids = {id(p) for p in head}
    backbone = [p for p in model.parameters() if id(p) not in head_ids]
    return torch.optim.Adam([{"params": backbone, "lr": BACKBONE_LR}, {"params": head, "lr": HEAD_LR}])
