"""The trusted half of transfer grading, run inside the sandboxed child.

The parent calls these functions with ``Session.call_trusted``; the student's
``build_model`` and ``make_optimizer`` are called with ``Session.call`` in
between, and the objects (the backbone, the student's model and optimizer)
stay in the child as references.  Only plain data comes back: parameter
names, flags, learning rates, arrays of weights and logits.  Every judgement
(frozen or not, which weights changed, accuracy against the hidden labels)
is made in the parent.

This file is loaded by path as part of its folder (``from .budget import``
works) and imports only the standard library, numpy and torch: ``grader``
is not importable in the child.
"""

from __future__ import annotations

import types

import numpy as np
import torch

from .budget import predict, train


def _device(name: str) -> torch.device:
    return torch.device("cuda" if name == "cuda" and torch.cuda.is_available() else "cpu")


def load_backbone(spec: dict | None = None, device: str = "cpu", seed: int | None = None):
    """The pretrained network: the shipped TinyResNet, or an instructor's
    ``{"file": path, "function": name}`` returning an nn.Module with ``.fc``.

    With ``seed``, torch's, numpy's and Python's global generators are seeded first: the
    pipeline's new head (``nn.Linear`` draws its initial weights from torch's generator)
    and anything else built from here on are the same for the same seed, run after run."""
    torch.set_num_threads(1)
    if seed is not None:
        import random

        torch.manual_seed(seed)
        np.random.seed(seed % 2**32)
        random.seed(seed)
    from .model import pretrained_backbone

    if spec and spec.get("source") is not None:
        # The instructor's file comes as text: the child may not see the file system where it lives.
        module = types.ModuleType("instructor_backbone")
        module.__file__ = spec.get("file") or "<instructor task>"
        module.shipped_backbone = pretrained_backbone  # for tasks that reuse the shipped network
        exec(compile(spec["source"], module.__file__, "exec"), module.__dict__)  # noqa: S102 - trusted code
        model = getattr(module, spec["function"])()
    else:
        model = pretrained_backbone()
    return model.to(_device(device))


def weights(model) -> dict:
    """Every parameter of ``model`` by name, as numpy arrays (the parent's copy of the pretrained ones)."""
    return {name: p.detach().cpu().numpy().copy() for name, p in model.named_parameters()}


def _names(model) -> dict[int, str]:
    return {id(p): name for name, p in model.named_parameters()}


def inspect(model, optimizer, sample_x, device: str = "cpu") -> dict:
    """What the student built, before any training."""
    facts: dict = {"model_type": type(model).__name__, "optimizer_type": type(optimizer).__name__}
    if not isinstance(model, torch.nn.Module):
        facts["error"] = f"build_model returned a {type(model).__name__}, expected a torch.nn.Module"
        return facts
    if not isinstance(optimizer, torch.optim.Optimizer):
        facts["error"] = f"make_optimizer returned a {type(optimizer).__name__}, expected a torch.optim.Optimizer"
        return facts
    names = _names(model)
    facts["params"] = [
        {"name": name, "shape": list(p.shape), "requires_grad": bool(p.requires_grad)}
        for name, p in model.named_parameters()
    ]
    facts["state"] = {name: p.detach().cpu().numpy().copy() for name, p in model.named_parameters()}
    facts["groups"] = [
        {
            "lr": float(group.get("lr", 0.0)),
            "names": [names.get(id(p), "") for p in group["params"]],
            "foreign": sum(id(p) not in names for p in group["params"]),
        }
        for group in optimizer.param_groups
    ]
    head = getattr(model, "fc", None)
    facts["fc"] = {
        "is_linear": isinstance(head, torch.nn.Linear),
        "in_features": int(head.in_features) if isinstance(head, torch.nn.Linear) else None,
        "out_features": int(head.out_features) if isinstance(head, torch.nn.Linear) else None,
    }
    was_training = model.training
    model.eval()
    with torch.no_grad():
        out = model(torch.as_tensor(sample_x, device=_device(device)))
    model.train(was_training)
    facts["output_shape"] = list(out.shape) if isinstance(out, torch.Tensor) else None
    return facts


def fit(model, optimizer, x, y, epochs: int, batch_size: int, seed: int, device: str = "cpu") -> float:
    """Train with the standard loop for the fixed budget; the seconds it took."""
    torch.manual_seed(seed)
    dev = _device(device)
    return float(train(model, optimizer, torch.as_tensor(x, device=dev), torch.as_tensor(y, device=dev),
                       epochs, batch_size, seed))


def outcome(model, test_x, batch_size: int, device: str = "cpu") -> dict:
    """The weights after training and the logits on the test images (no labels here)."""
    logits = predict(model, torch.as_tensor(test_x, device=_device(device)), batch_size)
    return {
        "state": {name: p.detach().cpu().numpy().copy() for name, p in model.named_parameters()},
        "logits": np.asarray(logits, dtype=np.float32),
    }
