"""A submission that knows exactly where the grader's reference lives, and
loads it to return its answers, earns nothing where the OS lets the sandbox
hide that folder (a mount namespace); the grader still reads it itself."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from grader import reference
from grader.grading import grade_submission
from grader.sandbox.process import namespace_support

ROOT = Path(__file__).resolve().parents[2]
CONFIG = Path(__file__).resolve().parent / "fast.toml"
THIEF = '''
import importlib.util
from pathlib import Path

WHERE = Path(__file__).with_name("where.txt").read_text().strip()


def _reference():
    spec = importlib.util.spec_from_file_location("stolen", WHERE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def conv_forward(x, w, b, conv_param):
    return _reference().conv_forward(x, w, b, conv_param)


def conv_backward(dout, cache):
    return _reference().conv_backward(dout, cache)
'''


@pytest.mark.skipif(namespace_support()[0] is None, reason="needs mount namespaces (unshare) to hide the reference")
def test_a_submission_cannot_load_the_hidden_reference(tmp_path):
    target = Path(reference.__file__).resolve().parent / "numpy_fast.py"
    assert target.is_file()  # the grader itself reads it
    (tmp_path / "conv.py").write_text(THIEF)
    (tmp_path / "where.txt").write_text(str(target))
    report = grade_submission(tmp_path, parts="conv", seed=1, device="cpu", config_path=CONFIG)
    forward = [t for t in report.tests if t.kind == "forward"]
    assert forward and all(not t.passed and t.score == 0 for t in forward)
    # the guard refuses the read; where it is bypassed, the folder is an empty tmpfs: not found
    assert any(("not allowed in the grader's sandbox: tried to read the grader's files" in t.feedback
                or "FileNotFoundError" in t.feedback) for t in forward), forward[0].feedback
    assert report.score == 0


def test_the_same_thief_is_graded_normally_when_it_writes_its_own_code(tmp_path):
    # control: the mechanism (load a module by path) works for the student's own files
    shutil.copy(ROOT / "examples" / "submission" / "conv.py", tmp_path / "real_conv.py")
    (tmp_path / "conv.py").write_text(THIEF)
    (tmp_path / "where.txt").write_text("real_conv.py")
    report = grade_submission(tmp_path, parts="conv", seed=1, device="cpu", config_path=CONFIG)
    assert all(t.passed for t in report.tests if t.kind == "forward")


def test_what_student_code_may_not_read_is_the_graders_and_nothing_of_pythons():
    import sys

    import numpy

    from grader.grading import hidden_folders, protected_paths

    refused = [Path(p) for p in protected_paths() + hidden_folders()]
    assert Path(reference.__file__).resolve().parent in refused
    for needed in (Path(sys.prefix), Path(sys.base_prefix), Path(numpy.__file__).resolve().parent):
        # a source checkout may hold its own virtualenv (.venv): never refuse it as "the grader's"
        assert not any(needed.resolve().is_relative_to(folder) for folder in refused), (needed, refused)
