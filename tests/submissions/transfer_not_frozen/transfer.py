"""Forgets to freeze the backbone in feature_extractor mode (and optimizes everything)."""
import torch
from torch import nn


def build_model(pretrained, num_classes, mode):
    pretrained.fc = nn.Linear(pretrained.fc.in_features, num_classes)
    return pretrained


def make_optimizer(model, mode):
    if mode == "feature_extractor":
        return torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    head = list(model.fc.parameters())
    ids = {id(p) for p in head}
    return torch.optim.SGD([{"params": [p for p in model.parameters() if id(p) not in ids], "lr": 0.005},
                            {"params": head, "lr": 0.05}], momentum=0.9)
