"""Regenerate the shipped TinyResNet weights, bit for bit, from a seed.

    python scripts/train_backbone.py                 # writes grader/transfer/weights/tinyresnet_shapes10.pt
    python scripts/train_backbone.py --check         # retrains and compares with the shipped file

Trains ``TinyResNet(num_classes=10)`` on ``data.make_source(12000, seed)``
(the 10-class coloured-shapes task) for 10 epochs of Adam (batch 64, learning
rate 3e-3, times 0.2 after epochs 6 and 8), with the same loop the grader
uses (``budget.train``), on one CPU thread with
``torch.use_deterministic_algorithms(True)``, and saves the ``state_dict``
(float32, about 320 kB).

Measured on the project's 2-core CPU machine (torch 2.13 CPU, one thread,
the other core busy): 3.5 to 4 minutes (211 s and 243 s; ~20 s an epoch); source test
accuracy 98.6% on ``make_source(1000, seed + 1)`` (images it never trained
on).  The target task's numbers are in
``tests/transfer/test_transfer_helps.py``.

Bit-for-bit means: the same seed, torch build and CPU kind give identical
tensors (``--check`` compares every tensor exactly, then the files' bytes).
The images themselves are identical on any machine (see ``data.py``); float
training on another CPU or torch version may round differently, which
``--check`` reports as the largest difference.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a plain checkout too
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from grader.reference import transfer_data as data  # noqa: E402
from grader.transfer import budget  # noqa: E402
from grader.transfer.model import WEIGHTS, TinyResNet  # noqa: E402

N_TRAIN, N_TEST = 12000, 1000
EPOCHS, BATCH_SIZE, LR = 10, 64, 3e-3
MILESTONES, GAMMA = (6, 8), 0.2


def pretrain(seed: int = 0, n_train: int = N_TRAIN, epochs: int = EPOCHS, log=print) -> dict[str, torch.Tensor]:
    """The source-task weights for ``seed``: a state_dict of float32 CPU tensors.

    ``n_train`` and ``epochs`` are there for quick tests of the procedure; the
    shipped weights use the defaults.
    """
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(seed)
    x, y = data.make_source(n_train, seed)
    x_test, y_test = data.make_source(N_TEST, seed + 1)
    model = TinyResNet(num_classes=data.SOURCE_CLASSES)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    schedule = torch.optim.lr_scheduler.MultiStepLR(optimizer, list(MILESTONES), GAMMA)
    for epoch in range(epochs):
        seconds = budget.train(model, optimizer, x, y, 1, BATCH_SIZE, seed * EPOCHS + epoch)
        schedule.step()
        acc = budget.accuracy(budget.predict(model, x_test, 250), y_test)
        log(f"epoch {epoch + 1}/{epochs}: {seconds:.1f} s, source test accuracy {acc:.1%}")
    return {k: v.detach().to("cpu", torch.float32).contiguous().clone() for k, v in model.state_dict().items()}


def to_bytes(state: dict[str, torch.Tensor]) -> bytes:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def check(state: dict[str, torch.Tensor], path: Path) -> list[str]:
    """What differs between ``state`` and the weights in ``path`` (empty when identical)."""
    shipped = torch.load(path, map_location="cpu", weights_only=True)
    problems = []
    if set(shipped) != set(state):
        problems.append(f"different tensor names: {sorted(set(shipped) ^ set(state))}")
    for name in sorted(set(shipped) & set(state)):
        a, b = shipped[name], state[name]
        if a.shape != b.shape or a.dtype != b.dtype:
            problems.append(f"{name}: {tuple(a.shape)} {a.dtype} shipped, {tuple(b.shape)} {b.dtype} retrained")
        elif not torch.equal(a, b):
            problems.append(f"{name}: largest difference {(a - b).abs().max().item():.3g}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=WEIGHTS, help="where to write the weights")
    parser.add_argument("--check", action="store_true",
                        help="retrain and compare with --out (the shipped file) instead of writing it")
    args = parser.parse_args(argv)
    if args.check and not args.out.is_file():
        parser.error(f"--check: no weights file at {args.out}")

    start = time.perf_counter()
    state = pretrain(args.seed)
    blob = to_bytes(state)
    print(f"trained in {time.perf_counter() - start:.0f} s; "
          f"{sum(v.numel() for v in state.values())} numbers, sha256 {hashlib.sha256(blob).hexdigest()[:16]}")
    if args.check:
        problems = check(state, args.out)
        same_file = args.out.read_bytes() == blob
        if problems:
            print(f"{args.out}: NOT reproduced:", *problems, sep="\n  ")
            return 1
        print(f"{args.out}: every tensor reproduced exactly"
              + ("; the file is byte-identical" if same_file else " (the file's bytes differ)"))
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(blob)
    print(f"wrote {args.out} ({len(blob)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
