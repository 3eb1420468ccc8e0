"""The verdicts the fixtures are graded against come from torch, not from the grader.

Each layer fixture of tests/submissions is run here (our own code, in this process) on
cases like the grader's, and compared with torch's conv2d, max_pool2d, avg_pool2d and
autograd: the fixtures planted as bugs must disagree with torch somewhere, and the ones
planted as right answers written another way (a tie routed to the last maximum, or split)
must agree, with any valid subgradient at ties accepted as the issue asks."""

from __future__ import annotations

import numpy as np
import pytest

from grader.checks.cases import cases_for
from grader.checks.ties import is_valid_max_pool_gradient

pytest.importorskip("torch")
from torch_truth import load_fixture, torch_case  # noqa: E402 - after torch is known to be there

# fixture: (part, right according to torch?)
VERDICTS = {
    "conv_flipped": ("conv", False), "conv_no_padding": ("conv", False), "conv_one_side_padding": ("conv", False),
    "conv_no_stride": ("conv", False), "conv_no_dilation": ("conv", False), "conv_no_bias": ("conv", False),
    "conv_bias_twice": ("conv", False), "conv_db_wrong_axes": ("conv", False), "conv_dw_last_sample": ("conv", False),
    "conv_dx_not_flipped": ("conv", False), "conv_backward_wrong_but_forward_right": ("conv", False),
    "conv_forward_wrong_backward_consistent": ("conv", False), "conv_unpad_negative_slice": ("conv", False),
    "conv_unpad_hardcoded_one": ("conv", False), "conv_python2_division": ("conv", False),
    "maxpool_whole_window": ("max_pool", False), "maxpool_all_ties": ("max_pool", False),
    "maxpool_overlap_overwrite": ("max_pool", False), "avgpool_no_divide": ("avg_pool", False),
    "pool_square_output_only": ("max_pool", False), "pool_stride_is_window": ("max_pool", False),
    "conv_pad_hardcoded_one": ("conv", False),
    "maxpool_ties_last": ("max_pool", True), "maxpool_ties_split": ("max_pool", True),
    "conv_square_kernel_only": ("conv", False), "pool_stride_windows": ("max_pool", False),
    "pool_reshape_blocks": ("max_pool", False), "pool_square_windows": ("max_pool", False),
    "maxpool_argmax_row_by_height": ("max_pool", False), "pool_python2_xrange": ("max_pool", False),
    "conv_dx_no_stride": ("conv", False), "conv_backward_unfinished": ("conv", False),
    "conv_im2col_rows_by_height": ("conv", False),
    "conv_dw_no_stride": ("conv", False), "conv_dx_overwrite": ("conv", False),
    "pool_window_start_unscaled": ("max_pool", False),
    "maxpool_backward_square_windows": ("max_pool", False), "pool_dx_from_ones": ("max_pool", False),
    "maxpool_backward_slice_height_wide": ("max_pool", False),
    "conv_dw_columns_no_stride": ("conv", False), "conv_dw_square_output": ("conv", False),
    "pool_forward_counter_wraps": ("max_pool", False), "pool_forward_steps_by_stride": ("max_pool", False),
    "maxpool_backward_argmax_separately": ("max_pool", False), "maxpool_backward_ones_assign": ("max_pool", False),
    "maxpool_backward_starts_by_window": ("max_pool", False),
    "conv_channels_hardcoded_three": ("conv", False), "maxpool_backward_hardcoded_2x2": ("max_pool", False),
    "maxpool_backward_writes_into_cache": ("max_pool", False), "conv_caches_padded_x": ("conv", False),
    "pool_loops_every_stride_step": ("max_pool", False), "pool_im2col_width_by_height": ("max_pool", False),
    "pool_keepdims_into_element": ("max_pool", False), "conv_unpad_starts_at_one": ("conv", False),
    "pool_output_index_from_start": ("max_pool", False), "pool_loops_over_window_size": ("max_pool", False),
    "maxpool_backward_window_buffer_sum": ("max_pool", False),
    "maxpool_backward_adds_forward_mask": ("max_pool", False), "conv_dx_last_image_only": ("conv", False),
    "pool_windows_counted_as_tiles": ("max_pool", False),
}


def _agrees_with_torch(module, part: str, case, seed: int) -> bool:
    """Whether the module's forward and backward match torch on this case (any valid subgradient at ties)."""
    args, tensors, expected, dout = torch_case(part, case, seed)
    try:
        out, cache = getattr(module, f"{part}_forward")(*[np.copy(a) if isinstance(a, np.ndarray) else dict(a)
                                                         for a in args])
        grads = getattr(module, f"{part}_backward")(dout.copy(), cache)
    except Exception:  # noqa: BLE001 - a crash is a disagreement
        return False
    grads = tuple(grads) if part == "conv" else (grads,)
    if np.shape(out) != tuple(expected.shape) or not np.allclose(out, expected.detach().numpy(), atol=1e-9):
        return False
    for got, tensor in zip(grads, tensors):
        want = tensor.grad.numpy()
        if np.shape(got) != want.shape:
            return False
        if not np.allclose(got, want, atol=1e-9):
            if not (part == "max_pool" and is_valid_max_pool_gradient(*args, dout, np.asarray(got))):
                return False
    return True


@pytest.mark.parametrize("name", sorted(VERDICTS))
def test_the_fixture_is_what_torch_says(name):
    part, right = VERDICTS[name]
    module = load_fixture(name, part)
    agreements = [_agrees_with_torch(module, part, case, 1) for case in cases_for(part)]
    assert all(agreements) if right else not all(agreements), (name, agreements)
