"""Transfer learning: reuse a network pretrained on a big source task.

Two ways, as in the cs231n notes:

- "feature_extractor": keep every pretrained layer fixed and train only a new
  classifier head on the features the backbone computes;
- "fine_tune": replace the head too, but train everything, with a smaller
  learning rate for the pretrained layers than for the new head.
"""

import torch
from torch import nn


def build_model(pretrained, num_classes, mode):
    """Replace the classifier head of `pretrained` (its `.fc`) with a new one
    for `num_classes` classes; freeze the rest in feature_extractor mode."""
    if mode not in ("feature_extractor", "fine_tune"):
        raise ValueError(f"unknown mode {mode!r}")
    if mode == "feature_extractor":
        for p in pretrained.parameters():
            p.requires_grad = False
    pretrained.fc = nn.Linear(pretrained.fc.in_features, num_classes)  # new, trainable
    return pretrained


def make_optimizer(model, mode):
    """Adam: only the head as a feature extractor; everything when
    fine-tuning, the pretrained layers at a tenth of the head's rate."""
    if mode == "feature_extractor":
        return torch.optim.Adam(model.fc.parameters(), lr=1e-2)
    head = list(model.fc.parameters())
    head_ids = {id(p) for p in head}
    backbone = [p for p in model.parameters() if id(p) not in head_ids]
    return torch.optim.Adam([{"params": backbone, "lr": 1e-3}, {"params": head, "lr": 1e-2}])
