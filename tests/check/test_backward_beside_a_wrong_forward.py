"""A right backward loses nothing to its forward's bug (issue 13: no correct part loses a point).

Where the student's forward is wrong, the numeric-gradient test takes the right forward's gradient
as the yardstick too; where the forward fails, the backward is tested with the cache the layout
documents, ``(x, w, b, conv_param)`` or ``(x, pool_param)``, when the forward returns that cache
wherever it runs.  Whether each fixture's backward is right is decided here by torch's autograd,
calling the fixture's backward with that cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from grader.checks.cases import cases_for
from grader.grading import grade_submission

pytest.importorskip("torch")
from torch_truth import FIXTURES, load_fixture, torch_case  # noqa: E402 - after torch is known to be there
CONFIG = Path(__file__).resolve().parent / "fast.toml"

# fixture: (part, the forward raises somewhere rather than only giving wrong values)
FORWARD_ONLY = {
    "conv_flipped": ("conv", False), "conv_no_stride": ("conv", False),
    "conv_no_bias": ("conv", False), "conv_square_kernel_only": ("conv", True),
    "pool_forward_counter_wraps": ("max_pool", False), "pool_forward_steps_by_stride": ("max_pool", False),
}


def _backward_is_right(name: str, part: str, cache=tuple) -> bool:
    """Whether the fixture's backward, given ``cache(args)`` (default the documented cache: the
    inputs), gives torch's gradients on every case of the part."""
    module = load_fixture(name, part, "_bwd")
    for case in cases_for(part):
        args, tensors, _, dout = torch_case(part, case, 1, dout_seed=3)
        grads = getattr(module, f"{part}_backward")(dout, cache(args))
        grads = grads if part == "conv" else (grads,)
        if case.__dict__.get("ties"):
            continue  # the fixtures route ties to the first maximum, as torch may not
        if not all(np.allclose(g, t.grad.numpy(), atol=1e-9) for g, t in zip(grads, tensors)):
            return False
    return True


@pytest.mark.parametrize("name", sorted(FORWARD_ONLY))
def test_a_right_backward_keeps_its_points(name):
    part, raises = FORWARD_ONLY[name]
    assert _backward_is_right(name, part), "the fixture's backward must be right by torch for this test to mean much"
    report = grade_submission(FIXTURES / name, parts=part, seed=11, device="cpu", config_path=CONFIG)
    forward = [t for t in report.tests if t.part == part and t.kind == "forward"]
    assert any(not t.passed for t in forward)  # the forward bug is caught
    if raises:
        assert any("failed:" in t.feedback for t in forward if not t.passed)
    later = [t for t in report.tests if t.part == part and t.kind in ("backward", "numeric-gradient")]
    assert later and all(t.passed and t.score == pytest.approx(t.max_score) for t in later), [
        (t.name, t.feedback) for t in later if not t.passed]
    if raises:  # tested with the documented cache where the forward failed, and saying so
        assert any("documented to return" in t.feedback for t in later)


def test_a_wrong_backward_still_fails_beside_a_wrong_forward():
    # conv_forward_wrong_backward_consistent: both wrong, the backward consistent with its own forward
    report = grade_submission(FIXTURES / "conv_forward_wrong_backward_consistent", parts="conv", seed=11,
                              device="cpu", config_path=CONFIG)
    backward = [t for t in report.tests if t.kind == "backward"]
    assert backward and not all(t.passed for t in backward)


def test_a_backward_of_another_cache_gets_that_cache_where_its_forward_failed():
    # conv_caches_padded_x caches (x_pad, w, b, conv_param): its backward is right for that cache and
    # would misread the documented one, so where its forward refuses (non-square kernels) it is given
    # its own form of cache, rebuilt from the case's inputs, and keeps its points
    def padded(args):
        x, w, b, p = args
        return np.pad(x, ((0, 0), (0, 0), (p["pad"], p["pad"]), (p["pad"], p["pad"]))), w, b, p

    assert _backward_is_right("conv_caches_padded_x", "conv", cache=padded)
    report = grade_submission(FIXTURES / "conv_caches_padded_x", parts="conv", seed=11, device="cpu",
                              config_path=CONFIG)
    forward = {t.name.split(": ", 1)[1]: t for t in report.tests if t.kind == "forward"}
    backward = [t for t in report.tests if t.kind == "backward"]
    rebuilt = [t for t in backward if "built for this case" in t.feedback]
    assert rebuilt and all(t.passed and "(x_pad, w, b, conv_param)" in t.feedback for t in rebuilt)
    assert {t.name.split(": ", 1)[1] for t in rebuilt} == {n for n, t in forward.items() if not t.passed}
    assert all(t.passed for t in backward)


def test_a_backward_of_a_cache_that_cannot_be_rebuilt_is_not_run_where_its_forward_failed(tmp_path):
    # the same code caching one more thing the inputs alone do not give (the output): nothing to rebuild
    source = (FIXTURES / "conv_caches_padded_x" / "conv.py").read_text()
    source = source.replace("    cache = (x_pad, w, b, conv_param)", "    cache = (x_pad, w, b, conv_param, out)", 1)
    source = source.replace("    x_pad, w, b, conv_param = cache", "    x_pad, w, b, conv_param, _ = cache", 1)
    assert source.count(", out)") == 1 and "conv_param, _ = cache" in source
    (tmp_path / "conv.py").write_text(source)
    report = grade_submission(tmp_path, parts="conv", seed=11, device="cpu", config_path=CONFIG)
    backward = [t for t in report.tests if t.kind == "backward"]
    assert {t.status for t in backward} == {"passed", "not run"}, [(t.name, t.feedback) for t in backward]
    assert all("gave no cache" in t.feedback for t in backward if t.status == "not run")


def test_the_documented_cache_is_taken_where_the_forward_returns_it():
    # where the forward returns the documented cache, the fallback is taken (conv_square_kernel_only)
    report = grade_submission(FIXTURES / "conv_square_kernel_only", parts="conv", seed=11, device="cpu",
                              config_path=CONFIG)
    assert any("documented to return" in t.feedback and t.passed for t in report.tests if t.kind == "backward")


def test_a_forward_that_never_runs_leaves_only_a_pass_to_its_backward(tmp_path):
    # the example's conv with a forward that always raises: nothing says what cache its backward takes,
    # so a pass on the documented one counts (the backward is right by torch, checked above for the
    # example's code) and anything else would be "not run", with what happened
    source = (Path(__file__).resolve().parents[2] / "examples" / "submission" / "conv.py").read_text()
    source = source.replace('    stride, pad, dilation = _settings(conv_param)\n    N, C, H, W = x.shape\n    F, _, HH, WW = w.shape\n\n    # extent',
                            '    raise RuntimeError("not written yet")\n    stride, pad, dilation = _settings(conv_param)\n'
                            '    N, C, H, W = x.shape\n    F, _, HH, WW = w.shape\n\n    # extent', 1)
    assert "not written yet" in source
    (tmp_path / "conv.py").write_text(source)
    report = grade_submission(tmp_path, parts="conv", seed=11, device="cpu", config_path=CONFIG)
    backward = [t for t in report.tests if t.kind == "backward"]
    assert backward and all(t.passed and "documented to return" in t.feedback for t in backward)
    assert not any(t.passed for t in report.tests if t.kind == "forward")


def test_a_backward_that_passes_on_the_documented_cache_has_its_failures_there_scored():
    # pool_keepdims_into_element: its forward raises on every case on NumPy 2.4 (nothing says what cache the backward
    # takes), and its backward assigns (=) over overlapping windows. It passes on the documented cache where
    # windows do not overlap, which shows it takes that cache: its failures where they overlap are its own
    # bug, scored and named, not "not run"
    assert not _backward_is_right("pool_keepdims_into_element", "max_pool")
    report = grade_submission(FIXTURES / "pool_keepdims_into_element", parts="max_pool", seed=11, device="cpu",
                              config_path=CONFIG)
    backward = [t for t in report.tests if t.kind == "backward"]
    assert any(t.passed for t in backward)
    failed = [t for t in backward if not t.passed]
    assert failed and all(t.status == "failed" and "instead of assigning" in t.feedback for t in failed), [
        (t.name, t.status, t.feedback) for t in failed]


def test_a_right_backward_beside_a_forward_of_the_wrong_shape_keeps_its_points(tmp_path):
    # found in a held-out study: a forward whose output has H' and W' swapped (the wrong shape on
    # non-square outputs) beside a right backward; the numeric-gradient test cannot use the derivative
    # of an output of the wrong shape, so it takes the right forward's gradient, with the forward's cache
    source = (Path(__file__).resolve().parents[2] / "examples" / "submission" / "conv.py").read_text()
    assert source.count("    return out, cache\n") == 1
    (tmp_path / "conv.py").write_text(source.replace("    return out, cache\n",
                                                     "    return out.transpose(0, 1, 3, 2), cache\n", 1))
    import importlib.util

    spec = importlib.util.spec_from_file_location("wrong_shape_conv", tmp_path / "conv.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for case in cases_for("conv"):  # the backward is right by torch, given the documented cache
        args, tensors, _, dout = torch_case("conv", case, 1, dout_seed=3)
        grads = module.conv_backward(dout, tuple(args))
        assert all(np.allclose(g, t.grad.numpy(), atol=1e-9) for g, t in zip(grads, tensors))
    report = grade_submission(tmp_path, parts="conv", seed=11, device="cpu", config_path=CONFIG)
    assert not any(t.passed for t in report.tests if t.kind == "forward")
    later = [t for t in report.tests if t.kind in ("backward", "numeric-gradient")]
    assert later and all(t.passed and t.score == pytest.approx(t.max_score) for t in later), [
        (t.name, t.feedback) for t in later if not t.passed]


def _padded(args):
    x, w, b, p = args
    return np.pad(x, ((0, 0), (0, 0), (p["pad"], p["pad"]), (p["pad"], p["pad"]))), w, b, p


@pytest.mark.skipif(hasattr(np.lib, "pad"), reason="NumPy 1 still has np.lib.pad: this forward raises on NumPy 2 only")
def test_a_forward_that_never_runs_but_caches_x_padded_gives_its_backward_that_cache(tmp_path):
    # conv_caches_padded_x with NumPy 1's np.lib.pad (gone from NumPy 2: the forward raises on every case) and
    # x padded in place before it is cached, x = np.lib.pad(x, ...); cache = (x, w, b, conv_param): the code
    # says the cache holds x padded, and the backward, right for that cache (torch), keeps its points
    source = (FIXTURES / "conv_caches_padded_x" / "conv.py").read_text()
    for old, new in (('    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="constant")',
                      '    x = np.lib.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="constant")\n    x_pad = x'),
                     ("    cache = (x_pad, w, b, conv_param)", "    cache = (x, w, b, conv_param)")):
        assert source.count(old) == 1
        source = source.replace(old, new)
    (tmp_path / "conv.py").write_text(source)
    assert _backward_is_right("conv_caches_padded_x", "conv", cache=_padded)  # the same backward
    report = grade_submission(tmp_path, parts="conv", seed=11, device="cpu", config_path=CONFIG)
    forward = [t for t in report.tests if t.kind == "forward"]
    assert forward and not any(t.passed for t in forward)  # (non-square kernels: its assertion comes first)
    assert any("np.lib.pad is gone from NumPy 2" in t.feedback for t in forward)
    backward = [t for t in report.tests if t.kind == "backward"]
    assert backward and all(t.passed and "it pads x before caching it" in t.feedback for t in backward), [
        (t.name, t.feedback) for t in backward]
    # the same code caching the unpadded x beside a padded copy: nothing says the cache is padded, and the
    # backward (which reads the cache as padded) fails where the padding matters
    plain = source.replace("    x = np.lib.pad(x,", "    x_pad = np.lib.pad(x,", 1).replace("    x_pad = x\n", "", 1)
    (tmp_path / "conv.py").write_text(plain)
    report = grade_submission(tmp_path, parts="conv", seed=11, device="cpu", config_path=CONFIG)
    backward = [t for t in report.tests if t.kind == "backward"]
    assert not any("it pads x before caching it" in t.feedback for t in backward)
    assert not all(t.passed for t in backward)
