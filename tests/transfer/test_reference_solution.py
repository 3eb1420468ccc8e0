"""The reference solution's structure in both modes."""

import pytest
import torch
from torch import nn

from grader.transfer import data
from grader.transfer import reference_solution as ref
from grader.transfer.model import pretrained_backbone


def build(mode):
    torch.manual_seed(0)
    pretrained = pretrained_backbone()
    before = {k: v.clone() for k, v in pretrained.state_dict().items() if not k.startswith("fc.")}
    model = ref.build_model(pretrained, data.TARGET_CLASSES, mode)
    return model, ref.make_optimizer(model, mode), before


@pytest.mark.parametrize("mode", ref.MODES)
def test_new_head_on_the_pretrained_backbone(mode):
    model, _, before = build(mode)
    assert isinstance(model.fc, nn.Linear)
    assert (model.fc.in_features, model.fc.out_features) == (64, data.TARGET_CLASSES)
    assert all(p.requires_grad for p in model.fc.parameters())
    state = model.state_dict()
    assert all(torch.equal(state[k], v) for k, v in before.items())
    assert model(torch.zeros(3, 3, 32, 32)).shape == (3, data.TARGET_CLASSES)


def test_feature_extractor_freezes_the_backbone_and_optimizes_the_head():
    model, opt, _ = build("feature_extractor")
    head = {id(p) for p in model.fc.parameters()}
    assert all(not p.requires_grad for p in model.parameters() if id(p) not in head)
    assert [{id(p) for p in g["params"]} for g in opt.param_groups] == [head]


def test_fine_tune_trains_everything_backbone_ten_times_slower():
    model, opt, _ = build("fine_tune")
    assert all(p.requires_grad for p in model.parameters())
    backbone_group, head_group = opt.param_groups
    assert {id(p) for p in head_group["params"]} == {id(p) for p in model.fc.parameters()}
    assert {id(p) for p in backbone_group["params"]} | {id(p) for p in head_group["params"]} == {
        id(p) for p in model.parameters()}
    assert backbone_group["lr"] == pytest.approx(head_group["lr"] / 10)


def test_bad_mode():
    with pytest.raises(ValueError, match="'linear_probe'"):
        ref.build_model(pretrained_backbone(), 4, "linear_probe")
    with pytest.raises(ValueError, match="'linear_probe'"):
        ref.make_optimizer(pretrained_backbone(), "linear_probe")
