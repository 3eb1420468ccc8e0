"""The numeric-gradient test cannot be gamed by a forward that remembers (issue 12): each
attack scores no more than its honest twin, the same code that computes every output."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import numpy as np
import pytest

from grader.checks.numeric import directional
from grader.grading import grade_submission

ROOT = Path(__file__).resolve().parents[2]
CONFIG = Path(__file__).resolve().parent / "fast.toml"

# Each submission wraps the shipped example (a right layer) as _right.py.  ATTACK switches the
# memory on; the twin is the same file with ATTACK = False.
NEAR = '''
def _near(a, b):
    return a.shape == b.shape and float(np.max(np.abs(a - b), initial=0.0)) < 1e-3

def _recall(x, w, b, conv_param):
    for sx, sw, sb, sp, out in _seen:
        if sp == conv_param and _near(x, sx) and _near(w, sw) and _near(b, sb):
            return sx, sw, sb, out
    return None
'''

# a right forward near seen inputs moves as a fake linear map says, and the backward is that map's adjoint:
# consistent with each other, so only the reference's values at the probes tell
FAKE_SLOPE = '''
import numpy as np
from _right import conv_forward as _forward
ATTACK = True
C = 1e-3
_seen = []
''' + NEAR + '''
def conv_forward(x, w, b, conv_param):
    seen = _recall(x, w, b, conv_param) if ATTACK else None
    if seen is not None:
        sx, sw, sb, out = seen
        return out + C * (np.sum(x - sx) + np.sum(w - sw) + np.sum(b - sb)), (x, w, b, conv_param)
    out, cache = _forward(x, w, b, conv_param)
    _seen.append((x.copy(), w.copy(), b.copy(), dict(conv_param), out.copy()))
    return out, cache

def conv_backward(dout, cache):
    x, w, b, _ = cache
    s = C * np.sum(dout)
    return np.full(x.shape, s), np.full(w.shape, s), np.full(b.shape, s)
'''

# a wrong forward (every output off by one) that hands back remembered outputs, and a backward of zeros:
# there is nothing to compare a wrong forward with, but its outputs do not move
WRONG_STALE = '''
import numpy as np
from _right import conv_forward as _forward
ATTACK = True
_seen = []
''' + NEAR + '''
def conv_forward(x, w, b, conv_param):
    seen = _recall(x, w, b, conv_param) if ATTACK else None
    if seen is not None:
        return seen[3].copy(), (x, w, b, conv_param)
    out, cache = _forward(x, w, b, conv_param)
    _seen.append((x.copy(), w.copy(), b.copy(), dict(conv_param), out + 1.0))
    return out + 1.0, cache

def conv_backward(dout, cache):
    x, w, b, _ = cache
    return np.zeros_like(x), np.zeros_like(w), np.zeros_like(b)
'''


def grade(tmp_path, name: str, source: str):
    folder = tmp_path / name
    folder.mkdir()
    shutil.copyfile(ROOT / "examples" / "submission" / "conv.py", folder / "_right.py")
    (folder / "conv.py").write_text(textwrap.dedent(source))
    return grade_submission(folder, parts="conv", seed=5, device="cpu", config_path=CONFIG)


def numeric(report):
    return [t for t in report.tests if t.kind == "numeric-gradient"]


@pytest.mark.parametrize("source, says", [
    (FAKE_SLOPE, "right on this case's inputs but not next to them"),
    (WRONG_STALE, "returned exactly the same output when x, w, b moved"),
], ids=["fake slope behind a right forward", "stale outputs of a wrong forward"])
def test_a_remembering_forward_scores_no_more_than_its_twin(tmp_path, source, says):
    attack = grade(tmp_path, "attack", source)
    twin = grade(tmp_path, "twin", source.replace("ATTACK = True", "ATTACK = False"))
    scores = {t.name: t.score for t in twin.tests}
    assert {t.name for t in attack.tests} == set(scores)
    for test in attack.tests:
        assert test.score <= scores[test.name] + 1e-9, (test.name, test.feedback)
    assert numeric(attack) and all(not t.passed and says in t.feedback for t in numeric(attack)), \
        [t.feedback for t in numeric(attack)]


def test_directional_compares_the_forward_with_the_reference_at_the_probes():
    g = np.random.default_rng(0)
    x, w, dout = g.standard_normal((3, 4)), g.standard_normal((4, 2)), g.standard_normal((3, 2))
    grad = dout @ w.T  # d/dx of sum((x @ w) * dout)

    def layer(point):
        return point @ w

    right = directional(layer, x, grad, np.random.default_rng(1), "dx", dout, reference=layer)
    assert all(c.error < 1e-8 and c.reference_error < 1e-8 and not c.stale for c in right)

    remembered = x @ w
    stale = directional(lambda point: remembered.copy(), x, np.zeros_like(x), np.random.default_rng(1), "dx", dout,
                        reference=layer)
    assert all(c.stale and c.error == 0 and c.reference_error == 1 for c in stale)

    def off(point):  # right at x, a slope of 2x the true one around it
        return remembered + 2 * (point - x) @ w

    skewed = directional(off, x, 2 * grad, np.random.default_rng(1), "dx", dout, reference=layer)
    assert all(c.error < 1e-8 and abs(c.reference_error - 1 / 3) < 1e-6 and not c.stale for c in skewed)
