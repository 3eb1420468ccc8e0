"""A declared part: examples/batchnorm grades cs231n's spatial batch normalisation (train mode).

Each verdict is checked against torch (``F.batch_norm`` in training mode and autograd, float64),
never against the grader's own reference: the correct example agrees with torch and scores
full marks, the buggy one disagrees with torch and loses the points its bug costs, named.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import textwrap
from pathlib import Path

import numpy as np
import pytest

from grader import config as config_module
from grader.errors import InputFileError
from grader.grading import grade_submission

torch = pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "batchnorm"
CONFIG = EXAMPLE / "assignment.toml"


def _module(path: Path):
    spec = importlib.util.spec_from_file_location(f"bn_{path.parent.name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _torch_bn(x, gamma, beta, eps, dout):
    """Spatial batch norm by torch: (out, dx, dgamma, dbeta)."""
    t = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in (x, gamma, beta)]
    out = torch.nn.functional.batch_norm(t[0], None, None, t[1], t[2], training=True, eps=eps)
    out.backward(torch.tensor(dout))
    return (out.detach().numpy(), *(a.grad.numpy() for a in t))


def _agrees_with_torch(module, seed: int) -> list[bool]:
    g = np.random.default_rng(seed)
    x, gamma, beta = g.standard_normal((3, 4, 5, 2)) * 2 + 1, g.standard_normal(4), g.standard_normal(4)
    dout = g.standard_normal(x.shape)
    out, cache = module.spatial_batchnorm_forward(x, gamma, beta, {"mode": "train", "eps": 1e-5})
    grads = module.spatial_batchnorm_backward(dout, cache)
    want = _torch_bn(x, gamma, beta, 1e-5, dout)
    return [np.allclose(a, b, rtol=1e-7, atol=1e-9) for a, b in zip((out, *grads), want)]


def test_the_examples_are_what_torch_says_they_are():
    assert _agrees_with_torch(_module(EXAMPLE / "correct" / "layers.py"), 1) == [True] * 4
    # the buggy one: forward and dgamma, dbeta right; dx wrong
    assert _agrees_with_torch(_module(EXAMPLE / "buggy" / "cs231n" / "layers.py"), 1) == [True, False, True, True]
    # and the instructor's reference is torch's too (the grader trusts it)
    assert _agrees_with_torch(_module(EXAMPLE / "reference.py"), 2) == [True] * 4


def test_the_correct_example_gets_full_marks_on_every_kind_of_test():
    report = grade_submission(EXAMPLE / "correct", config_path=CONFIG, seed=3)
    assert report.parts() == ["spatial_batchnorm"] and report.layout == "cs231n"
    kinds = {t.kind for t in report.tests}
    assert {"forward", "backward", "numeric-gradient", "speed", "integrity"} <= kinds
    assert report.percent == pytest.approx(100.0), [(t.name, t.feedback) for t in report.tests if not t.passed]
    speed = next(t for t in report.tests if t.kind == "speed")
    assert speed.status == "passed" and "vectorized reference" in speed.feedback


def test_the_buggy_example_loses_points_and_the_bug_is_named():
    report = grade_submission(EXAMPLE / "buggy", config_path=CONFIG, seed=3)
    backward = [t for t in report.tests if t.kind == "backward"]
    assert backward and all(not t.passed for t in backward)
    assert all(t.details.get("diagnosis") == "reference.backward_no_mean_terms" for t in backward)
    assert all("mean and variance depend on x" in t.feedback for t in backward)
    assert all(t.passed for t in report.tests if t.kind == "forward")
    numeric = [t for t in report.tests if t.kind == "numeric-gradient"]
    assert numeric and all("the bug is in spatial_batchnorm_backward" in t.feedback for t in numeric)
    assert 0 < report.percent < 100


def test_a_forward_bug_is_named_from_the_declared_variants(tmp_path):
    # channels mixed by reshaping without moving them last: checked against torch first
    (tmp_path / "layers.py").write_text(textwrap.dedent("""
        import numpy as np
        def spatial_batchnorm_forward(x, gamma, beta, bn_param):
            N, C, H, W = x.shape
            flat = x.reshape(-1, C)
            mu, var = flat.mean(axis=0), flat.var(axis=0)
            xhat = ((flat - mu) / np.sqrt(var + bn_param.get("eps", 1e-5))).reshape(N, C, H, W)
            return gamma[None, :, None, None] * xhat + beta[None, :, None, None], None
        def spatial_batchnorm_backward(dout, cache):
            raise NotImplementedError
    """))
    module = _module(tmp_path / "layers.py")
    g = np.random.default_rng(0)
    x, gamma, beta = g.standard_normal((2, 3, 4, 5)), g.standard_normal(3), g.standard_normal(3)
    out, _ = module.spatial_batchnorm_forward(x, gamma, beta, {"eps": 1e-5})
    assert not np.allclose(out, _torch_bn(x, gamma, beta, 1e-5, np.zeros_like(x))[0])
    report = grade_submission(tmp_path, config_path=CONFIG, seed=3)
    forward = {t.name.split(": ", 1)[1]: t for t in report.tests if t.kind == "forward"}
    assert forward.pop("one channel, eps 1e-3").passed  # with one channel there is nothing to mix: right
    assert forward and all(not t.passed and "mixes the channels" in t.feedback for t in forward.values()), \
        [t.feedback for t in forward.values()]


def test_the_reference_is_out_of_the_students_reach(tmp_path):
    # a submission that reads the instructor's reference file gets nothing from it, and the part is zeroed
    (tmp_path / "layers.py").write_text(textwrap.dedent(f"""
        import numpy as np
        def spatial_batchnorm_forward(x, gamma, beta, bn_param):
            text = open({str(EXAMPLE / 'reference.py')!r}).read()
            return np.full(x.shape, float(len(text))), None
        def spatial_batchnorm_backward(dout, cache):
            return dout, dout.sum(axis=(0, 2, 3)), dout.sum(axis=(0, 2, 3))
    """))
    report = grade_submission(tmp_path, config_path=CONFIG, seed=3)
    forward = [t for t in report.tests if t.kind == "forward"]
    assert all(not t.passed for t in forward)
    assert report.score == 0


def test_student_mode_grades_the_declared_part_from_public_cases(tmp_path):
    from grader.student.build import PUBLIC_SEED, layer_cases
    from grader.student import public

    cfg = config_module.load(CONFIG)
    layers, arrays = layer_cases(cfg.parts, PUBLIC_SEED, cfg)
    folder = tmp_path / "public"
    folder.mkdir()
    (folder / public.MANIFEST).write_text(json.dumps({"format": public.FORMAT, "seed": PUBLIC_SEED, "assignment": "bn",
                                                      "layers": layers, "transfer": None}))
    np.savez(folder / public.ARRAYS, **arrays)
    shutil.copy(CONFIG, folder / public.ASSIGNMENT)  # as the wheel ships it: without reference.py beside it
    entry = layers["spatial_batchnorm"]["a batch of 2, 3 channels"]
    x, gamma, beta = (arrays[a["array"]] for a in entry["args"][:3])
    want = _torch_bn(x, gamma, beta, entry["args"][3]["value"]["eps"], arrays[entry["dout"]])
    assert np.allclose(arrays[entry["out"]], want[0]) and all(
        np.allclose(arrays[k], w) for k, w in zip(entry["grads"], want[1:]))
    good = grade_submission(EXAMPLE / "correct", public=folder)
    assert good.percent == pytest.approx(100.0) and public.NOTE in good.notes
    bad = grade_submission(EXAMPLE / "buggy", public=folder)
    assert {t.details.get("diagnosis") for t in bad.tests if t.kind == "backward"} == {"reference.backward_no_mean_terms"}


@pytest.mark.parametrize("change, message", [
    ('forward = "spatial_batchnorm_forward"', "forward is missing"),
    ('wrt = ["x", "gamma", "beta"]', "wrt is missing"),
    ('x = { shape = [2, 3, 4, 5], scale = 2.0, offset = 1.5 }', "no value for x"),
    ('reference = "reference.py"', "reference is missing"),
])
def test_a_broken_declaration_is_one_line_that_names_the_key(tmp_path, change, message):
    for name in ("reference.py",):
        shutil.copy(EXAMPLE / name, tmp_path / name)
    text = CONFIG.read_text(encoding="utf-8")
    assert change in text
    (tmp_path / "assignment.toml").write_text(text.replace(change, "", 1), encoding="utf-8")
    with pytest.raises(InputFileError, match=message):
        config_module.load(tmp_path / "assignment.toml")


@pytest.mark.parametrize("before, after, message", [
    ('speed_case = "a bigger batch"', 'speed_case = "nope"', "no case called 'nope'"),
    ('gradients = ["dx", "dgamma", "dbeta"]', 'gradients = ["dx", "dgamma"]', "one argument of args per gradient"),
    ('reference = "reference.py"', 'reference = "missing.py"', "no Python file"),
    ('x = { shape = [2, 3, 4, 5], scale', 'x = { shape = [2, 0, 4, 5], scale', "shape must be a list of positive"),
    ('files = ["layers.py"', 'file = ["layers.py"', "unknown key file: did you mean files?"),
    ('parts = ["spatial_batchnorm"]', 'parts = ["conv"]', "declared but not in"),
])
def test_a_wrong_value_is_one_line_too(tmp_path, run_cli, before, after, message):
    shutil.copy(EXAMPLE / "reference.py", tmp_path / "reference.py")
    text = CONFIG.read_text(encoding="utf-8")
    assert before in text
    (tmp_path / "assignment.toml").write_text(text.replace(before, after, 1), encoding="utf-8")
    result = run_cli("check", str(EXAMPLE / "correct"), "--config", str(tmp_path / "assignment.toml"))
    assert result.code == 2 and message in result.err and len(result.err.strip().splitlines()) == 1, result.err


def test_a_folder_without_the_declared_files_says_where_they_should_be(tmp_path, run_cli):
    (tmp_path / "other.py").write_text("x = 1\n")
    result = run_cli("check", str(tmp_path), "--config", str(CONFIG))
    assert result.code == 2 and "layers.py or cs231n/layers.py" in result.err


def test_the_reference_travels_to_gradescope_and_never_to_students(tmp_path):
    import zipfile

    from grader.export import export_gradescope, export_github

    bundle = export_gradescope(tmp_path / "autograder.zip", CONFIG)
    with zipfile.ZipFile(bundle) as archive:
        assert archive.read("reference.py") == (EXAMPLE / "reference.py").read_bytes()
        assert "layers.py or cs231n/layers.py" in archive.read("run_autograder").decode() + archive.read(
            "setup.sh").decode()
    written = export_github(tmp_path / "repo", CONFIG)
    names = {p.name for p in written}
    assert "reference.py" not in names and not (tmp_path / "repo" / "reference.py").exists()
    wheel = next(p for p in written if p.suffix == ".whl")
    with zipfile.ZipFile(wheel) as archive:
        texts = [archive.read(n).decode("utf-8", "replace") for n in archive.namelist() if n.endswith(".py")]
        assert archive.read("grader/public/assignment.toml") == CONFIG.read_bytes()
        manifest = json.loads(archive.read("grader/public/manifest.json"))
    assert list(manifest["layers"]) == ["spatial_batchnorm"]
    for secret in ("def backward_no_mean_terms", "def forward_per_pixel", "def _moments"):
        assert not any(secret in text for text in texts), secret


def test_a_class_is_batch_graded_into_a_gradebook_with_the_declared_part(tmp_path, run_cli):
    import csv

    root = tmp_path / "class"
    for name in ("correct", "buggy"):
        shutil.copytree(EXAMPLE / name, root / name)
    result = run_cli("batch", str(root), "--out", str(tmp_path / "out"), "--workers", "2", "--seed", "3",
                     "--config", str(CONFIG))
    assert result.code in (0, 1), result.err
    rows = {r["submission"]: r for r in csv.DictReader((tmp_path / "out" / "gradebook.csv").open(encoding="utf-8"))}
    assert "spatial_batchnorm" in next(iter(rows.values()))
    # the same scores as single checks with the same seed
    for name in ("correct", "buggy"):
        single = grade_submission(EXAMPLE / name, config_path=CONFIG, seed=3)
        assert float(rows[name]["spatial_batchnorm"]) == pytest.approx(single.part_score("spatial_batchnorm")[0])
    assert float(rows["correct"]["score"]) == pytest.approx(10.0) and float(rows["buggy"]["score"]) < 10.0


def test_a_notebook_hand_in_of_the_declared_part_scores_as_its_py_twin(tmp_path):
    source = (EXAMPLE / "correct" / "layers.py").read_text(encoding="utf-8")
    head, _, rest = source.partition("def spatial_batchnorm_forward")
    cells = ["%matplotlib inline\nimport matplotlib.pyplot as plt", head, "def spatial_batchnorm_forward" + rest,
             "x = np.random.randn(2, 3, 4, 5)\nprint(spatial_batchnorm_forward(x, np.ones(3), np.zeros(3), {})[0].std())"]
    notebook = {"nbformat": 4, "nbformat_minor": 5, "metadata": {},
                "cells": [{"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
                           "source": cell} for cell in cells]}
    folder = tmp_path / "hand-in"
    folder.mkdir()
    (folder / "BatchNormalization.ipynb").write_text(json.dumps(notebook), encoding="utf-8")
    report = grade_submission(folder, config_path=CONFIG, seed=3)
    twin = grade_submission(EXAMPLE / "correct", config_path=CONFIG, seed=3)
    assert [(t.name, t.score) for t in report.tests if t.kind != "speed"] == [
        (t.name, t.score) for t in twin.tests if t.kind != "speed"]
    assert report.percent == pytest.approx(100.0)
