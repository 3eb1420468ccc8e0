"""Calling student functions: plain data in and out, output captured apart, errors located."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from grader.errors import InputFileError
from grader.sandbox import CallResult, Limits, Ref, Session

CONV = """
    import numpy as np

    def scale(x, k=2):
        return x * k, {"shape": x.shape, "k": k, "n": np.int64(3), "name": "cache", "raw": b"ab"}

    def mutate(x):
        x += 1
        return x.copy()

    def divide(a):
        return helper(a)

    def helper(a):
        return a / 0
"""


def test_a_correct_function_returns_plain_data(session):
    s = session({"conv.py": CONV})
    x = np.arange(6.0).reshape(2, 3)
    r = s.call("conv", "scale", (x,), {"k": 3})
    assert isinstance(r, CallResult) and r.ok and r.error is None and r.kind is None
    out, cache = r.value
    assert type(out) is np.ndarray and out.dtype == np.float64 and out.flags.writeable
    np.testing.assert_array_equal(out, x * 3)
    assert cache == {"shape": (2, 3), "k": 3, "n": np.int64(3), "name": "cache", "raw": b"ab"}
    assert type(cache["n"]) is np.int64
    assert len(r.durations) == 1 and 0 <= r.duration_s <= r.wall_s


def test_dtypes_and_shapes_survive_the_trip(session):
    s = session({"ident.py": "def same(*a):\n    return a\n"})
    arrays = (np.arange(5, dtype=np.int32), np.zeros((0, 3)), np.array(2.5), np.ones((2, 2), dtype=bool),
              np.asfortranarray(np.arange(6.0).reshape(2, 3)), np.arange(4.0)[::2], np.array(["ab", "c"]),
              np.array([1 + 2j], dtype=np.complex64), np.arange(3, dtype=">f4"))
    r = s.call("ident", "same", arrays + (float("nan"), None, True, [1, (2, 3)], {(1, 2): "t", 3: None}))
    assert r.ok, r.error
    for sent, got in zip(arrays, r.value):
        assert got.dtype == sent.dtype and got.shape == sent.shape
        np.testing.assert_array_equal(got, sent)
    assert np.isnan(r.value[len(arrays)]) and r.value[len(arrays) + 1:] == (None, True, [1, (2, 3)], {(1, 2): "t", 3: None})


def test_inputs_are_copies(session):
    s = session({"conv.py": CONV})
    x = np.zeros(3)
    r = s.call("conv", "mutate", (x,), repeat=3)
    assert r.ok
    np.testing.assert_array_equal(x, np.zeros(3))  # the parent's array is untouched
    np.testing.assert_array_equal(r.value, np.ones(3))  # every repeat got a fresh copy
    assert len(r.durations) == 3 and r.duration_s == min(r.durations)


def test_stray_output_is_captured_and_never_mixes_with_the_result(session):
    s = session({"noisy.py": """
        import os, sys
        print("at import")
        def f(x):
            print("hello stdout")
            print("hello stderr", file=sys.stderr)
            os.write(1, b'{"score": 100}')
            os.write(2, b'\\x00\\xff raw bytes')
            sys.stdout = open(os.devnull, "w")
            return x + 1
    """})
    r = s.call("noisy", "f", (np.ones(2),))
    assert r.ok
    np.testing.assert_array_equal(r.value, [2.0, 2.0])
    assert r.stdout == 'at import\nhello stdout\n{"score": 100}'
    assert r.stderr.startswith("hello stderr\n\x00") and "raw bytes" in r.stderr
    again = s.call("noisy", "f", (np.ones(1),))  # output is per call
    assert again.ok and again.stdout == '{"score": 100}'


def test_output_is_capped_and_a_flood_does_not_block(session):
    s = session({"flood.py": """
        import sys
        def f():
            for _ in range(2000):
                print("x" * 1000)
                sys.stderr.write("e" * 1000)
            return "done"
    """}, limits=Limits(call_timeout_s=10, max_output_bytes=1000))
    r = s.call("flood", "f")
    assert r.ok and r.value == "done"
    assert r.stdout.startswith("x" * 1000) and r.stdout.endswith("[... 2001000 more bytes not shown]")
    assert r.stderr.startswith("e" * 1000) and "more bytes not shown" in r.stderr
    assert "stdout was 2002000 bytes long; only the first 1000 are kept" in r.notes


def test_an_exception_names_the_file_and_the_line(session):
    s = session({"conv.py": CONV})
    r = s.call("conv", "divide", (1.0,))
    assert not r.ok and r.kind == "exception" and r.value is None
    assert r.error == "ZeroDivisionError: float division by zero (conv.py, line 15)"
    assert 'File "conv.py", line 15, in helper' in r.traceback
    assert not any(own in r.traceback for own in ("sandbox/child", "calls.py", "main.py"))  # the child's own frames
    assert s.alive and s.call("conv", "scale", (np.ones(1),)).ok  # an exception does not end the session


def test_an_exception_in_a_sibling_module_names_that_module(session):
    s = session({"conv.py": "from util import g\ndef f():\n    return g()\n", "util.py": "def g():\n    return [][1]\n"})
    r = s.call("conv", "f")
    assert r.error == "IndexError: list index out of range (util.py, line 2)"


def test_a_syntax_error_names_the_file_and_the_line(session):
    s = session({"conv.py": "import numpy as np\n\ndef conv_forward(x)\n    return x\n"})
    r = s.call("conv", "conv_forward", (1,))
    assert not r.ok and r.kind == "import"
    assert r.error == "SyntaxError in conv.py line 3: expected ':'"


def test_import_time_errors_missing_files_and_missing_functions(session):
    s = session({"bad.py": "x = 1\nraise ValueError('no')\n", "conv.py": "y = 2\n",
                 "pool.py": "import scipy_not_here\nscipy_not_here.setup()\n", "helpers.py": "import plot_lib_absent\n"})
    assert s.call("bad", "f").error == "importing bad.py failed: ValueError: no (bad.py, line 2)"
    assert s.call("conv", "conv_forward").error == "conv.py defines no function 'conv_forward'"
    assert s.call("conv", "y").error == "conv.py has a non-callable function 'y'"
    assert s.call("transfer", "build_model").error == "transfer.py was not found in the submission"
    assert s.call("cs231n.layers", "f").error == "cs231n/layers.py was not found in the submission"
    r = s.call("pool", "max_pool_forward")  # a missing library the file uses at import time
    assert r.kind == "import" and r.error.startswith(
        "importing pool.py failed: ModuleNotFoundError: scipy_not_here.setup is not installed in the grader's sandbox")
    assert "(pool.py, line 2)" in r.error
    # one it imports and never uses gets a stand-in: the file imports
    assert s.call("helpers", "f").error == "helpers.py defines no function 'f'"


def test_the_cs231n_layout_imports_as_a_package(session):
    s = session({
        "cs231n/__init__.py": "",
        "cs231n/im2col.py": "def im2col_indices(x):\n    return x.shape\n",
        "cs231n/fast.py": "def twice(x):\n    return 2 * x\n",
        "cs231n/layers.py": """
            from builtins import range
            from builtins import object
            import numpy as np
            from cs231n.im2col import *
            from .fast import twice

            def conv_forward_naive(x, w, b, conv_param):
                out = np.zeros(3)
                for i in range(3):
                    out[i] = i
                return twice(out), (im2col_indices(x), conv_param)
        """,
    })
    for name in ("cs231n.layers", "cs231n/layers.py"):
        r = s.call(name, "conv_forward_naive", (np.ones((1, 2, 3, 3)), None, None, {"stride": 1, "pad": 0}))
        assert r.ok, r.error
        np.testing.assert_array_equal(r.value[0], [0, 2, 4])
        assert r.value[1] == ((1, 2, 3, 3), {"stride": 1, "pad": 0})


def test_objects_that_are_not_plain_data_stay_in_the_child_as_refs(session):
    s = session({"conv.py": """
        class Cache:
            def __init__(self, x):
                self.x = x

        def forward(x):
            return x.sum(), Cache(x), (lambda: 1, [x])

        def backward(dout, cache, item):
            return dout * cache.x, item[0]
    """})
    r = s.call("conv", "forward", (np.arange(3.0),))
    assert r.ok
    total, cache, pair = r.value
    assert total == 3.0 and isinstance(cache, Ref) and cache.type_name == "conv.Cache"
    assert cache.description == "an object of type conv.Cache"
    assert isinstance(pair[0], Ref) and pair[0].type_name == "function"
    back = s.call("conv", "backward", (2.0, cache, pair[1]))
    assert back.ok
    np.testing.assert_array_equal(back.value[0], [0.0, 2.0, 4.0])
    np.testing.assert_array_equal(back.value[1], [0.0, 1.0, 2.0])
    assert s.call("conv", "forward", (cache[0],)).kind == "exception"  # Cache is not subscriptable, in the child


def test_misuse_raises_in_the_parent(session, tmp_path):
    s = session({"conv.py": CONV})
    with pytest.raises(TypeError, match="plain data"):
        s.call("conv", "scale", (object(),))
    with pytest.raises(ValueError, match="module name"):
        s.call("../etc/passwd", "f")
    with pytest.raises(ValueError, match="Python name"):
        s.call("conv", "scale.__globals__")
    with pytest.raises(ValueError, match="repeat"):
        s.call("conv", "scale", (1,), repeat=0)
    with pytest.raises(InputFileError, match="does not exist"):
        Session(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="call_timeout_s"):
        Limits(call_timeout_s=0)
    s.close()
    with pytest.raises(RuntimeError, match="closed"):
        s.call("conv", "scale", (1,))
    s.close()  # twice is fine


def test_refs_belong_to_one_child(session):
    s = session({"conv.py": "def make():\n    return object()\ndef use(o):\n    return 1\n"})
    ref = s.call("conv", "make").value
    assert s.call("conv", "use", (ref,)).value == 1
    s.restart()
    with pytest.raises(TypeError, match="another session"):
        s.call("conv", "use", (ref,))


def test_the_child_does_not_import_torch_unless_asked(session):
    s = session({"probe.py": "import sys\ndef loaded():\n    return sorted(m for m in ('torch', 'grader') if m in sys.modules)\n"})
    assert s.call("probe", "loaded").value == []


def test_a_forked_copy_of_a_session_neither_uses_nor_ends_the_child(session):
    # a batch worker forked from a process that holds a session shares its pipes: the copy must stay
    # out of the way, and collecting it there must not kill the parent's child or remove its folder
    import gc
    import os

    s = session({"conv.py": CONV})
    scratch = s._scratch
    pid = os.fork()
    if pid == 0:  # the copy
        code = 1 if s.alive else 0
        try:
            s.call("conv", "scale", (np.ones(2),))
            code = 2
        except RuntimeError:
            pass
        del s
        gc.collect()
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert s.alive and scratch.is_dir()
    r = s.call("conv", "scale", (np.ones(2),))
    assert r.ok and r.value[0].tolist() == [2.0, 2.0]


EACH = """
    import os
    import numpy as np

    seen = []

    def record(x):
        seen.append(float(x.sum()))
        if x.sum() == 2:
            raise ValueError("two is not allowed")
        if x.sum() == 9:
            os._exit(3)
        return x * 10, len(seen)

    def count():
        return list(seen)

    def bump(x):
        x += 1
        return x.sum()
"""


def test_call_each_makes_every_call_in_order_in_one_request(session):
    s = session({"each.py": EACH})
    results = s.call_each("each", "record", [(np.array([0.5]),), (np.array([1.0]),), (np.array([3.0]),)])
    assert [r.ok for r in results] == [True, True, True] and all(r.error is None for r in results)
    assert [r.value[1] for r in results] == [1, 2, 3]  # one call each, in order
    np.testing.assert_array_equal(np.concatenate([r.value[0] for r in results]), [5.0, 10.0, 30.0])
    assert all(len(r.durations) == 1 for r in results)
    assert s.call("each", "count").value == [0.5, 1.0, 3.0]


def test_call_each_tells_an_exception_as_one_call_would_and_goes_on(session):
    s = session({"each.py": EACH})
    results = s.call_each("each", "record", [(np.array([1.0]),), (np.array([2.0]),), (np.array([4.0]),)])
    alone = s.call("each", "record", (np.array([2.0]),))
    assert [r.ok for r in results] == [True, False, True]
    failed = results[1]
    assert failed.value is None and failed.kind == alone.kind == "exception"
    assert failed.error == alone.error and "two is not allowed" in failed.error and "each.py" in failed.error
    assert failed.traceback == alone.traceback
    assert s.call("each", "count").value == [1.0, 2.0, 4.0, 2.0]


def test_call_each_where_a_call_ends_the_child_gives_what_came_before_and_that_call(session):
    s = session({"each.py": EACH})
    s.call("each", "count")  # (imported: every call below goes in the one request)
    results = s.call_each("each", "record", [(np.array([1.0]),), (np.array([9.0]),), (np.array([1.0]),)])
    assert not s.alive  # (the caller restarts, then makes the rest alone)
    s.restart()
    alone = s.call("each", "record", (np.array([9.0]),))
    assert [r.ok for r in results] == [True, False]  # as made alone: the first, then the one that ends the child
    assert results[1].kind == alone.kind == "exit" and results[1].error == alone.error
    assert [e.code for e in results[1].events] == [e.code for e in alone.events] == ["exit"]


def test_call_each_makes_the_first_call_into_a_module_alone(session):
    s = session({"each.py": "print('importing')\n" + textwrap.dedent(EACH)})
    results = s.call_each("each", "record", [(np.array([1.0]),), (np.array([3.0]),)])
    assert [r.ok for r in results] == [True, True]
    assert results[0].stdout == "importing\n" and results[1].stdout == ""  # as two calls would tell it


def test_call_each_stops_after_a_call_that_exits_or_runs_out_of_memory(session):
    s = session({"each.py": EACH + "\n    def leave(x):\n        raise SystemExit(2)\n"})
    s.call("each", "count")
    results = s.call_each("each", "leave", [(np.zeros(1),), (np.zeros(1),)])
    assert len(results) == 1 and results[0].kind == "exit"
    assert any(e.code == "exit" for e in results[0].events)


def test_call_each_gives_nothing_where_output_or_a_changed_input_cannot_be_told_apart(session):
    s = session({"each.py": EACH + "\n    def loud(x):\n        print('hello')\n        return x\n"})
    s.call("each", "count")
    assert s.call_each("each", "loud", [(np.zeros(1),), (np.zeros(1),)]) == []
    assert s.call_each("each", "bump", [(np.zeros(2),), (np.zeros(2),)]) == []  # the guard said so
    x = np.zeros(2)
    alone = s.call("each", "bump", (x,))
    assert alone.value == 2.0 and any(e.code == "mutated-input" for e in alone.events)
    np.testing.assert_array_equal(x, np.zeros(2))


def test_call_each_refuses_what_is_not_a_list_of_calls(session):
    s = session({"each.py": EACH})
    for bad in ([], (np.zeros(1),), [np.zeros(1)], None):
        with pytest.raises(TypeError):
            s.call_each("each", "record", bad)


def test_call_each_leaves_a_function_that_printed_to_calls_made_one_by_one(session, monkeypatch):
    s = session({"each.py": EACH + "\n    def loud(x):\n        print('hello')\n        return x\n"})
    s.call("each", "count")
    assert s.call_each("each", "loud", [(np.zeros(1),), (np.zeros(1),)]) == []  # printed: made alone after all
    monkeypatch.setattr(Session, "_each", lambda *a, **k: pytest.fail("a function that printed went together"))
    assert s.call_each("each", "loud", [(np.zeros(1),), (np.zeros(1),)]) == []
    assert s.call("each", "loud", (np.zeros(1),)).stdout == "hello\n"
