"""Keeps the source task's head: 10 outputs for a 4-class task."""
import torch


def build_model(pretrained, num_classes, mode):
    if mode == "feature_extractor":
        for name, p in pretrained.named_parameters():
            p.requires_grad = name.startswith("fc.")
    return pretrained


def make_optimizer(model, mode):
    if mode == "feature_extractor":
        return torch.optim.SGD(model.fc.parameters(), lr=0.05, momentum=0.9)
    head = list(model.fc.parameters())
    ids = {id(p) for p in head}
    return torch.optim.SGD([{"params": [p for p in model.parameters() if id(p) not in ids], "lr": 0.005},
                            {"params": head, "lr": 0.05}], momentum=0.9)
