"""Fine-tunes with one learning rate for backbone and head."""
import torch
from torch import nn


def build_model(pretrained, num_classes, mode):
    if mode == "feature_extractor":
        for p in pretrained.parameters():
            p.requires_grad = False
    pretrained.fc = nn.Linear(pretrained.fc.in_features, num_classes)
    return pretrained


def make_optimizer(model, mode):
    if mode == "feature_extractor":
        return torch.optim.SGD(model.fc.parameters(), lr=0.05, momentum=0.9)
    return torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
