"""The reference solution's structure in both modes."""

import pytest
import torch
from torch import nn

from grader.reference import transfer_data as data
from grader.reference import transfer_solution as ref
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


@pytest.mark.parametrize("mode", ref.MODES)
def test_its_adam_updates_exactly_as_torch_optim_adam(mode):
    import copy

    import numpy as np

    from grader.transfer.budget import train

    model, opt, _ = build(mode)
    twin = copy.deepcopy(model)
    groups = [{"params": [dict(twin.named_parameters())[n] for n, p in model.named_parameters()
                          if any(p is q for q in g["params"])], "lr": g["lr"]} for g in opt.param_groups]
    theirs = torch.optim.Adam(groups)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((48, 3, 32, 32)).astype(np.float32), rng.integers(0, data.TARGET_CLASSES, 48)
    train(model, opt, x, y, 2, 16, seed=1)
    train(twin, theirs, x, y, 2, 16, seed=1)
    for (name, p), q in zip(model.named_parameters(), twin.parameters()):
        assert torch.equal(p, q), name  # bit for bit, over 6 steps with two learning rates
    changed = [n for n, p in model.named_parameters() if p.requires_grad]
    assert changed and all(torch.equal(opt.state[p]["exp_avg"], theirs.state[q]["exp_avg"])
                           for p, q in zip(model.parameters(), twin.parameters()) if p.requires_grad)


def test_its_pipeline_never_imports_torch_dynamo():
    # torch.optim imports torch._dynamo (1.4-1.7 s of CPU) on first use; the reference's child must not
    import subprocess
    import sys

    code = ("import sys, numpy as np, torch\n"
            "from grader.reference import transfer_solution as ref\n"
            "from grader.transfer.budget import train, predict\n"
            "from grader.transfer.model import pretrained_backbone\n"
            "for mode in ref.MODES:\n"
            "    m = ref.build_model(pretrained_backbone(), 4, mode)\n"
            "    o = ref.make_optimizer(m, mode)\n"
            "    x = np.zeros((8, 3, 32, 32), np.float32)\n"
            "    train(m, o, x, np.zeros(8, np.int64), 1, 4, 0); predict(m, x, 4)\n"
            "print('torch._dynamo' in sys.modules, 'torch.optim' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "True"]
