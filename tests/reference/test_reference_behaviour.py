"""Known values, tie-breaking, purity, input checking and devices of the references."""

import copy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import grader.reference as reference
from grader.reference import numpy_fast, numpy_loops, torch_ref

MODULES = [numpy_loops, numpy_fast, torch_ref]
IDS = ["numpy_loops", "numpy_fast", "torch_ref"]
ROOT = Path(__file__).resolve().parents[2]


def rel_error(x, y):
    return np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y)))


# ------------------------------------------------------------------ known values


@pytest.mark.parametrize("module", MODULES, ids=IDS)
def test_cs231n_worked_example(module):
    # cs231n's ConvolutionalNetworks notebook; out[0, 2, 1, 1] is 0.67101435 there
    x = np.linspace(-0.1, 0.5, num=2 * 3 * 4 * 4).reshape(2, 3, 4, 4)
    w = np.linspace(-0.2, 0.3, num=3 * 3 * 4 * 4).reshape(3, 3, 4, 4)
    b = np.linspace(-0.1, 0.2, num=3)
    out, _ = module.conv_forward(x, w, b, {"stride": 2, "pad": 1})
    correct_out = np.array([[[[-0.08759809, -0.10987781], [-0.18387192, -0.2109216]],
                             [[0.21027089, 0.21661097], [0.22847626, 0.23004637]],
                             [[0.50813986, 0.54309974], [0.64082444, 0.67101435]]],
                            [[[-0.98053589, -1.03143541], [-1.19128892, -1.24695841]],
                             [[0.69108355, 0.66880383], [0.59480972, 0.56776003]],
                             [[2.36270298, 2.36904306], [2.38090835, 2.38247847]]]])
    assert out.shape == correct_out.shape
    assert rel_error(out, correct_out) < 1e-7


@pytest.mark.parametrize("module", MODULES, ids=IDS)
def test_conv_is_cross_correlation_with_zero_padding_on_both_sides(module):
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    w = np.array([[[[1.0, 2.0]]]])  # (1, 1, 1, 2): out[i, j] = x[i, j-1] + 2 x[i, j] with zero padding
    out, _ = module.conv_forward(x, w, np.array([0.5]), {"stride": 1, "pad": 1})
    x_pad = np.pad(x[0, 0], 1)
    expected = x_pad[:, :-1] + 2 * x_pad[:, 1:] + 0.5
    np.testing.assert_allclose(out[0, 0], expected)


@pytest.mark.parametrize("module", MODULES, ids=IDS)
def test_dilated_strided_conv_output_size(module):
    x, w, b = np.ones((1, 1, 10, 9)), np.ones((2, 1, 3, 2)), np.zeros(2)
    out, _ = module.conv_forward(x, w, b, {"stride": 3, "pad": 2, "dilation": 2})
    # H' = 1 + (10 + 4 - 2*2 - 1) // 3 = 4,  W' = 1 + (9 + 4 - 2*1 - 1) // 3 = 4
    assert out.shape == (1, 2, 4, 4)


@pytest.mark.parametrize("module", MODULES, ids=IDS)
def test_max_pool_ties_follow_numpy_argmax(module):
    # every window of x is constant, or has its maximum twice: the first one (row by row) gets dout
    x = np.array([[[[1.0, 1.0, 2.0, 5.0],
                    [1.0, 1.0, 5.0, 5.0],
                    [3.0, 0.0, 4.0, 4.0],
                    [0.0, 3.0, 4.0, 4.0]]]])
    out, cache = module.max_pool_forward(x, {"pool_height": 2, "pool_width": 2, "stride": 2})
    np.testing.assert_array_equal(out, [[[[1.0, 5.0], [3.0, 4.0]]]])
    dx = module.max_pool_backward(np.array([[[[10.0, 20.0], [30.0, 40.0]]]]), cache)
    np.testing.assert_array_equal(dx, [[[[10.0, 0.0, 0.0, 20.0],
                                         [0.0, 0.0, 0.0, 0.0],
                                         [30.0, 0.0, 40.0, 0.0],
                                         [0.0, 0.0, 0.0, 0.0]]]])


@pytest.mark.parametrize("module", MODULES, ids=IDS)
def test_max_pool_ties_in_overlapping_windows_accumulate(module):
    x = np.zeros((1, 1, 3, 3))  # every element ties: each window's top-left corner takes its dout
    _, cache = module.max_pool_forward(x, {"pool_height": 2, "pool_width": 2, "stride": 1})
    dx = module.max_pool_backward(np.array([[[[1.0, 2.0], [4.0, 8.0]]]]), cache)
    np.testing.assert_array_equal(dx, [[[[1.0, 2.0, 0.0], [4.0, 8.0, 0.0], [0.0, 0.0, 0.0]]]])


@pytest.mark.parametrize("module", MODULES, ids=IDS)
def test_max_pool_backward_is_numpy_argmax_rule_on_many_ties(module):
    rng = np.random.default_rng(7)
    x = rng.integers(0, 2, size=(2, 3, 7, 8)).astype(float)
    pool_param = {"pool_height": 3, "pool_width": 3, "stride": 2}
    out, cache = module.max_pool_forward(x, pool_param)
    dout = rng.standard_normal(out.shape)
    expected = np.zeros_like(x)
    for n, c, i, j in np.ndindex(out.shape):
        window = x[n, c, 2 * i:2 * i + 3, 2 * j:2 * j + 3]
        k, l = divmod(int(np.argmax(window)), 3)
        expected[n, c, 2 * i + k, 2 * j + l] += dout[n, c, i, j]
    np.testing.assert_allclose(module.max_pool_backward(dout, cache), expected)


@pytest.mark.parametrize("module", MODULES, ids=IDS)
def test_avg_pool_spreads_dout_evenly(module):
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    out, cache = module.avg_pool_forward(x, {"pool_height": 2, "pool_width": 2, "stride": 2})
    np.testing.assert_allclose(out, [[[[2.5, 4.5], [10.5, 12.5]]]])
    dx = module.avg_pool_backward(np.array([[[[4.0, 8.0], [12.0, 16.0]]]]), cache)
    np.testing.assert_allclose(dx[0, 0], np.kron([[1.0, 2.0], [3.0, 4.0]], np.ones((2, 2))))


# ---------------------------------------------------------------------- purity


def _snapshot(*values):
    return copy.deepcopy(values)


def _assert_same(before, after):
    for old, new in zip(before, after):
        if isinstance(old, np.ndarray):
            np.testing.assert_array_equal(new, old)
            assert new.dtype == old.dtype
        else:
            assert new == old


@pytest.mark.parametrize("module", MODULES, ids=IDS)
def test_inputs_are_never_mutated(module):
    rng = np.random.default_rng(3)
    x, w, b = rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((2, 3, 3, 3)), rng.standard_normal(2)
    conv_param = {"stride": 2, "pad": 1, "dilation": 1}
    before = _snapshot(x, w, b, conv_param)
    out, cache = module.conv_forward(x, w, b, conv_param)
    dout = rng.standard_normal(out.shape)
    dout_before = dout.copy()
    module.conv_backward(dout, cache)
    module.conv_backward(dout, cache)  # a cache can be used twice
    _assert_same(before, (x, w, b, conv_param))
    np.testing.assert_array_equal(dout, dout_before)

    pool_param = {"pool_height": 2, "pool_width": 2, "stride": 1}
    for kind in ("max", "avg"):
        before = _snapshot(x, pool_param)
        out, cache = getattr(module, f"{kind}_pool_forward")(x, pool_param)
        dout = rng.standard_normal(out.shape)
        dout_before = dout.copy()
        getattr(module, f"{kind}_pool_backward")(dout, cache)
        _assert_same(before, (x, pool_param))
        np.testing.assert_array_equal(dout, dout_before)


@pytest.mark.parametrize("module", MODULES, ids=IDS)
def test_outputs_are_float64_and_accept_other_dtypes(module):
    x = np.arange(32, dtype=np.int64).reshape(1, 2, 4, 4)
    w = np.ones((1, 2, 2, 2), dtype=np.float32)
    out, cache = module.conv_forward(x, w, [0], {"stride": 1, "pad": 0})
    assert out.dtype == np.float64
    assert all(g.dtype == np.float64 for g in module.conv_backward(np.ones(out.shape, np.float32), cache))
    out, cache = module.max_pool_forward(x, {"pool_height": 2, "pool_width": 2, "stride": 2})
    assert out.dtype == np.float64 and module.max_pool_backward(np.ones(out.shape), cache).dtype == np.float64


# -------------------------------------------------------------- input checking


@pytest.mark.parametrize("module", MODULES, ids=IDS)
@pytest.mark.parametrize("shapes, conv_param, words", [
    (((1, 3, 4, 4), (2, 2, 3, 3), (2,)), {"stride": 1, "pad": 0}, "channels"),
    (((1, 3, 4, 4), (2, 3, 3, 3), (3,)), {"stride": 1, "pad": 0}, "b must have shape"),
    (((1, 3, 4, 4), (2, 3, 7, 3), (2,)), {"stride": 1, "pad": 1}, "larger than the padded input"),
    (((1, 3, 4, 4), (2, 3, 3, 3), (2,)), {"stride": 0, "pad": 0}, "stride must be at least 1"),
    (((1, 3, 4, 4), (2, 3, 3, 3), (2,)), {"stride": 1.5, "pad": 0}, "stride must be an integer"),
    (((1, 3, 4, 4), (2, 3, 3, 3), (2,)), {"stride": True, "pad": 0}, "stride must be an integer"),
    (((1, 3, 4, 4), (2, 3, 3, 3), (2,)), {"pad": 0}, "missing 'stride'"),
    (((1, 3, 4, 4), (2, 3, 3, 3), (2,)), {"stride": 1, "pad": 0, "dilation": 0}, "dilation"),
    (((3, 4, 4), (2, 3, 3, 3), (2,)), {"stride": 1, "pad": 0}, "4 dimensions"),
])
def test_bad_conv_inputs_raise_value_error(module, shapes, conv_param, words):
    x, w, b = (np.zeros(s) for s in shapes)
    with pytest.raises(ValueError, match=words):
        module.conv_forward(x, w, b, conv_param)


@pytest.mark.parametrize("module", MODULES, ids=IDS)
def test_bad_pool_inputs_raise_value_error(module):
    with pytest.raises(ValueError, match="larger than the padded input"):
        module.max_pool_forward(np.zeros((1, 1, 2, 2)), {"pool_height": 3, "pool_width": 2, "stride": 1})
    with pytest.raises(ValueError, match="pool_width"):
        module.avg_pool_forward(np.zeros((1, 1, 2, 2)), {"pool_height": 2, "stride": 1})


@pytest.mark.parametrize("module", MODULES, ids=IDS)
def test_dout_of_the_wrong_shape_is_a_value_error(module):
    x, w, b = np.ones((2, 1, 4, 4)), np.ones((3, 1, 2, 2)), np.zeros(3)
    out, cache = module.conv_forward(x, w, b, {"stride": 2, "pad": 0})
    with pytest.raises(ValueError, match=r"dout must have the forward output's shape \(2, 3, 2, 2\)"):
        module.conv_backward(np.ones((2, 3, 2, 1)), cache)
    for kind in ("max", "avg"):
        _, cache = getattr(module, f"{kind}_pool_forward")(x, {"pool_height": 2, "pool_width": 2, "stride": 2})
        with pytest.raises(ValueError, match="dout must have"):
            getattr(module, f"{kind}_pool_backward")(np.ones((2, 1, 2)), cache)


# ------------------------------------------------------------ devices, packaging


def test_resolve_device():
    assert torch_ref.resolve_device("cpu") == torch.device("cpu")
    assert torch_ref.resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert torch_ref.resolve_device(torch.device("cpu")) == torch.device("cpu")
    with pytest.raises(ValueError, match="unknown device 'gpu'"):
        torch_ref.resolve_device("gpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_cuda_is_a_clear_value_error():
    with pytest.raises(ValueError, match="no CUDA device"):
        torch_ref.resolve_device("cuda")
    with pytest.raises(ValueError, match="no CUDA device"):
        torch_ref.conv_forward(np.zeros((1, 1, 3, 3)), np.zeros((1, 1, 2, 2)), np.zeros(1),
                               {"stride": 1, "pad": 0}, device="cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_agrees_with_numpy():
    rng = np.random.default_rng(11)
    x = rng.integers(0, 3, size=(2, 3, 9, 8)).astype(float)
    w, b = rng.standard_normal((4, 3, 3, 2)), rng.standard_normal(4)
    conv_param = {"stride": 2, "pad": 1, "dilation": 2}
    out, cache = torch_ref.conv_forward(x, w, b, conv_param, device="cuda")
    want, want_cache = numpy_fast.conv_forward(x, w, b, conv_param)
    np.testing.assert_allclose(out, want, rtol=1e-10, atol=1e-12)
    dout = rng.standard_normal(out.shape)
    for got, expected in zip(torch_ref.conv_backward(dout, cache), numpy_fast.conv_backward(dout, want_cache)):
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)
    pool_param = {"pool_height": 3, "pool_width": 3, "stride": 2}
    for kind in ("max", "avg"):
        out, cache = getattr(torch_ref, f"{kind}_pool_forward")(x, pool_param, device="cuda")
        want, want_cache = getattr(numpy_fast, f"{kind}_pool_forward")(x, pool_param)
        np.testing.assert_allclose(out, want)
        dout = rng.standard_normal(out.shape)
        np.testing.assert_allclose(getattr(torch_ref, f"{kind}_pool_backward")(dout, cache),
                                   getattr(numpy_fast, f"{kind}_pool_backward")(dout, want_cache))


def test_numpy_references_do_not_import_torch():
    code = (
        "import sys, numpy as np\n"
        "import grader.reference as r\n"
        "r.numpy_fast.conv_forward(np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2)), np.ones(1), {'stride': 1, 'pad': 0})\n"
        "r.wrong.variants('conv')\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "assert r.torch_ref.resolve_device('cpu').type == 'cpu' and 'torch' in sys.modules\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_implementation_by_name():
    assert [reference.implementation(name) for name in reference.IMPLEMENTATIONS] == MODULES
    with pytest.raises(ValueError, match="unknown reference implementation"):
        reference.implementation("numpy_slow")
