"""TinyResNet: the small pretrained CNN of the transfer part.

Shaped like torchvision's ResNets where students touch it: a backbone that
ends in global average pooling, then ``self.fc``, an ``nn.Linear`` from
``feature_dim`` features to the classes.  Sizes for a (N, 3, 32, 32) input::

    stem     conv3x3(3 -> 16), norm, ReLU            (N, 16, 32, 32)
    layer1   BasicBlock(16 -> 16)                    (N, 16, 32, 32)
    layer2   BasicBlock(16 -> 32, stride 2)          (N, 32, 16, 16)
    layer3   BasicBlock(32 -> 64, stride 2)          (N, 64, 8, 8)
    avgpool  AdaptiveAvgPool2d(1), flatten           (N, 64)
    fc       Linear(64 -> num_classes)               (N, num_classes)

The norm layers are GroupNorm, not BatchNorm: GroupNorm keeps no running
statistics, so a frozen backbone (requires_grad False) really stays the same
in train mode, and "the backbone's weights did not change" is an exact check.
(With BatchNorm, ``model.train()`` would keep updating the frozen backbone's
running means and variances, a buffer the student never asked to train.)

``pretrained_backbone()`` returns the network with the shipped weights, in
train mode like torchvision's pretrained constructors; the weights come from
``scripts/train_backbone.py`` (10-class shapes task, ``data.make_source``).

This file imports only torch and its siblings: it is also loaded by path in
the sandboxed child, where ``grader`` is not importable.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from .sizes import SOURCE_CLASSES

WEIGHTS = Path(__file__).with_name("weights") / "tinyresnet_shapes10.pt"
GROUPS = 4  # GroupNorm groups in every norm layer


def _norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(GROUPS, channels)


class BasicBlock(nn.Module):
    """out = relu(norm(conv(relu(norm(conv(x))))) + shortcut(x)), as in ResNet-18/34.

    The shortcut is the identity, or a strided 1x1 conv and norm when the
    block changes the resolution or the number of channels.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.norm1 = _norm(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.norm2 = _norm(out_channels)
        self.relu = nn.ReLU()
        self.shortcut = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                                          _norm(out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.norm1(self.conv1(x)))
        out = self.norm2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class TinyResNet(nn.Module):
    """A three-stage residual network for 32x32 RGB images (about 78k parameters)."""

    def __init__(self, num_classes: int = 10, widths: tuple[int, int, int] = (16, 32, 64)):
        super().__init__()
        c1, c2, c3 = widths
        self.stem = nn.Sequential(nn.Conv2d(3, c1, 3, padding=1, bias=False), _norm(c1), nn.ReLU())
        self.layer1 = BasicBlock(c1, c1)
        self.layer2 = BasicBlock(c1, c2, stride=2)
        self.layer3 = BasicBlock(c2, c3, stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.feature_dim = c3
        self.fc = nn.Linear(c3, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, 32, 32) images -> (N, feature_dim) pooled features."""
        x = self.layer3(self.layer2(self.layer1(self.stem(x))))
        return torch.flatten(self.avgpool(x), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, 32, 32) images -> (N, num_classes) logits."""
        return self.fc(self.features(x))


def pretrained_backbone() -> TinyResNet:
    """A fresh TinyResNet with the shipped source-task weights (10-class head), in train mode."""
    model = TinyResNet(num_classes=SOURCE_CLASSES)
    model.load_state_dict(torch.load(WEIGHTS, map_location="cpu", weights_only=True))
    return model
