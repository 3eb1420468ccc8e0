"""The point of the exercise, measured: on the target task, with the grading
budget (budget.EPOCHS epochs of budget.BATCH_SIZE over target_splits()'s 300
training images), the pretrained features beat the same network trained from
scratch by a clear margin.

Measured on the project's 2-core machine, one thread (accuracy on the 200
hidden test images, chance is 25%; seconds per training run; 5 epochs):

    feature extractor (pretrained, frozen, new head)   84.0%   0.7 s
    fine-tune (pretrained, backbone lr / 10)            86.0%   2.2 s
    from scratch, Adam lr 1e-2 (the head's)             23.5%   2.2 s
    from scratch, Adam lr 1e-3 (the backbone's)         25.5%   2.1 s

Other seeds for the new head (torch.manual_seed 1-4) give 82.5-84% and
85.5-90%.  The task is learnable from scratch, only not on this budget: 20
and 40 epochs at lr 1e-2 reach 51% and 73.5% (12 s and 23 s).
"""

import numpy as np
import pytest
import torch

from grader.reference import transfer_data as data
from grader.transfer import budget
from grader.reference import transfer_solution as ref
from grader.transfer.model import TinyResNet, pretrained_backbone

MARGIN = 0.15


def reference_pipeline(mode, seed=0):
    torch.manual_seed(seed)
    model = ref.build_model(pretrained_backbone(), data.TARGET_CLASSES, mode)
    return model, ref.make_optimizer(model, mode)


def scratch_pipeline(lr, seed=0):
    """The same TinyResNet, randomly initialised, everything trained (fine-tune style, one lr)."""
    torch.manual_seed(seed)
    model = TinyResNet(num_classes=data.TARGET_CLASSES)
    return model, torch.optim.Adam(model.parameters(), lr=lr)


@pytest.fixture(scope="module")
def outcomes():
    splits = data.target_splits()
    (x, y), (x_test, y_test) = splits["train"], splits["test"]
    pipelines = {
        "feature_extractor": reference_pipeline("feature_extractor"),
        "fine_tune": reference_pipeline("fine_tune"),
        "scratch_head_lr": scratch_pipeline(ref.HEAD_LR),
        "scratch_backbone_lr": scratch_pipeline(ref.BACKBONE_LR),
    }
    results = {}
    for name, (model, optimizer) in pipelines.items():
        seconds = budget.train(model, optimizer, x, y, budget.EPOCHS, budget.BATCH_SIZE, seed=0)
        acc = budget.accuracy(budget.predict(model, x_test, 100), y_test)
        results[name] = (acc, seconds)
    print("\n" + "\n".join(f"{name:20s} {acc:6.1%} {s:5.2f} s" for name, (acc, s) in results.items()))
    return results


def test_feature_extractor_beats_scratch(outcomes):
    fe = outcomes["feature_extractor"][0]
    scratch = max(outcomes["scratch_head_lr"][0], outcomes["scratch_backbone_lr"][0])
    assert fe >= scratch + MARGIN, f"feature extractor {fe:.1%}, best from-scratch {scratch:.1%}"
    assert fe >= 0.7, f"feature extractor {fe:.1%}"


def test_fine_tune_beats_scratch(outcomes):
    ft = outcomes["fine_tune"][0]
    scratch = max(outcomes["scratch_head_lr"][0], outcomes["scratch_backbone_lr"][0])
    assert ft >= scratch + MARGIN, f"fine-tune {ft:.1%}, best from-scratch {scratch:.1%}"


def test_feature_extractor_leaves_the_backbone_unchanged():
    model, optimizer = reference_pipeline("feature_extractor")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x, y = data.make_target(64, 5)
    budget.train(model, optimizer, x, y, 1, budget.BATCH_SIZE, seed=0)
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed == {"fc.weight", "fc.bias"}


@pytest.mark.parametrize("mode", ref.MODES)
def test_training_is_deterministic(mode):
    x, y = data.make_target(96, 5)
    logits = []
    for _ in range(2):
        model, optimizer = reference_pipeline(mode, seed=3)
        budget.train(model, optimizer, x, y, 2, budget.BATCH_SIZE, seed=3)
        logits.append(budget.predict(model, x, 50))
    assert np.array_equal(logits[0], logits[1])
    model, optimizer = reference_pipeline(mode, seed=3)
    budget.train(model, optimizer, x, y, 2, budget.BATCH_SIZE, seed=4)  # another order of the batches
    assert not np.array_equal(budget.predict(model, x, 50), logits[0])


def test_predict_takes_arrays_or_tensors_and_leaves_eval_mode():
    model = TinyResNet(num_classes=3)
    x = data.make_target(5, 0)[0]
    a = budget.predict(model, x, 2)
    b = budget.predict(model, torch.from_numpy(x), 4)
    assert a.shape == (5, 3) and a.dtype == np.float32 and np.allclose(a, b, atol=1e-6)
    assert not model.training  # predict leaves eval mode, as model.eval() does
