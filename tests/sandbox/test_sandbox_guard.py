"""The guard (an audit hook in the child) and the user switch: what student code may not do
even where the OS walls are missing, and how each attempt is reported as an ``Event``."""

from __future__ import annotations

import os
import uuid

import numpy as np
import pytest

from grader.sandbox import Limits
from grader.sandbox.session import NOTICES, OPEN_RULES, VIOLATIONS, Rules, sandbox_user

from sandbox_helpers import FAST, needs_proc, processes_with

ATTEMPTS = '''
import os, signal, socket, subprocess, sys

def imports(name):
    __import__(name)

def use(name):
    import importlib
    return importlib.import_module(name).reader([])

def real(name):
    sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "_ForbiddenFinder"]
    sys.modules.pop(name, None)
    return __import__(name).reader([])

def exec_import(name):
    exec(f"import {name}")

def aliased_import(name):
    f = getattr(__builtins__, "__import__", None) or __builtins__["__import__"]
    return f(name)

def spawn():
    return subprocess.run(["true"]).returncode

def fork():
    return os.fork()

def system():
    return os.system("true")

def kill_parent():
    os.kill(os.getppid(), signal.SIGTERM)

def kill_group():
    os.killpg(0, signal.SIGTERM)

def connect():
    socket.create_connection(("127.0.0.1", 9), timeout=1)

def udp():
    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("10.0.0.1", 53))

def ctypes_call():
    import ctypes
    return ctypes.CDLL(None).getpid()

def walk_objects():
    import gc
    return len(gc.get_objects())

def write(path):
    with open(path, "w") as f:
        f.write("x")

def mkdir(path):
    os.mkdir(path)

def read(path):
    with open(path) as f:
        return f.read()

def write_tmpdir():
    path = os.path.join(os.environ["TMPDIR"], "ok.txt")
    with open(path, "w") as f:
        f.write("fine")
    with open(path) as f:
        return f.read()
'''


def codes(result) -> list[str]:
    return [e.code for e in result.events]


@pytest.mark.parametrize("function, code", [
    ("spawn", "process"), ("fork", "process"), ("system", "process"),
    ("kill_parent", "signal"), ("kill_group", "signal"),
    ("connect", "network"), ("udp", "network"),
    ("ctypes_call", "native-code"), ("walk_objects", "tamper"),
])
def test_each_attempt_is_refused_and_reported(session, function, code):
    s = session({"attempts.py": ATTEMPTS})
    r = s.call("attempts", function)
    assert not r.ok and r.kind == "exception", r
    assert "not allowed in the grader's sandbox" in r.error and "attempts.py" in r.error, r.error
    assert codes(r) == [code] and s.events == list(r.events)
    assert s.alive and s.call("attempts", "write_tmpdir").value == "fine"  # the session goes on
    assert code in VIOLATIONS


@pytest.mark.parametrize("function", ["imports", "exec_import", "aliased_import"])
def test_forbidden_modules_are_refused_however_imported(session, function):
    """Importing a forbidden library, however spelled, gives the sandbox's stand-in (a file that
    imports it and never uses it still loads); using it is refused and reported; dropping the
    stand-in to import the real library is refused and reported too."""
    s = session({"attempts.py": ATTEMPTS}, rules=Rules(forbidden_modules=("csv", "xml.dom")))
    for name in ("csv", "xml.dom.minidom"):
        r = s.call("attempts", function, (name,))
        assert r.ok and set(codes(r)) == {"stand-in"} and f"imported {name}" in str(r.events), r
        r = s.call("attempts", "use", (name,))
        assert r.error.startswith("ModuleNotFoundError: not allowed in the grader's sandbox: "
                                  f"{name}.reader belongs to a forbidden library"), r.error
        assert codes(r) == ["forbidden-import"]
    s.restart()
    # the finder of stand-ins dropped: the real module loads here (csv is no package whose files the
    # session hides, as it hides torch's), and that is reported as importing it
    r = s.call("attempts", "real", ("csv",))
    assert "forbidden-import" in codes(r) and any("imported a forbidden library at run time: csv" in e.detail
                                                  for e in r.events), r
    assert s.call("attempts", function, ("xml.sax",)).ok  # a sibling of a forbidden submodule is fine


def test_a_run_time_import_is_seen_after_calls_that_imported_nothing(session):
    """The child works out the loaded modules again only when sys.modules changed: calls that
    import nothing reuse it, and the first that does is still caught."""
    s = session({"attempts.py": ATTEMPTS + "\ndef nothing():\n    return 1\n"}, rules=Rules(forbidden_modules=("csv",)))
    for _ in range(3):
        r = s.call("attempts", "nothing")
        assert r.ok and r.events == (), r
    r = s.call("attempts", "real", ("csv",))
    assert any("imported a forbidden library at run time: csv" in e.detail for e in r.events), r
    assert s.call("attempts", "nothing").ok


def test_writes_outside_tmpdir_are_refused_and_reads_of_protected_folders_too(session, tmp_path):
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "answer.py").write_text("ANSWER = 42\n")
    s = session({"attempts.py": ATTEMPTS}, protected=(secret,))
    for function, args in (("write", (str(tmp_path / "planted.txt"),)), ("write", ("mine.txt",)),
                           ("mkdir", (str(tmp_path / "d"),))):
        r = s.call("attempts", function, args)
        assert codes(r) == ["write"] and "wrote outside its scratch folder" in r.error, r
    assert not (tmp_path / "planted.txt").exists() and not (tmp_path / "d").exists()
    r = s.call("attempts", "read", (str(secret / "answer.py"),))
    assert codes(r) == ["grader"] and "tried to read the grader's files" in r.error
    assert s.call("attempts", "write", ("/dev/null",)).ok
    assert s.call("attempts", "write_tmpdir").value == "fine"
    assert "write" in NOTICES  # refused, reported, not punished


def test_open_rules_switch_the_guard_off(session):
    s = session({"attempts.py": ATTEMPTS}, rules=OPEN_RULES)
    assert s.call("attempts", "spawn").value == 0 and s.events == []


def test_a_replaced_comparison_function_is_reported_once(session):
    s = session({"patch.py": """
        import builtins
        import numpy as np
        np.allclose = lambda *a, **k: True
        builtins.abs = lambda x: 0
        def f():
            import numpy.testing
            numpy.testing.assert_allclose = lambda *a, **k: None
            return 1
        def g():
            return 2
    """})
    r = s.call("patch", "f")
    assert r.ok and sorted(e.detail for e in r.events) == [
        "replaced builtins.abs", "replaced numpy.allclose", "replaced numpy.testing.assert_allclose"]
    assert s.call("patch", "g").events == ()  # reported once per session
    assert {e.code for e in s.events} == {"monkeypatch"}


def test_objects_that_lie_and_inputs_changed_in_place_are_reported(session):
    s = session({"lies.py": """
        import numpy as np
        class Liar(np.ndarray):
            def __eq__(self, other):
                return True
        class Shifty:
            calls = 0
            def __array__(self, dtype=None, copy=None):
                Shifty.calls += 1
                return np.full(3, Shifty.calls, dtype=float)
        def liar(x):
            return np.zeros_like(x).view(Liar)
        def shifty(x):
            return Shifty()
        def mutate(x, params):
            x[...] = 0
            params["stride"] = 99
            return x.sum()
    """})
    x = np.arange(4.0)
    r = s.call("lies", "liar", (x,))
    assert type(r.value) is np.ndarray and codes(r) == ["lying-object"] and "subclass" in r.events[0].detail
    r = s.call("lies", "shifty", (x,))
    assert codes(r) == ["lying-object"] and "not a numpy array" in r.events[0].detail
    r = s.call("lies", "mutate", (x, {"stride": 1}))
    assert r.value == 0 and sorted(e.detail for e in r.events) == [
        "mutate changed its input params in place", "mutate changed its input x in place"]
    assert x.tolist() == [0.0, 1.0, 2.0, 3.0]  # the parent's copy is untouched


def test_fake_results_and_floods_on_the_output_are_reported(session):
    s = session({"noise.py": """
        import sys
        def fake():
            print('{"score": 100, "max_score": 100, "tests": []}')
            print("All tests passed", file=sys.stderr)
            return 1
        def flood():
            sys.stdout.write("x" * 100_000)
            return 1
        def honest():
            print("debug: the score is low, 3 tests failed")
            return 1
    """})
    r = s.call("noise", "fake")
    assert r.ok and codes(r) == ["fake-results", "fake-results"]
    assert codes(s.call("noise", "flood")) == ["output"]
    assert s.call("noise", "honest").events == ()


def test_exits_interrupts_and_timeouts_become_events(session):
    s = session({"bad.py": """
        import os, sys, time
        def leave():
            sys.exit(0)
        def interrupt():
            raise KeyboardInterrupt
        def hard():
            os._exit(3)
        def hang():
            time.sleep(100)
    """})
    assert codes(s.call("bad", "leave")) == ["exit"]
    assert codes(s.call("bad", "interrupt")) == ["interrupt"]
    assert codes(s.call("bad", "hard")) == ["exit"]
    s.restart()
    assert codes(s.call("bad", "hang")) == ["timeout"]
    assert [e.code for e in s.events] == ["exit", "interrupt", "exit", "timeout"]  # kept across restarts


@pytest.mark.skipif(sandbox_user() is None, reason="the grader is not root, or has no sandbox user")
def test_as_root_the_child_switches_user_or_says_why(session):
    s = session({"who.py": "import os\ndef uid():\n    return os.getuid(), os.geteuid()\n"})
    user = s.protections["user"]
    if user.startswith("uid "):
        uid = sandbox_user()["uid"]
        assert s.call("who", "uid").value == (uid, uid)
    else:  # Python or a library folder is closed to the sandbox's user: root without capabilities
        assert user.startswith("root, every capability dropped (not "), user


@needs_proc
@pytest.mark.skipif(sandbox_user() is None, reason="RLIMIT_NPROC binds only when the child is another user")
def test_a_native_fork_bomb_is_held_by_the_process_limit_and_dies_with_the_session(session):
    marker = f"grader-forkbomb-{uuid.uuid4().hex[:8]}"
    s = session({"bomb.py": f"""
        import ctypes, os, time
        def bomb():
            libc = ctypes.CDLL(None, use_errno=True)
            made = 0
            for _ in range(400):  # bounded: fork() through libc bypasses Python's audit hooks
                pid = libc.fork()
                if pid == 0:
                    os.execv("/bin/sleep", ["sleep", "60", "{marker}"])
                if pid < 0:
                    break
                made += 1
            return made
    """}, limits=Limits(call_timeout_s=20.0, total_timeout_s=60.0, memory_mb=512, processes=32), rules=OPEN_RULES)
    if not s.protections["user"].startswith("uid "):
        pytest.skip(f"the child stayed root here: {s.protections['user']}")
    made = s.call("bomb", "bomb").value
    assert made is not None and made < 32, made  # the limit counts every process of that user
    s.close()
    assert processes_with(marker) == []


def test_reads_outside_the_sessions_view_are_refused(session, tmp_path):
    """Another checkout of the grader, a home folder, another course: only Python, its libraries,
    the grader's own code and the scratch folder are in view (plus the system's folders)."""
    s = session({"attempts.py": ATTEMPTS})
    outside = [p for p in ("/home", "/root", "/srv", "/opt", "/work") if os.path.isdir(p)]
    for folder in outside[:2]:
        r = s.call("attempts", "read", (os.path.join(folder, "anything.txt"),))
        # refused by the guard (where namespaces work, the folder is also covered by an empty tmpfs)
        assert codes(r) == ["read"] and "outside its sandbox" in r.error, r
    r = s.call("attempts", "read", ("/etc/hostname",))  # the system's folders stay readable: no event
    assert r.events == () and (r.ok or "FileNotFoundError" in r.error), r
    assert "read" in VIOLATIONS


# ---------------------------------------------------------------- the guard cannot be argued with

SWITCH_OFF = '''
import builtins, os, sys

def events_fd():
    """The guard's pipe: the one writable pipe beside stdout and stderr."""
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        try:
            link = os.readlink(f"/proc/self/fd/{fd}")
            with open(f"/proc/self/fdinfo/{fd}") as f:
                flags = int(f.read().split("flags:")[1].split()[0], 8)
        except OSError:
            continue
        if fd > 2 and link.startswith("pipe:") and flags & 1:
            return fd

class Key:
    ran = []
    def __fspath__(self):
        Key.ran.append(sys._getframe(1).f_code.co_name)
        return "/etc/hostname"

def fspath():
    try:
        sys.audit("open", Key(), "r", 0)
    except PermissionError:
        pass
    return Key.ran

def flip_everything():
    """Rebind and empty everything a refusal's traceback reaches: the hook's frame, its module's
    globals, every guard-like module, builtins; then try again what it refused."""
    try:
        open("/etc/grader-sandbox-test-never", "w")
    except PermissionError as exc:
        tb = exc.__traceback__
    while tb is not None:
        frame = tb.tb_frame
        for table in (frame.f_locals, frame.f_globals):
            for name, value in list(table.items()):
                if isinstance(value, (list, dict, set)) and table is not frame.f_globals or name.isupper():
                    table[name] = type(value)() if isinstance(value, (list, dict, set, tuple, frozenset, str)) else None
        tb = tb.tb_next
    for name, module in list(sys.modules.items()):
        if "guard" in name:
            for attr, value in list(vars(module).items()):
                if attr.isupper():
                    setattr(module, attr, type(value)() if isinstance(value, (tuple, frozenset, dict)) else 0)
            try:
                module.install_guard(None, 1, 0, (), ())
            except Exception:
                pass
    kept = builtins.type, builtins.len
    builtins.type, builtins.len = (lambda obj: str), (lambda obj: 0)
    try:
        open("/etc/grader-sandbox-test-never", "w")
        return "written"
    except PermissionError as exc:
        return str(exc)
    finally:
        builtins.type, builtins.len = kept  # (the child's own replies need them)

def silence():
    os.dup2(os.open("/dev/null", os.O_WRONLY), events_fd())
    open("/etc/grader-sandbox-test-never", "x")

def scribble():
    os.write(events_fd(), b"write\\tall good\\nnot a line of the guard's\\n")
    return 1

def refused_then_exit():
    try:
        open("/etc/grader-sandbox-test-never", "x")
    except PermissionError:
        pass
    os._exit(3)
'''


def test_the_guard_never_calls_what_a_student_hands_it(session):
    s = session({"off.py": SWITCH_OFF})
    r = s.call("off", "fspath")
    assert r.value == [] and codes(r) == ["tamper"], r  # __fspath__ never ran, and handing it over is tampering


def test_nothing_a_student_reaches_switches_the_guard_off(session):
    s = session({"off.py": SWITCH_OFF, "attempts.py": ATTEMPTS}, rules=Rules(forbidden_modules=("csv",)))
    r = s.call("off", "flip_everything")
    assert r.ok and "not allowed in the grader's sandbox" in r.value and "grader-sandbox-test-never" in r.value, r
    assert [e.code for e in r.events].count("write") == 1, r.events  # (the same refusal twice: one event)
    r = s.call("attempts", "write", ("/etc/grader-sandbox-test-never",))  # the next call: still on
    assert codes(r) == ["write"], r


def test_the_guards_channel_cannot_be_silenced_or_forged(session):
    s = session({"off.py": SWITCH_OFF})
    r = s.call("off", "silence")  # its pipe replaced: the guard ends the child rather than stay silent
    assert r.kind == "exit" and "guard's channel" in r.error and "tamper" in codes(r), r
    s.restart()
    r = s.call("off", "scribble")  # lines of its own: accuse itself (a "write" it did not do), and are tampering
    assert r.ok and codes(r) == ["write", "tamper"], r.events
    s.restart()
    r = s.call("off", "refused_then_exit")  # what the guard saw survives the call's end
    assert codes(r) == ["write", "exit"], r.events
