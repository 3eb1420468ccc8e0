"""A part's calls are made together (issue 16): every forward case in one request, every backward case
in one, each numerical-gradient test's probes in one (a right submission's requests: 167 -> 45), and
that changes no verdict: every test reads the same where every call is made alone, whatever the
student's code prints, raises, changes or ends, at its cases or at the probes."""

from __future__ import annotations

import json
import re
import shutil
import textwrap
from pathlib import Path

import pytest

from grader.checks.layers import LayerChecker
from grader.grading import grade_submission
from grader.sandbox import Session

ROOT = Path(__file__).resolve().parents[2]
SUBMISSIONS = ROOT / "tests" / "submissions"
CONFIG = Path(__file__).resolve().parent / "fast.toml"

# the shipped example's layers (right) as _right.py, wrapped
STATEFUL = '''
import numpy as np
from _right import conv_forward as _forward, conv_backward
_first = []

def conv_forward(x, w, b, conv_param):
    # right on each case's inputs; raises on any other x (a probe), as code that keeps state may
    near = [f for f in _first if f.shape == x.shape and np.max(np.abs(f - x)) < 1e-3]
    if not near:
        _first.append(x.copy())
    elif not any(np.array_equal(f, x) for f in near):
        raise ValueError("an input I have not seen")
    return _forward(x, w, b, conv_param)
'''

EXITS_AT_PROBES = '''
import os
import numpy as np
from _right import conv_forward as _forward, conv_backward
_seen = []

def conv_forward(x, w, b, conv_param):
    if any(s.shape == x.shape and not np.array_equal(s, x) and np.max(np.abs(s - x)) < 1e-3 for s in _seen):
        os._exit(4)  # a probe (a case's x, moved a little): the process ends
    _seen.append(x.copy())
    return _forward(x, w, b, conv_param)
'''


def _folder(tmp_path: Path, name: str, source: str | None) -> Path:
    if source is None:
        return ROOT / "examples" / "submission" if name == "example" else SUBMISSIONS / name
    folder = tmp_path / name
    folder.mkdir()
    shutil.copyfile(ROOT / "examples" / "submission" / "conv.py", folder / "_right.py")
    (folder / "conv.py").write_text(textwrap.dedent(source))
    return folder


def _verdicts(report) -> list[tuple]:
    # (each child's group id is its own: left out)
    return [(t.name, t.score, t.feedback, re.sub(r"gid \d+", "gid", json.dumps(t.details, sort_keys=True, default=str)))
            for t in report.tests if t.kind != "speed"]


@pytest.mark.parametrize("name, source, parts", [
    ("example", None, "conv,max_pool"),
    ("conv_db_wrong_axes", None, "conv"),
    ("conv_backward_wrong_but_forward_right", None, "conv"),
    ("conv_unpad_negative_slice", None, "conv"),  # raises on the cases with no padding
    ("prints_noise", None, "conv,max_pool"),
    ("mutates_input", None, "conv,max_pool"),
    ("sys_exit", None, "conv,max_pool"),
    ("maxpool_all_ties", None, "max_pool"),
    ("stateful", STATEFUL, "conv"),
    ("exits_at_probes", EXITS_AT_PROBES, "conv"),
])
def test_calls_made_together_give_the_verdicts_of_calls_made_one_by_one(tmp_path, monkeypatch, name, source, parts):
    """The cases' forwards and each numerical-gradient test's probes go in one request each; every
    test reads the same (score, feedback, details) where every call is made alone."""
    folder = _folder(tmp_path, name, source)
    requests = []
    real_each = Session.call_each

    def counted(self, *args, **kwargs):
        results = real_each(self, *args, **kwargs)
        requests.append(bool(results) and all(r.ok for r in results))
        return results

    monkeypatch.setattr(Session, "call_each", counted)
    together = grade_submission(folder, parts=parts, seed=5, device="cpu", config_path=CONFIG)
    monkeypatch.setattr(Session, "call_each", lambda self, *args, **kwargs: [])
    alone = grade_submission(folder, parts=parts, seed=5, device="cpu", config_path=CONFIG)
    assert _verdicts(together) == _verdicts(alone)
    assert not together.notes and not alone.notes
    assert requests  # (a request whose calls could not be told apart was made again, one call at a time)
    if name in ("stateful", "exits_at_probes"):
        assert not all(requests)
        says = "failed on a perturbed input" if name == "stateful" else "not run"
        assert all(says in t.feedback for t in together.tests if t.kind == "numeric-gradient")


def test_a_right_conv_numeric_test_asks_the_child_once_for_its_probes(monkeypatch):
    calls = {"one": 0, "each": 0}
    real_call, real_each = Session.call, Session.call_each

    def call(self, module, function, *args, **kwargs):
        calls["one"] += function == "conv_forward"
        return real_call(self, module, function, *args, **kwargs)

    def each(self, module, function, probes, **kwargs):
        if len(probes) == 12:  # dx, dw, db: two directions, two points each (else: the cases' forwards)
            calls["each"] += 1
        return real_each(self, module, function, probes, **kwargs)

    monkeypatch.setattr(Session, "call", call)
    monkeypatch.setattr(Session, "call_each", each)
    report = grade_submission(ROOT / "examples" / "submission", parts="conv", seed=5, device="cpu",
                              config_path=CONFIG)
    numeric = [t for t in report.tests if t.kind == "numeric-gradient"]
    assert numeric and all(t.details["passed"] for t in numeric)
    assert all(t.details["forward_calls"] == 12 for t in numeric)
    assert calls["each"] == len(numeric)
    together = calls["one"]
    monkeypatch.setattr(LayerChecker, "probe", lambda self, args, wrt, g: {})
    calls["one"] = calls["each"] = 0
    grade_submission(ROOT / "examples" / "submission", parts="conv", seed=5, device="cpu", config_path=CONFIG)
    assert calls["each"] == 0 and calls["one"] == together + 12 * len(numeric)
