"""False zeros (issue 13): a forbidden import costs points only where the graded code runs it.

A correct conv beside an unused helper that imports scipy.signal, and cs231n's whole folder
handed in (its own fast_layers.py imports torch), are graded on what the graded functions
run: the static scan names those imports as notices; an import that does run is refused by
the sandbox at run time and still zeroes the part."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from grader.checks import integrity
from grader.grading import grade_submission

ROOT = Path(__file__).resolve().parents[2]
CONFIG = Path(__file__).resolve().parent / "fast.toml"
FORBIDDEN = ("torch", "scipy.signal", "scipy.ndimage")
EXAMPLE = ROOT / "examples" / "cs231n_submission"
FIXTURES = ROOT / "tests" / "submissions"


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")


def test_the_closure_follows_what_the_graded_file_imports(tmp_path):
    write(tmp_path, {
        "cs231n/__init__.py": "",
        "cs231n/layers.py": "import numpy as np\nfrom .helpers import pad\nfrom cs231n import im2col\n",
        "cs231n/helpers.py": "def pad(x):\n    import scipy.signal\n    return x\n",
        "cs231n/im2col.py": "import numpy as np\n",
        "cs231n/fast_layers.py": "import torch\n",
        "cs231n/layer_utils.py": "from cs231n.fast_layers import *\n",
        "scratch.py": "import torch\n",
    })
    found = integrity.scan(tmp_path, ["cs231n/layers.py"], FORBIDDEN)
    assert not [f for f in found if not f.notice]
    notes = {f.file: f.what for f in found}
    assert "never imports" in notes["cs231n/fast_layers.py"] and "never imports" in notes["scratch.py"]
    assert "inside a function" in notes["cs231n/helpers.py"]


def graded_conv(tmp_path, before: str = "", after: str = ""):
    """The example's correct conv.py with ``before`` and ``after`` around it, graded."""
    source = (ROOT / "examples" / "submission" / "conv.py").read_text(encoding="utf-8")
    (tmp_path / "conv.py").write_text(before + source + after, encoding="utf-8")
    return grade_submission(tmp_path, parts="conv", seed=2, device="cpu", config_path=CONFIG)


def test_a_top_level_import_in_an_imported_helper_is_named_and_left_to_the_run(tmp_path):
    # it runs when the graded code imports util.py, but the sandbox gives torch a stand-in: only a use costs
    write(tmp_path, {"conv.py": "from util import go\n", "util.py": "import torch\n\ndef go():\n    pass\n"})
    found = integrity.scan(tmp_path, ["conv.py"], FORBIDDEN)
    assert [(f.file, f.line, f.notice) for f in found] == [("util.py", 1, True)]
    assert found[0].what.startswith("torch, imported when the file loads") and "only using it costs" in found[0].what


def test_an_unused_scipy_helper_beside_a_correct_conv_costs_nothing(tmp_path):
    report = graded_conv(tmp_path, after="\n\ndef conv_forward_scipy(x, w):\n    from scipy.signal import correlate2d\n"
                                        "    return correlate2d(x, w, mode='valid')\n")
    assert report.percent == pytest.approx(100.0), [(t.name, t.feedback) for t in report.tests if not t.passed]
    libraries = next(t for t in report.tests if t.name.endswith("allowed libraries"))
    assert "scipy.signal" in libraries.feedback and libraries.passed


def test_a_whole_cs231n_folder_is_graded_on_the_layers(tmp_path):
    # the hand-in many students make: the course's whole package, fast_layers.py (torch) included
    shutil.copytree(EXAMPLE, tmp_path / "handin")
    write(tmp_path / "handin", {
        "cs231n/fast_layers.py": "import torch\nimport torch.nn.functional as F\n\n"
                                 "def conv_forward_fast(x, w, b, conv_param):\n"
                                 "    return F.conv2d(torch.from_numpy(x), torch.from_numpy(w)).numpy(), None\n",
        "cs231n/layer_utils.py": "from cs231n.layers import *\nfrom cs231n.fast_layers import *\n",
        "cs231n/classifiers/__init__.py": "",
        "cs231n/classifiers/cnn.py": "from cs231n.layer_utils import *\n",
        "cs231n/gradient_check.py": "from random import randrange\nimport numpy as np\n",
    })
    report = grade_submission(tmp_path / "handin", parts="conv,max_pool", seed=2, device="cpu", config_path=CONFIG)
    assert report.layout == "cs231n"
    assert report.percent == pytest.approx(100.0), [(t.name, t.feedback) for t in report.tests if not t.passed]


def test_a_forbidden_library_that_the_graded_code_uses_zeroes_the_part(tmp_path):
    report = graded_conv(tmp_path, after="\n\n_real = conv_forward\n\ndef conv_forward(x, w, b, conv_param):\n"
                         "    import torch  # noqa\n    torch.manual_seed(0)\n    return _real(x, w, b, conv_param)\n")
    assert report.score == 0
    libraries = next(t for t in report.tests if t.name.endswith("allowed libraries"))
    assert not libraries.passed and "used a forbidden library: torch.manual_seed" in libraries.feedback


def test_a_forbidden_library_imported_and_never_used_costs_nothing(tmp_path):
    # at the top of the graded file and inside the graded function: both run, neither uses it
    report = graded_conv(tmp_path, before="import torch\nfrom scipy.ndimage import convolve\n",
                         after="\n\n_real = conv_forward\n\ndef conv_forward(x, w, b, conv_param):\n"
                               "    import torch.nn.functional as F  # noqa\n    return _real(x, w, b, conv_param)\n")
    assert report.percent == pytest.approx(100.0), [(t.name, t.feedback) for t in report.tests if not t.passed]
    libraries = next(t for t in report.tests if t.name.endswith("allowed libraries"))
    assert libraries.passed and "conv.py, line 1: torch, imported when the file loads" in libraries.feedback


def test_a_library_that_is_not_installed_and_never_used_costs_nothing(tmp_path):
    # real solutions left `from IPython.core.debugger import Tracer` (or matplotlib, or a module gone
    # from numpy) at the top of layers.py: the file must still import
    shutil.copytree(EXAMPLE, tmp_path / "handin")
    layers = tmp_path / "handin" / "cs231n" / "layers.py"
    layers.write_text("from IPython.core.debugger import Tracer\nimport matplotlib.pyplot as plt\n"
                      "from numpy.testing._private.nosetester import NoseTester\n"
                      + layers.read_text(encoding="utf-8"), encoding="utf-8")
    report = grade_submission(tmp_path / "handin", parts="conv,max_pool", seed=2, device="cpu", config_path=CONFIG)
    assert report.percent == pytest.approx(100.0), [(t.name, t.feedback) for t in report.tests if not t.passed]
    said = " | ".join(report.notes)
    assert "conv: your code imports IPython, which is not installed in the grader's sandbox" in said, said
    # one note per library and part, not one per submodule it imports (IPython.core, IPython.core.debugger ...)
    for part in ("conv", "max_pool"):
        for library in ("IPython", "matplotlib"):
            assert sum(n.startswith(f"{part}: your code imports {library}") for n in report.notes) == 1, said


def test_a_stand_in_that_is_used_says_what_is_missing(tmp_path):
    report = graded_conv(tmp_path, after="\n\nimport matplotlib.pyplot as plt\n_real = conv_forward\n\n"
                         "def conv_forward(x, w, b, conv_param):\n    plt.figure()\n    return _real(x, w, b, conv_param)\n")
    forward = [t for t in report.tests if t.kind == "forward"]
    assert not any(t.passed for t in forward)
    assert "matplotlib.pyplot.figure is not installed in the grader's sandbox" in forward[0].feedback


def test_a_whole_hand_in_with_forbidden_imports_left_at_the_top_is_graded_on_what_runs():
    # found in real solutions: torch or scipy imported at the top of layers.py and used by an ungraded
    # helper (or nothing); the graded functions are the example's (checked against torch elsewhere)
    report = grade_submission(FIXTURES / "cs231n_unused_forbidden_import", seed=2, device="cpu", config_path=CONFIG)
    assert report.percent == pytest.approx(100.0), [(t.name, t.feedback) for t in report.tests if not t.passed]
    libraries = [t for t in report.tests if t.name.endswith("allowed libraries")]
    assert libraries and all(t.passed and "torch, imported when the file loads" in t.feedback for t in libraries)
    # the same file with torch used in conv_backward_naive alone: conv earns nothing, max_pool stays whole
    report = grade_submission(FIXTURES / "cs231n_torch_in_conv_only", seed=2, device="cpu", config_path=CONFIG)
    assert report.part_score("conv")[0] == 0
    libraries = next(t for t in report.tests if t.name == "conv integrity: allowed libraries")
    assert "used a forbidden library: torch.tensor" in libraries.feedback
    assert "cs231n/layers.py, line 5: imports torch" in libraries.feedback  # (line 1 is the fixture's comment)
    score, max_score = report.part_score("max_pool")
    assert score == pytest.approx(max_score) and max_score > 0


def test_a_python2_implicit_relative_import_is_named_where_its_names_are_missing(tmp_path):
    # found in real solutions: `from fast_layers import *` in cs231n/layers.py, written for Python 2,
    # where a sibling module imported without its dot; Python 3 does not find it, so what the graded
    # functions take from it is undefined. Said in their failure, with the fix, not as "not installed".
    hand_in = tmp_path / "hand_in"
    shutil.copytree(FIXTURES / "cs231n_unused_forbidden_import", hand_in)
    layers = hand_in / "cs231n" / "layers.py"
    source = layers.read_text()
    assert "from .layer_utils_helpers import output_size, pad_input" in source
    layers.write_text(source.replace("from .layer_utils_helpers import output_size, pad_input",
                                     "from layer_utils_helpers import *", 1))
    report = grade_submission(hand_in, parts="conv", seed=2, device="cpu", config_path=CONFIG)
    forward = [t for t in report.tests if t.kind == "forward"]
    assert forward and not any(t.passed for t in forward)
    assert all("NameError" in t.feedback and "Python 2 implicit relative import" in t.feedback
               and "from .layer_utils_helpers import" in t.feedback for t in forward), forward[0].feedback
    assert not any("layer_utils_helpers, which is not installed" in note for note in report.notes), report.notes


def test_a_merge_conflict_left_in_the_file_is_named(tmp_path):
    # found in real hand-ins: a layers file committed mid-merge, with git's conflict markers in it
    source = (ROOT / "examples" / "submission" / "conv.py").read_text()
    head, sep, tail = source.partition("def conv_backward(")
    assert sep
    conflicted = head + "<<<<<<< HEAD\nSCALE = 1\n=======\nSCALE = 2\n>>>>>>> other\n\n" + sep + tail
    (tmp_path / "conv.py").write_text(conflicted)
    report = grade_submission(tmp_path, parts="conv", seed=2, device="cpu", config_path=CONFIG)
    failed = [t for t in report.tests if t.kind in ("forward", "backward")]
    assert failed and not any(t.passed for t in failed)
    assert all("unresolved git merge conflict (3 marker lines in the file)" in t.feedback for t in failed
               if t.kind == "forward"), failed[0].feedback
