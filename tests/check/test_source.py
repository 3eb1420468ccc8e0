"""``grader.checks.source``: what a graded function's syntax tree says about the indices it writes
the output at (or reads dout at), and whether it already adds into dx.  Each case is a small
function written the way real solutions write it; the facts are checked against what a reader of
that code sees (the line, the name, the formula), and right code gets no story at all."""

from __future__ import annotations

import os
import textwrap

import pytest

from grader.checks import integrity, source


def _function(tmp_path, code: str, name: str):
    (tmp_path / "layers.py").write_text(textwrap.dedent(code))
    parsed = source.read(tmp_path, "layers.py")
    assert parsed is not None
    return parsed.function(name)


FORMULA = """
import numpy as np

def pool_forward(x, pool_param):
    N, C, H, W = x.shape
    ph, pw, S = pool_param['pool_height'], pool_param['pool_width'], pool_param['stride']
    out_h = (H - ph) // S + 1
    out = np.zeros((N, C, out_h, (W - pw) // S + 1))
    for h in range(0, H - ph + 1, S):
        for w in range(0, W - pw + 1, S):
            out_h = int((h - ph) / S + 1)
            out[:, :, out_h, w // S] = x[:, :, h:h + ph, w:w + pw].max(axis=(2, 3))
    return out, (x, pool_param)
"""


def test_an_output_index_computed_from_a_window_start_is_named_with_its_line(tmp_path):
    fn = _function(tmp_path, FORMULA, "pool_forward")
    assert fn.returned() == ["out", ""]  # (x, pool_param) is no name
    told = fn.indices("out", store=True)
    # the name reused as an index: the assignment read is the one inside the loops (line 11), not the size
    assert told == ("out is written at line 12 at an index where out_h = int((h - ph) / S + 1) (line 11), computed "
                    "from the window's start h; a window starting at h is at output position h // stride")
    assert fn.indices("out", store=True, wrong_only=True) == told  # wrong on its own: not only suspect
    assert fn.indices("out", store=True, line=11) is None  # nothing written at line 11


def test_a_start_divided_by_the_stride_is_right_and_gets_no_story(tmp_path):
    fn = _function(tmp_path, FORMULA.replace("int((h - ph) / S + 1)", "h // S"), "pool_forward")
    assert fn.indices("out", store=True) is None
    fn = _function(tmp_path, FORMULA.replace("int((h - ph) / S + 1)", "int(h / S)"), "pool_forward")
    assert fn.indices("out", store=True) is None


COUNTERS = """
def conv_forward(x, w, b, conv_param):
    out = make(x, w)
    idx = 0
    for row in range(0, x.shape[2], conv_param['stride']):
        idy = 0
        for col in range(0, x.shape[3], conv_param['stride']):
            out[:, :, idx, idy] = 1.0
            idy += 1
        idx += 1
    return out, (x, w, b, conv_param)
"""


def test_counters_are_suspect_but_not_wrong_on_their_own(tmp_path):
    fn = _function(tmp_path, COUNTERS, "conv_forward")
    told = fn.indices("out", store=True, line=8)
    assert told == ("out is written at line 8 at an index where idx is a counter (idx += ... at line 10, set at "
                    "line 4); and idy is a counter (idy += ... at line 9, set at line 6)")
    # counters may well be right: never said where nothing else shows the placement is wrong
    assert fn.indices("out", store=True, wrong_only=True) is None


def test_a_window_start_used_as_the_output_index_and_loops_over_the_window(tmp_path):
    code = """
    def pool_forward(x, pool_param):
        p_H = pool_param['pool_height']
        p_W = pool_param['pool_width']
        stride = pool_param['stride']
        out = zeros()
        for i in range(p_H):
            for top in range(0, 9, stride):
                out[:, :, i, top] = 0
        return out, None
    """
    fn = _function(tmp_path, code, "pool_forward")
    told = fn.indices("out", store=True)
    assert "i runs over range(p_H) (line 7), the window's size, not over the output positions" in told
    assert "top steps by the stride (line 8: for top in range(0, 9, stride)) and places the output" in told
    assert told.endswith("the output positions are range(H') for the rows, range(W') for the columns")


def test_plain_loops_over_the_output_get_no_story(tmp_path):
    code = """
    def pool_forward(x, pool_param):
        H_out, W_out = 3, 4
        out = zeros()
        for i in range(H_out):
            for j in range(0, W_out, 1):
                out[:, :, i, j] = 0
        return out, None
    """
    fn = _function(tmp_path, code, "pool_forward")
    assert fn.indices("out", store=True) is None


@pytest.mark.parametrize("line, adds", [
    ("dx[n, c, h:h + ph, w:w + pw] += mask * dout[n, c, i, j]", True),
    ("dx[n, c, h:h + ph, w:w + pw] = dx[n, c, h:h + ph, w:w + pw] + mask * dout[n, c, i, j]", True),
    ("np.add.at(dx, (n, c, rows, cols), dout[n, c, i, j])", True),
    ("dx[n, c, h:h + ph, w:w + pw] = mask * dout[n, c, i, j]", False),
    ("other[n, c, h:h + ph, w:w + pw] += mask", False),  # adds, but not into dx
])
def test_whether_the_backward_adds_into_dx(tmp_path, line, adds):
    code = f"""
    import numpy as np

    def pool_backward(dout, cache):
        dx = np.zeros(shape)
        other = np.zeros(shape)
        for i in range(3):
            {line}
        return dx
    """
    fn = _function(tmp_path, code, "pool_backward")
    assert fn.adds(fn.sources_of(fn.returned()[0])) == (8 if adds else None)


def test_adding_into_the_array_dx_is_cut_from_counts(tmp_path):
    code = """
    def conv_backward(dout, cache):
        dx_pad = zeros()
        for i in range(3):
            dx_pad[:, :, i] += 1
        dx = dx_pad[:, :, pad:-pad, pad:-pad]
        return dx, dw, db
    """
    fn = _function(tmp_path, code, "conv_backward")
    assert fn.sources_of("dx") >= {"dx", "dx_pad"}
    assert fn.adds(fn.sources_of("dx")) == 5


def test_the_last_definition_is_the_one_python_runs(tmp_path):
    code = """
    def pool_forward(x, pool_param):
        return 1, 2

    def pool_forward(x, pool_param):
        out = 0
        return out, None
    """
    (tmp_path / "layers.py").write_text(textwrap.dedent(code))
    fn = source.read(tmp_path, "layers.py").function("pool_forward")
    assert fn.node.lineno == 5 and fn.returned() == ["out", ""]


def test_files_not_read_give_no_facts(tmp_path):
    assert source.read(tmp_path, "missing.py") is None
    (tmp_path / "py2.py").write_text("print 'python 2'\n")
    assert source.read(tmp_path, "py2.py") is None  # a SyntaxError: nothing to point at
    (tmp_path / "big.py").write_text("x = 1\n" * (integrity.INLINE_BYTES // 6 + 1))
    assert source.read(tmp_path, "big.py") is None  # over the scan's inline bound: never parsed here
    (tmp_path / "real.py").write_text("def f():\n    return 1\n")
    os.symlink(tmp_path / "real.py", tmp_path / "link.py")
    assert source.read(tmp_path, "link.py") is None  # a link could name any file of the machine
    (tmp_path / "deep.py").write_text("x = " + "(" * 300 + "1" + ")" * 300 + "\n")
    assert source.read(tmp_path, "deep.py") is None  # the parser refuses deep nesting: no facts, no crash
    assert source.read(tmp_path, "real.py").function("absent") is None


CERTAIN = """
import numpy as np

def pool_forward(x, pool_param):
    N, C, W, H = x.shape
    ph, pw = pool_param['pool_height'], pool_param['pool_width']
    stride = pool_param['stride']
    out = np.zeros((N, C, H_o * H_o))
    for i in range(H // ph):
        for j in range(x.shape[3] // stride):
            out[:, :, i * W_o + j] = 0
    if stride == ph and H % ph == 0:
        tiles = H // ph  # a guarded fast path: may be right
        alloc = np.zeros((N, C, tiles, tiles))
    return out, None

def pool_backward(dout, cache):
    x, pool_param = cache
    pool_height, pool_width = pool_param['pool_height'], pool_param['pool_width']
    for h in range(6):
        for w in range(6):
            dx[0, 0, h, w] = dout[0, 0, h // pool_height, w // pool_width]
    return dx
"""


def test_lines_wrong_whatever_the_case_are_named_and_guarded_code_is_not(tmp_path):
    forward = _function(tmp_path, CERTAIN, "pool_forward").certain()
    assert forward[0].startswith("lines 9, 10: H // ph and x.shape[3] // stride count the windows as if they "
                                 "tiled the input")
    assert "line 5: N, C, W, H = x.shape takes the height as W and the width as H" in forward[1]
    assert "line 8: np.zeros((N, C, H_o * H_o)) allocates H_o * H_o, one side for both" in forward[2]
    assert len(forward) == 3  # nothing from under the `if` (lines 13-14)
    backward = _function(tmp_path, CERTAIN, "pool_backward").certain()
    assert backward == [backward[0]] and backward[0].startswith(
        "line 22: dout is read at h // pool_height and w // pool_width: an element's window is not found by dividing")


def test_right_size_formulas_are_not_named(tmp_path):
    code = """
    import numpy as np

    def conv_forward(x, w, b, conv_param):
        N, C, H, W = x.shape
        F, _, HH, WW = w.shape
        stride, pad = conv_param['stride'], conv_param['pad']
        H_out = 1 + (H + 2 * pad - HH) // stride
        W_out = int((W + 2 * pad - WW) / stride) + 1
        out = np.zeros((N, F, H_out, W_out))
        for i in range(H_out):
            for j in range(W_out):
                out[:, :, i, j] = 0
        return out, (x, w, b, conv_param)
    """
    assert _function(tmp_path, code, "conv_forward").certain() == []


@pytest.mark.parametrize("padded, axes", [("x", 4), ("x[n]", 3), ("x[n, :]", 3), ("x[n, c]", 0), ("x[n, c, :, :]", 0)])
def test_np_pad_with_one_width_pads_every_axis_of_x_or_a_sample(tmp_path, padded, axes):
    code = f"""
    import numpy as np

    def conv_forward(x, w, b, conv_param):
        p = conv_param['pad']
        for n in range(2):
            for c in range(3):
                xp = np.pad({padded}, p)
        return xp, None
    """
    told = _function(tmp_path, code, "conv_forward").certain()
    if axes:
        which = "batch and channels" if axes == 4 else "channels"
        assert told == [f"line 8: np.pad({padded}, p) pads every axis of a {axes}-axis array, the {which} too: pad "
                        "only the height and width, np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))"]
    else:  # one image's one channel, (H, W): padding every axis is right
        assert told == []


def test_two_sizes_unpacked_into_one_name_are_named(tmp_path):
    code = """
    def conv_forward(x, w, b, conv_param):
        (f, f, n_C_prev, n_C) = w.shape
        F, _, _, _ = w.shape
        return f, None
    """
    told = _function(tmp_path, code, "conv_forward").certain()
    assert told == ["line 3: f, f, n_C_prev, n_C = w.shape gives two sizes one name, f: the second overwrites the "
                    "first, so both are taken as equal (right only for square kernels or windows)"]  # `_` is fine


@pytest.mark.parametrize("line, told", [
    ("dx[n, c, i * s:i * s + ph, j * s:j * s + pw] = mask * dout[n, c, i, j]", True),  # a window assigned
    ("dx[n, c, i * s + r, j * s + q] = dout[n, c, i, j]", True),  # the maximum's element assigned
    ("dx[n, c][i * s:i * s + ph, j * s:j * s + pw] = mask * dout[n, c, i, j]", True),
    ("dx[n, c, i * s:i * s + ph, j * s:j * s + pw] += mask * dout[n, c, i, j]", False),  # adds: right
    ("dx[n, c] = total", False),  # a whole image at a time: no window
    ("cols[:, i * 4:(i + 1) * 4] = dout[n, c, i, j]", False),  # a buffer another function sums (col2im)
])
def test_a_backward_assigning_window_by_window_is_named(tmp_path, line, told):
    code = f"""
    def pool_backward(dout, cache):
        dx = zeros()
        cols = zeros()
        for n in range(2):
            for c in range(2):
                for i in range(3):
                    for j in range(3):
                        {line}
        return dx
    """
    said = _function(tmp_path, code, "pool_backward").overwrites()
    assert (said is not None) == told, said
    if told:
        assert said.startswith("line 9: dx[") and "a later window overwrites" in said and said.endswith("(+=)")


@pytest.mark.parametrize("line, told", [
    ("mask = (x[n, c] == m)", True),  # a whole channel
    ("mask = np.abs(x - np.max(x[:, :, i:i + 2, j:j + 2], axis=(2, 3), keepdims=True)) < 1e-10", True),
    ("mask = (x[n, c, i:i + 2, j:j + 2] == m)", False),  # the window: right
    ("mask = (x[n, c] == 0)", False),  # not a maximum
])
def test_a_maximum_matched_against_all_of_x_is_named(tmp_path, line, told):
    code = f"""
    import numpy as np

    def pool_backward(dout, cache):
        x, pool_param = cache
        for i in range(2):
            m = np.max(x[0, 0, i:i + 2, 0:2])
            {line}
        return dx
    """
    said = _function(tmp_path, code, "pool_backward").certain()
    assert bool(said) == told, said
    if told:
        assert said[0].startswith("line 8: ") and "compares the window's maximum with all of x" in said[0]


@pytest.mark.parametrize("call, told", [
    ("w[f, c].reshape(-1, 3, 3)", True), ("w[f].reshape((C, 3, 3))", True),
    ("w[f].reshape(C, HH, WW)", False), ("dout.reshape(N, F, -1)", False), ("w.reshape(4, 1, 1)", False),
])
def test_a_literal_kernel_shape_is_named(tmp_path, call, told):
    code = f"""
    def conv_backward(dout, cache):
        k = {call}
        return k, None, None
    """
    said = _function(tmp_path, code, "conv_backward").certain()
    assert bool(said) == told, said
    if told:
        assert said == [f"line 3: {call} fixes a 3 x 3 shape: right only for that kernel (or window) size; take the "
                        "sizes from w.shape (HH, WW) or pool_param"]


def test_code_made_to_defeat_the_tree_walks_costs_only_its_own_line_feedback(tmp_path):
    # a chain of 900 operators (the parser takes it; ast.unparse recurses once per operator) and names
    # assigned from each other in a cycle (m = n; n = m): no fact is had, and nothing raises
    chain = " + ".join(["0"] * 900)
    code = f"""
    import numpy as np

    def pool_forward(x, pool_param):
        out = np.zeros((1, 1, 2, 2))
        n = m
        m = n
        for i in range(3):
            row = i + {chain}
            out[0, 0, row, 0] = (x[0, 0] == m).sum()
        return out, None
    """
    fn = _function(tmp_path, code, "pool_forward")
    assert fn.certain() == []  # m and n only from each other: no maximum, and the cycle ends
    told = fn.indices("out", store=True)
    assert told == "out is written at line 10 at an index where row = (an expression too long to show) (line 9)"


def test_a_submission_made_to_defeat_the_tree_walks_is_still_graded(tmp_path):
    from pathlib import Path

    from grader.grading import grade_submission

    example = Path(__file__).resolve().parents[2] / "examples" / "submission" / "pool.py"
    source = example.read_text()
    old = "            out[:, :, i, j] = window.max(axis=(2, 3))\n"
    assert source.count(old) == 1
    chain = " + ".join(["0"] * 900)
    source = source.replace(old, f"            row = i + 1 + {chain}\n            if i < 0:  # never runs\n"
                                 "                n = m\n                m = n\n                keep = x == m\n"
                                 "            out[:, :, row, j] = window.max(axis=(2, 3))\n")
    (tmp_path / "pool.py").write_text(source)
    report = grade_submission(tmp_path, parts="max_pool", seed=3, device="cpu",
                              config_path=Path(__file__).resolve().parent / "fast.toml")
    forward = [t for t in report.tests if t.kind == "forward"]
    assert forward and not all(t.passed for t in forward)
    assert any("IndexError" in t.feedback for t in forward)
    assert not any("internal error" in note for note in report.notes), report.notes


def test_a_helper_s_own_x_and_a_width_per_axis_are_not_taken_for_the_layer_s(tmp_path):
    code = """
    import numpy as np

    def pad_channel(x, p):
        return np.pad(x, p)  # a helper's x: one channel, (H, W); padding every axis is right

    def is_max(x):
        return x == np.max(x)  # a helper's x: the window

    def conv_forward(x, w, b, conv_param):
        p = conv_param['pad']
        widths = ((0, 0), (0, 0), (p, p), (p, p))
        x_pad = np.pad(x, widths)  # a width per axis, through a name
        one = np.pad(x, p)  # one width for every axis: wrong
        return pad_channel(x[0, 0], p), is_max(x_pad)
    """
    (tmp_path / "layers.py").write_text(textwrap.dedent(code))
    parsed = source.read(tmp_path, "layers.py")
    said = [text for fn in parsed.reached("conv_forward") for text in fn.certain()]
    assert said == ["line 14: np.pad(x, p) pads every axis of a 4-axis array, the batch and channels too: pad only "
                    "the height and width, np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))"]
