"""Throws the pretrained weights away: re-initialises every layer."""
import torch
from torch import nn


def build_model(pretrained, num_classes, mode):
    for module in pretrained.modules():
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()
    if mode == "feature_extractor":
        for p in pretrained.parameters():
            p.requires_grad = False
    pretrained.fc = nn.Linear(pretrained.fc.in_features, num_classes)
    return pretrained


def make_optimizer(model, mode):
    if mode == "feature_extractor":
        return torch.optim.SGD(model.fc.parameters(), lr=0.05, momentum=0.9)
    head = list(model.fc.parameters())
    ids = {id(p) for p in head}
    return torch.optim.SGD([{"params": [p for p in model.parameters() if id(p) not in ids], "lr": 0.005},
                            {"params": head, "lr": 0.05}], momentum=0.9)
