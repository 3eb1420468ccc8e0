"""The layer parts' cases cover the contract: for every part, square and non-square inputs
*and* outputs, odd sizes, a stride other than the window, batches and channels above 1, and
for conv pad 0, 1 and 2; the cases given to cs231n's layout all fit its documented
assumption (the stride fits exactly), and the native layout also gets ones that do not.
Output sizes are checked against torch, not against the cases' own formula."""

from __future__ import annotations

import pytest

from grader.checks.cases import CONV_CASES, POOL_CASES, cases_for

torch = pytest.importorskip("torch")


def _torch_out(part: str, case) -> tuple[int, int]:
    x = torch.zeros(case.x, dtype=torch.float64)
    if part == "conv":
        w = torch.zeros(case.w, dtype=torch.float64)
        out = torch.nn.functional.conv2d(x, w, stride=case.stride, padding=case.pad, dilation=case.dilation)
    else:
        out = torch.nn.functional.max_pool2d(x, (case.pool_height, case.pool_width), case.stride)
    return tuple(out.shape[2:])


@pytest.mark.parametrize("part", ["conv", "max_pool", "avg_pool"])
def test_every_part_covers_the_contract(part):
    cases = cases_for(part)
    outs = {c.name: _torch_out(part, c) for c in cases}
    for c in cases:
        assert c.out == outs[c.name], c.name
    assert any(c.x[2] != c.x[3] for c in cases), "a non-square input"
    assert any(h != w for h, w in outs.values()), "a non-square output"
    assert any(c.x[2] % 2 or c.x[3] % 2 for c in cases), "an odd size"
    window = (lambda c: c.w[2]) if part == "conv" else (lambda c: c.pool_height)
    assert any(c.stride != window(c) for c in cases), "a stride other than the window"
    assert any(c.x[0] > 1 for c in cases) and any(c.x[1] > 1 for c in cases), "a batch and channels"
    if part == "conv":
        assert {0, 1, 2} <= {c.pad for c in cases if c.dilation == 1}, "pad 0, 1 and 2 without dilation"
        assert any(c.w[0] > 1 for c in cases), "several filters"


@pytest.mark.parametrize("part", ["conv", "max_pool"])
def test_cs231n_gets_only_cases_that_fit_exactly(part):
    exact = cases_for(part, with_dilation=False, exact_fit=True)
    assert exact and all(c.divides for c in exact)
    outs = [_torch_out(part, c) for c in exact]
    assert any(h != w for h, w in outs), "cs231n's cases still have a non-square output"
    assert len(cases_for(part)) > len(exact)  # the native layout gets the others too
    assert not [c for c in (CONV_CASES if part == "conv" else POOL_CASES) if not c.divides and c in exact]
    if part == "max_pool":  # windows that overlap and windows with gaps between them, both within cs231n's rule
        assert any(c.stride < min(c.pool_height, c.pool_width) for c in exact)
        assert any(c.stride > max(c.pool_height, c.pool_width) for c in exact)
