"""build_model crashes; make_optimizer is fine."""
import torch


def build_model(pretrained, num_classes, mode):
    return pretrained.classifier  # there is no such attribute: the head is .fc


def make_optimizer(model, mode):
    return torch.optim.SGD(model.parameters(), lr=0.01)
