"""The catalogue of known wrong variants: well formed, each really wrong, each distinct."""

import inspect
from itertools import combinations

import numpy as np
import pytest

from grader.reference import numpy_fast, numpy_loops, wrong

# Generic inputs: N, C, F > 1, stride, padding and dilation > 1, a non-square
# kernel, input and output; pooling windows that overlap, on an input full of ties.
_rng = np.random.default_rng(2024)
CONV_INPUTS = (_rng.standard_normal((2, 3, 9, 10)), _rng.standard_normal((4, 3, 3, 2)), _rng.standard_normal(4),
               {"stride": 2, "pad": 1, "dilation": 2})
POOL_X = _rng.integers(0, 6, size=(2, 3, 7, 8)).astype(float)
INPUTS = {
    "conv": CONV_INPUTS,
    "max_pool": (POOL_X, {"pool_height": 3, "pool_width": 2, "stride": 2}),
    "avg_pool": (POOL_X, {"pool_height": 3, "pool_width": 2, "stride": 2}),
}


def dout_for(part):
    out = wrong.correct_result(part, "forward", INPUTS[part])
    return np.random.default_rng(99).standard_normal(out.shape)


def same(a, b):
    """Equal results: arrays of one shape and close values, or tuples of such."""
    if isinstance(a, tuple) or isinstance(b, tuple):
        return isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b) and all(map(same, a, b))
    return np.shape(a) == np.shape(b) and np.allclose(a, b, rtol=1e-9, atol=1e-12)


def result(variant):
    dout = dout_for(variant.part) if variant.kind == "backward" else None
    return variant.evaluate(INPUTS[variant.part], dout)


VARIANT_IDS = [v.key for v in wrong.VARIANTS]


def test_registry_is_well_formed():
    keys = [v.key for v in wrong.VARIANTS]
    assert len(keys) == len(set(keys))
    assert {(v.part, v.kind) for v in wrong.VARIANTS} == {
        ("conv", "forward"), ("conv", "backward"), ("max_pool", "forward"), ("max_pool", "backward"),
        ("avg_pool", "forward"), ("avg_pool", "backward")}
    for v in wrong.VARIANTS:
        assert v.message and v.message == v.message.strip() and not v.message.endswith(".")
        assert wrong.get(v.key) is v
        correct = wrong.CORRECT[(v.part, v.kind)]
        assert list(inspect.signature(v.fn).parameters) == list(inspect.signature(correct).parameters)
    assert [v.key for v in wrong.variants("avg_pool")] == [
        "avg-pool-square-windows", "avg-pool-stride-windows", "avg-pool-no-stride", "avg-pool-im2col-rows-by-height",
        "avg-pool-dx-from-ones", "avg-pool-no-divide"]
    with pytest.raises(ValueError, match="unknown wrong variant"):
        wrong.get("conv-everything-wrong")
    with pytest.raises(ValueError, match="part must be one of"):
        wrong.WrongVariant("x", "pooling", "forward", "m", numpy_fast.conv_forward)


def test_the_catalogue_names_the_bugs_of_the_brief():
    expected = {
        "conv-kernel-flipped", "conv-no-padding", "conv-one-side-padding", "conv-no-stride", "conv-no-dilation",
        "conv-no-bias", "conv-bias-twice", "conv-db-batch-only", "conv-db-all-axes", "conv-dw-last-sample",
        "conv-dw-first-sample", "conv-dx-not-flipped", "max-pool-whole-window", "max-pool-all-ties",
        "max-pool-overlap-overwrite", "avg-pool-no-divide",
        # found in real solutions (issue 13): windows cut stride x stride
        "max-pool-stride-windows", "avg-pool-stride-windows", "max-pool-backward-stride-windows",
        "max-pool-square-windows", "avg-pool-square-windows", "max-pool-argmax-row-by-height", "conv-dx-no-stride",
        "conv-im2col-rows-by-height", "max-pool-im2col-rows-by-height", "avg-pool-im2col-rows-by-height",
        "conv-dw-no-stride", "conv-dx-overwrite", "max-pool-no-stride", "avg-pool-no-stride",
        "max-pool-backward-square-windows", "max-pool-dx-from-ones", "avg-pool-dx-from-ones",
    }
    assert set(VARIANT_IDS) == expected
    assert "cross-correlation" in wrong.get("conv-kernel-flipped").message
    assert wrong.get("conv-no-padding").message.startswith("forgot the padding")


@pytest.mark.parametrize("variant", wrong.VARIANTS, ids=VARIANT_IDS)
def test_each_variant_differs_from_the_correct_result(variant):
    dout = dout_for(variant.part) if variant.kind == "backward" else None
    correct = wrong.correct_result(variant.part, variant.kind, INPUTS[variant.part], dout)
    assert not same(result(variant), correct)


@pytest.mark.parametrize("part, kind", sorted({(v.part, v.kind) for v in wrong.VARIANTS}))
def test_variants_of_one_part_and_kind_are_pairwise_distinct(part, kind):
    found = {v.key: result(v) for v in wrong.variants(part, kind)}
    for (key_a, a), (key_b, b) in combinations(found.items(), 2):
        assert not same(a, b), f"{key_a} and {key_b} give the same result"


def test_correct_result_agrees_with_the_loops():
    x, w, b, conv_param = CONV_INPUTS
    out, cache = numpy_loops.conv_forward(x, w, b, conv_param)
    dout = dout_for("conv")
    assert same(wrong.correct_result("conv", "forward", CONV_INPUTS), out)
    assert same(wrong.correct_result("conv", "backward", CONV_INPUTS, dout), numpy_loops.conv_backward(dout, cache))


@pytest.mark.parametrize("variant", wrong.variants(kind="backward"), ids=lambda v: v.key)
def test_backward_variants_accept_the_loops_cache(variant):
    inputs, dout = INPUTS[variant.part], dout_for(variant.part)
    _, loops_cache = getattr(numpy_loops, f"{variant.part}_forward")(*inputs)
    assert same(variant.fn(dout, loops_cache), result(variant))


@pytest.mark.parametrize("variant", wrong.VARIANTS, ids=VARIANT_IDS)
def test_variants_do_not_mutate_inputs(variant):
    inputs = tuple(a.copy() if isinstance(a, np.ndarray) else dict(a) for a in INPUTS[variant.part])
    result(variant)
    for before, after in zip(inputs, INPUTS[variant.part]):
        if isinstance(before, np.ndarray):
            np.testing.assert_array_equal(after, before)
        else:
            assert after == before


def test_forward_variants_keep_the_output_shape_where_the_bug_does():
    # a student who got the output size right but the windows wrong is diagnosed by value
    shape = wrong.correct_result("conv", "forward", CONV_INPUTS).shape
    for key in ("conv-kernel-flipped", "conv-one-side-padding", "conv-no-stride", "conv-no-dilation",
                "conv-no-bias", "conv-bias-twice"):
        assert result(wrong.get(key)).shape == shape
    assert result(wrong.get("conv-no-padding")).shape != shape
