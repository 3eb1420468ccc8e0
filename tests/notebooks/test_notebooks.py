"""Notebook hand-ins: a folder holding a cs231n-style notebook that defines the ``_naive``
layers is graded exactly as the same code in ``layers.py``; what a notebook does besides
defining (magics, loading data, training, plotting, imports nothing graded uses, a forbidden
library imported for another cell) is left out with a notice and costs nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grader.grading import grade_submission
from grader.notebooks import convert

ROOT = Path(__file__).resolve().parents[2]
CS231N = ROOT / "examples" / "cs231n_submission" / "cs231n"
CONFIG = ROOT / "tests" / "check" / "fast.toml"


def _code(text: str) -> dict:
    return {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
            "source": text.splitlines(keepends=True)}


def _module_text() -> str:
    """The example's layers with its helper module inlined (a notebook has no package)."""
    helpers = (CS231N / "layer_utils_helpers.py").read_text(encoding="utf-8")
    layers = (CS231N / "layers.py").read_text(encoding="utf-8").replace(
        "from .layer_utils_helpers import output_size, pad_input\n", "")
    return helpers + "\n\n" + layers


def _notebook(folder: Path) -> Path:
    """A notebook as students hand it in: the definitions among everything else."""
    text = _module_text()
    blocks = ["\n".join(block) for block in _split(text)]
    cells = [
        {"cell_type": "markdown", "metadata": {}, "source": ["# Convolutional networks\n"]},
        _code("%matplotlib inline\n%load_ext autoreload\n%autoreload 2\nimport numpy as np\n"
              "import matplotlib.pyplot as plt\nimport torch\nfrom cs231n.data_utils import get_CIFAR10_data\n"),
        _code("data = get_CIFAR10_data()\nfor k, v in data.items():\n    print(k, v.shape)\n"),
        *(_code(block) for block in blocks),
        _code("x = np.random.randn(2, 3, 4, 4)\nout, _ = conv_forward_naive(x, np.random.randn(3, 3, 3, 3), "
              "np.zeros(3), {'stride': 1, 'pad': 1})\nplt.imshow(out[0, 0])\n"),
        _code("%%timeit\nconv_forward_naive(x, x, x, {})\n"),
        _code("!nvidia-smi\n"),
    ]
    path = folder / "ConvolutionalNetworks.ipynb"
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}), encoding="utf-8")
    return path


def _split(text: str):
    """The module's top-level blocks (imports together, then one block per definition)."""
    block: list[str] = []
    for line in text.splitlines():
        if line.startswith(("def ", "class ", "@")) and block and not block[-1].startswith("@"):
            yield block
            block = []
        block.append(line)
    if block:
        yield block


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    notebook = tmp_path_factory.mktemp("notebook")
    _notebook(notebook)
    twin = tmp_path_factory.mktemp("twin")
    (twin / "layers.py").write_text(_module_text(), encoding="utf-8")
    return {name: grade_submission(folder, parts="conv,max_pool", seed=4, device="cpu", config_path=CONFIG)
            for name, folder in (("notebook", notebook), ("twin", twin))}


def test_a_notebook_scores_as_its_py_twin(graded):
    notebook, twin = graded["notebook"], graded["twin"]
    assert notebook.layout == twin.layout == "cs231n"
    assert [(t.name, t.score, t.passed) for t in notebook.tests if t.kind != "speed"] == \
           [(t.name, t.score, t.passed) for t in twin.tests if t.kind != "speed"]
    assert notebook.percent == pytest.approx(100.0) == twin.percent


def test_what_was_left_out_is_noticed_and_costs_nothing(graded):
    notes = " | ".join(graded["notebook"].notes)
    assert "graded as layers.py" in notes
    assert "magic" in notes and "top-level statement" in notes
    assert "import torch" in notes and "import matplotlib.pyplot as plt" in notes
    integrity = [t for t in graded["notebook"].tests if t.kind == "integrity"]
    assert integrity and all(t.passed for t in integrity)  # torch was imported for another cell: no finding


def test_a_broken_notebook_is_a_notice(tmp_path):
    (tmp_path / "broken.ipynb").write_text("{not json", encoding="utf-8")
    (tmp_path / "layers.py").write_text(_module_text(), encoding="utf-8")
    report = grade_submission(tmp_path, parts="max_pool", seed=4, device="cpu", config_path=CONFIG)
    assert report.percent == pytest.approx(100.0)
    assert any("broken.ipynb: not read" in n for n in report.notes)


def test_a_py_file_beside_the_notebook_wins(tmp_path):
    _notebook(tmp_path)
    (tmp_path / "layers.py").write_text("def max_pool_forward_naive(x, p):\n    return None, None\n", encoding="utf-8")
    report = grade_submission(tmp_path, parts="max_pool", seed=4, device="cpu", config_path=CONFIG)
    assert report.percent < 50  # the student's layers.py was graded, not the notebook


def test_cell_magics_and_invalid_cells_are_left_out(tmp_path):
    path = tmp_path / "n.ipynb"
    path.write_text(json.dumps({"cells": [_code("%%bash\necho hi\n"), _code("def f(:\n"),
                                          _code("import numpy as np\ndef g(x):\n    return np.sum(x)\n")]}),
                    encoding="utf-8")
    converted = convert(path)
    assert "def g(x)" in converted.source and "echo" not in converted.source and "g" in converted.defines
    assert any("not valid Python" in n for n in converted.notes)
