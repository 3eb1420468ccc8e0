"""What a child imports before student code (``session.preload_imports``): NumPy 1.25 to 2.0 run
``lscpu`` as numpy.testing loads, so where numpy.testing is left to a submission's own import the
guard sees a process started and the part loses its points (found running the suite on NumPy 1.26:
an old cs231n layers.py that imports numpy.testing's nosetester scored 0). The child imports it with
numpy, before the guard, on those versions only."""

from __future__ import annotations

import pytest

from grader.sandbox import Session, warm
from grader.sandbox import session as session_module
from grader.sandbox.session import preload_imports, runs_lscpu_on_testing_import

from sandbox_helpers import FAST

PROBE = """
import sys

def loaded_before_me():
    return LOADED

LOADED = "numpy.testing" in sys.modules  # as this file loads: what the child imported before student code
"""


@pytest.mark.parametrize("version, runs", [
    # read from each release's numpy/testing/_private/utils.py: `_SUPPORTS_SVE = check_support_sve()` at
    # module level (1.25.0 to 2.0.2), a cached function asked only by tests from 2.1.0 on, none in 1.24
    ("1.24.4", False), ("1.25.0", True), ("1.25.2", True), ("1.26.4", True), ("2.0.0", True), ("2.0.2", True),
    ("2.1.0", False), ("2.1.3", False), ("2.2.6", False), ("2.3.5", False), ("2.4.6", False),
])
def test_the_numpy_releases_whose_testing_import_runs_lscpu(version, runs):
    assert runs_lscpu_on_testing_import(version) is runs


@pytest.mark.parametrize("runs", [True, False])
def test_numpy_testing_joins_the_preload_only_where_its_import_runs_a_program(monkeypatch, runs):
    monkeypatch.setattr(session_module, "_numpy_runs_lscpu_on_testing_import", lambda: runs)
    extra = ["numpy.testing"] if runs else []
    assert preload_imports(("numpy",)) == ["numpy", *extra]
    assert preload_imports(("numpy", "torch", "torch.optim")) == ["numpy", "torch", "torch.optim", *extra]
    assert preload_imports(("numpy", "numpy.testing")) == ["numpy", "numpy.testing"]  # not twice
    assert preload_imports(()) == []  # (a child that preloads nothing imports nothing)


@pytest.mark.parametrize("start", ["cold", "warm"])
@pytest.mark.parametrize("runs", [True, False])
def test_the_child_has_numpy_testing_before_student_code_where_it_runs_a_program(
        submission, monkeypatch, start, runs):
    # this machine's numpy may be either: the version check is forced both ways, and the child's own
    # sys.modules, read as the student's file loads, says whether the preload reached it
    monkeypatch.setattr(session_module, "_numpy_runs_lscpu_on_testing_import", lambda: runs)
    folder = submission({"probe.py": PROBE})
    template = warm.Template(("numpy",), FAST.threads) if start == "warm" else None
    if template is None:
        monkeypatch.setenv("GRADER_SANDBOX_WARM", "0")
    try:
        with Session(folder, FAST, template=template) as s:
            assert s.warm is (start == "warm"), s.start_notes
            result = s.call("probe", "loaded_before_me")
    finally:
        if template is not None:
            template.close()
    assert result.ok and result.value is runs, result
    assert not result.events, result.events
