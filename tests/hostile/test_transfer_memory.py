"""The transfer part's test images cannot be known in advance: a pipeline that memorises
the test split it regenerated with the data generator scores exactly what the same
pipeline scores without the memory, because every grading draws its own split from the
grading seed (and the generator is hidden from the child and absent from the student
install).  The fixture is ``transfer_memory/``: an honest pipeline plus a memory."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from grader.grading import grade_submission
from grader.reference import transfer_data as data

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CONFIG = ROOT / "tests" / "check" / "fast.toml"


def _submission(folder: Path, images: np.ndarray, labels: np.ndarray) -> Path:
    folder.mkdir(parents=True)
    shutil.copy(HERE / "transfer_memory" / "transfer.py", folder / "transfer.py")
    shutil.copy(ROOT / "examples" / "submission" / "transfer.py", folder / "honest.py")
    np.savez(folder / "memory.npz", images=images.astype(np.float32), labels=labels.astype(np.int64))
    return folder


def _accuracies(report) -> dict[str, float]:
    return {t.name: t.details.get("accuracy") for t in report.tests if t.kind == "accuracy"}


def test_a_memorised_test_split_gains_nothing(tmp_path):
    # everything the generator makes from small seeds: the old fixed split (seed 0) among them
    memorised = [data.target_splits(seed)["test"] for seed in range(3)] + [data.target_splits(seed)["train"]
                                                                           for seed in range(3)]
    images = np.concatenate([x for x, _ in memorised])
    labels = np.concatenate([y for _, y in memorised])
    cheat = _submission(tmp_path / "memorises", images, labels)
    twin = _submission(tmp_path / "honest", images[:0], labels[:0])
    graded = {name: grade_submission(folder, parts="transfer", seed=5, device="cpu", config_path=CONFIG)
              for name, folder in (("cheat", cheat), ("twin", twin))}
    cheat_acc, twin_acc = _accuracies(graded["cheat"]), _accuracies(graded["twin"])
    assert len(twin_acc) == 2 and all(a is not None for a in twin_acc.values())
    assert cheat_acc == twin_acc
    assert graded["cheat"].score <= graded["twin"].score + 1e-9


def test_the_memory_would_have_answered_a_fixed_split():
    # the attack is real: against the split every grading used to share, the memory knows every image
    import hashlib

    x, y = data.target_splits(0)["test"]
    memory = {hashlib.sha1(np.ascontiguousarray(img).tobytes()).digest(): int(label) for img, label in zip(x, y)}
    assert len(memory) == len(y)
    graded_x, _ = data.graded_splits(5)["test"]
    assert not any(hashlib.sha1(np.ascontiguousarray(img).tobytes()).digest() in memory for img in graded_x)


def test_the_generator_and_the_solution_are_hidden_from_the_child():
    from grader.grading import hidden_folders

    hidden = hidden_folders()
    for module in (data.__file__, ROOT / "reference" / "transfer_solution.py"):
        assert any(str(Path(module).resolve()).startswith(folder + "/") for folder in hidden), module
    transfer_folder = ROOT / "grader" / "transfer"
    assert not (transfer_folder / "data.py").exists() and not (transfer_folder / "reference_solution.py").exists()


READER = '''
import honest

SECRETS = {secrets!r}


def build_model(pretrained, num_classes, mode):
    for path in SECRETS:
        try:
            with open(path, "rb") as handle:
                handle.read(1)
        except OSError:
            continue
        raise RuntimeError("read ok: " + path)
    return honest.build_model(pretrained, num_classes, mode)


def make_optimizer(model, mode):
    return honest.make_optimizer(model, mode)
'''


def test_the_transfer_child_cannot_read_the_hidden_side(tmp_path):
    secrets = [str(ROOT / "reference" / "transfer_data.py"), str(ROOT / "reference" / "transfer_solution.py"),
               str(ROOT / "scripts" / "train_backbone.py")]
    folder = tmp_path / "reader"
    folder.mkdir()
    (folder / "transfer.py").write_text(READER.format(secrets=secrets), encoding="utf-8")
    shutil.copy(ROOT / "examples" / "submission" / "transfer.py", folder / "honest.py")
    report = grade_submission(folder, parts="transfer", seed=5, device="cpu", config_path=CONFIG)
    assert not any("read ok" in t.feedback for t in report.tests)
    integrity = next(t for t in report.tests if t.kind == "integrity")
    assert not integrity.passed and "transfer_data.py" in integrity.feedback, integrity.feedback
    assert report.score == 0  # reaching for the hidden side zeroes the part
