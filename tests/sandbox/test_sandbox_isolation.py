"""What student code does in the child stays there: patches, lies, imports, files, environment."""

from __future__ import annotations

import builtins
import os
from pathlib import Path

import numpy as np
import pytest

from grader.sandbox import Limits, Ref

REFERENCE = Path(__file__).resolve().parents[2] / "reference"


def test_monkeypatching_in_the_child_does_not_reach_the_parent(session):
    s = session({"cheat.py": """
        import builtins
        import numpy as np
        np.allclose = lambda *a, **k: True
        np.testing.assert_allclose = lambda *a, **k: None
        builtins.abs = lambda x: 0
        def f():
            return bool(np.allclose(1, 2)), abs(-3)
    """})
    assert s.call("cheat", "f").value == (True, 0)  # the child is the student's to break
    assert not np.allclose(1, 2) and abs(-3) == 3 and builtins.abs is abs
    with pytest.raises(AssertionError):
        np.testing.assert_allclose(1, 2)


def test_breaking_the_childs_own_machinery_gives_an_error_result_not_an_exception(session):
    s = session({"wreck.py": """
        import builtins, json
        def f():
            builtins.len = lambda x: 7
            json.dumps = lambda *a, **k: "garbage"
            return 1
    """})
    r = s.call("wreck", "f")
    assert not r.ok and r.kind in ("channel", "result", "crash", "exit")
    assert len([1]) == 1


def test_a_lying_ndarray_subclass_is_sent_as_a_plain_array(session, tmp_path):
    marker = tmp_path / "pwned"
    s = session({"liar.py": f"""
        import numpy as np
        class Liar(np.ndarray):
            def __reduce__(self):
                return (exec, ("open({str(marker)!r}, 'a').write(str(__import__('os').getpid()))",))
            def tobytes(self, *a, **k):
                return b"lies"
            @property
            def T(self):
                raise RuntimeError("no")
        def f():
            return np.arange(4.0).view(Liar)
    """})
    r = s.call("liar", "f")
    assert r.ok and type(r.value) is np.ndarray
    np.testing.assert_array_equal(r.value, np.arange(4.0))
    assert r.notes == ("returned a liar.Liar (a numpy.ndarray subclass); it was sent as a plain numpy.ndarray",)
    assert not marker.exists()


def test_objects_with_a_malicious_reduce_never_run_in_the_parent(session, tmp_path):
    marker = tmp_path / "pwned"
    s = session({"evil.py": f"""
        import numpy as np
        class Evil:
            def __reduce__(self):
                return (exec, ("open({str(marker)!r}, 'a').write(str(__import__('os').getpid()))",))
        def f():
            return {{"out": Evil(), "objects": np.array([Evil()], dtype=object)}}
    """})
    r = s.call("evil", "f")
    assert r.ok
    assert isinstance(r.value["out"], Ref) and r.value["out"].description == "an object of type evil.Evil"
    assert isinstance(r.value["objects"], Ref) and "dtype object" in r.value["objects"].description
    assert not marker.exists() or str(os.getpid()) not in marker.read_text()


def test_a_torch_tensor_comes_back_as_a_description(session):
    s = session({"t.py": "import torch\ndef f():\n    return torch.ones(2, 3)\n"},
                limits=Limits(call_timeout_s=20, memory_mb=None), preload=("numpy", "torch"))
    r = s.call("t", "f")
    assert r.ok and isinstance(r.value, Ref)
    assert r.value.type_name == "torch.Tensor"
    assert r.value.description == "a torch.Tensor of shape (2, 3) and dtype torch.float32"


def test_writing_to_the_reply_channel_ends_the_session_cleanly(session):
    s = session({"forge.py": """
        import os, socket
        def f():
            for fd in os.listdir("/proc/self/fd"):
                try:
                    if os.readlink(f"/proc/self/fd/{fd}").startswith("socket:"):
                        os.write(int(fd), b"\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x05junk!")
                except OSError:
                    pass
            return 1
    """})
    r = s.call("forge", "f")
    assert not r.ok and r.kind == "channel" and "tampered" in r.error
    assert not s.alive


def test_the_grader_is_never_importable_and_imports_can_be_limited(session):
    s = session({"imp.py": """
        from builtins import range
        import json, collections
        def grader():
            import grader.reference
        def sneaky():
            exec("import grader")
        def torch():
            import torch
        def numpy():
            import numpy
            from numpy.lib.stride_tricks import sliding_window_view
            return numpy.__name__
    """}, allowed_modules={"numpy"})
    r = s.call("imp", "grader")
    assert r.error == ("ModuleNotFoundError: not allowed in the grader's sandbox: tried to import the grader "
                       "(grader.reference) (imp.py, line 5)"), r
    assert [e.code for e in r.events] == ["grader"]
    r = s.call("imp", "sneaky")
    assert r.kind == "exception" and [e.code for e in r.events] == ["grader"]
    assert s.call("imp", "torch").error == ("ModuleNotFoundError: importing 'torch' is not allowed here "
                                            "(allowed: numpy, and the standard library) (imp.py, line 9)")
    assert s.call("imp", "numpy").value == "numpy"


def test_the_child_works_in_a_copy_with_a_stripped_environment(session, submission, monkeypatch):
    monkeypatch.setenv("GRADER_SECRET", "hunter2")
    s = session({"env.py": """
        import os, sys
        def f():
            try:
                open("conv.py", "w").write("overwritten")
            except OSError:
                pass
            return sorted(os.environ), os.getcwd(), os.environ["OMP_NUM_THREADS"], sys.flags.isolated
    """, "conv.py": "original"})
    r = s.call("env", "f")
    names, cwd, threads, isolated = r.value
    assert [e.code for e in r.events] == ["write"]  # its own copy is not for writing either
    assert "GRADER_SECRET" not in names and "PYTHONPATH" not in names
    assert threads == "1" and isolated == 1
    original = s.submission_dir
    assert Path(cwd) != original and (original / "conv.py").read_text() == "original"


def test_call_trusted_imports_a_file_with_its_siblings(session):
    from grader.reference import numpy_fast

    s = session({"conv.py": "def conv_forward(x, w, b, p):\n    return x\n"})
    rng = np.random.default_rng(0)
    x, w, b = rng.normal(size=(2, 3, 5, 5)), rng.normal(size=(4, 3, 3, 3)), rng.normal(size=4)
    param = {"stride": 1, "pad": 1}
    assert s.call("conv", "conv_forward", (x, w, b, param)).ok
    r = s.call_trusted(REFERENCE / "numpy_fast.py", "conv_forward", (x, w, b, param), repeat=3)
    assert r.ok, r.error
    assert len(r.durations) == 3
    assert r.notes == ("student code ran earlier in this process and may have changed it",)
    np.testing.assert_allclose(r.value[0], numpy_fast.conv_forward(x, w, b, param)[0])
    assert "trusted code is loaded" in s.call("conv", "conv_forward", (x, w, b, param)).notes[0]
    with pytest.raises(ValueError, match=".py file"):
        s.call_trusted(REFERENCE / "missing.py", "f")


def test_submission_files_cannot_stand_in_for_numpy_or_the_childs_own_modules(session):
    s = session({
        "numpy.py": "raise RuntimeError('fake numpy')\n",
        "json.py": "raise RuntimeError('fake json')\n",
        "socket.py": "raise RuntimeError('fake socket')\n",
        "conv.py": "import numpy as np\ndef f(x):\n    return np.asarray(x) * 2, np.__file__.endswith('numpy.py')\n",
    })
    r = s.call("conv", "f", ([1, 2],))
    assert r.ok, r.error
    np.testing.assert_array_equal(r.value[0], [2, 4])
    assert r.value[1] is False
