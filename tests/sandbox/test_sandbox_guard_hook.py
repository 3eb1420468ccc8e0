"""The guard's hook itself, called directly in this process (never installed here): what it
refuses and writes, that it never runs an object a student made, that nothing it uses can be
changed after it is made, and that its paths are the ones the kernel will use."""

from __future__ import annotations

import dis
import importlib.util
import os
import types
from pathlib import Path

import pytest

from grader.sandbox import session as session_module

CHILD = Path(session_module.__file__).with_name("child")
LOST = 117


def load_guard():
    spec = importlib.util.spec_from_file_location("_guard_for_test", CHILD / "guard.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


guard = load_guard()


@pytest.fixture
def hook(tmp_path):
    """``hook(event, *args)``: (what it raised or None, the lines it wrote) for a hook whose
    rules are the numpy parts': the grader under tmp_path/grader, the home tmp_path/home."""
    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)
    for folder in ("grader", "home", "submission", "site", "torch"):
        (tmp_path / folder).mkdir()
    rules = {"forbidden": ["torch"], "blocked": ["grader"], "forbidden_folders": [[str(tmp_path / "torch"), "torch"]],
             "protected": [str(tmp_path / "grader")], "readable": [], "writable": [str(tmp_path / "home")],
             "visible": [str(tmp_path / p) for p in ("grader", "home", "submission", "site")],
             "processes": False, "network": False, "native_code": False}
    made = guard.make_hook(rules, write_end, LOST, [], {"etc", "usr", "proc", "dev", "tmp", "var"})

    def call(event, *args):
        raised = None
        try:
            made(event, args)
        except BaseException as exc:  # noqa: BLE001 - whatever it raised is the answer
            raised = exc
        try:
            data = os.read(read_end, 1 << 16)
        except BlockingIOError:
            data = b""
        return raised, [line.split("\t", 1) for line in data.decode().splitlines()]

    call.made = made
    yield call
    os.close(read_end)
    os.close(write_end)


def codes(lines):
    return [code for code, _ in lines]


# ---------------------------------------------------------------- it cannot be argued with


def test_the_hook_looks_nothing_up_when_it_runs_and_holds_nothing_mutable(hook):
    """No global, builtin or closure lookup at call time (a module's globals and builtins can be
    replaced; a cell can be rebound): every name is a local or a default argument, and every
    default is immutable or a function written in C."""
    made = hook.made
    assert made.__closure__ is None and made.__code__.co_freevars == ()
    stack = [made.__code__]
    while stack:
        code = stack.pop()
        looked_up = {i.opname for i in dis.get_instructions(code)} & {
            "LOAD_GLOBAL", "LOAD_NAME", "LOAD_DEREF", "LOAD_CLASSDEREF", "LOAD_CLOSURE", "STORE_GLOBAL", "IMPORT_NAME"}
        assert not looked_up, (code.co_name, looked_up)
        stack += [c for c in code.co_consts if isinstance(c, types.CodeType)]
    c_functions = (types.BuiltinFunctionType, types.MethodDescriptorType, types.WrapperDescriptorType)

    def frozen(value) -> bool:
        if isinstance(value, (tuple, frozenset)):
            return all(frozen(v) for v in value)
        if isinstance(value, type):  # the exception classes and the built-in types it compares with
            return value.__module__ == "builtins"
        return type(value) in (str, int, bool, type(None), bytes) or isinstance(value, c_functions)

    assert made.__defaults__ and all(frozen(d) for d in made.__defaults__), [
        d for d in made.__defaults__ if not frozen(d)]
    assert made.__kwdefaults__ is None


class Booby:
    """An object every one of whose methods records that it ran: the hook must call none."""

    calls: list[str] = []

    def __getattribute__(self, name):
        Booby.calls.append(name)
        return object.__getattribute__(self, name)

    def _ran(self, name):
        Booby.calls.append(name)
        return "/etc/hostname"

    __fspath__ = lambda self: self._ran("__fspath__")  # noqa: E731
    __str__ = __repr__ = __format__ = lambda self, *a: self._ran("__str__")  # noqa: E731
    __index__ = __int__ = lambda self: Booby.calls.append("__index__") or 0  # noqa: E731
    __eq__ = lambda self, other: Booby.calls.append("__eq__") or True  # noqa: E731
    __hash__ = lambda self: Booby.calls.append("__hash__") or 0  # noqa: E731
    __len__ = lambda self: Booby.calls.append("__len__") or 0  # noqa: E731
    __iter__ = lambda self: Booby.calls.append("__iter__") or iter(())  # noqa: E731


class Lying(str):
    """A str whose methods lie: the hook must read its characters, not ask it."""

    def startswith(self, *a):
        Booby.calls.append("startswith")
        return False

    def __eq__(self, other):
        Booby.calls.append("__eq__")
        return True

    __hash__ = str.__hash__


@pytest.mark.parametrize("event, args", [
    ("open", (Booby(), "r", 0)), ("open", ("/etc/hostname", Booby(), 0)), ("open", ("/etc/hostname", "r", Booby())),
    ("open", (Lying("/etc/hostname"), "r", 0)), ("os.listdir", (Booby(),)), ("os.mkdir", (Booby(), 0o777, -1)),
    ("os.rename", ("/etc/a", Booby(), -1, -1)), ("os.mkdir", ("x", 0o777, Booby())), ("import", (Booby(),)),
    ("import", (Lying("numpy"),)), ("os.kill", (Booby(), 9)),
    ("socket.connect", (None, Booby())), ("socket.connect", (None, (Booby(), Booby()))),
    ("grader.event", (Booby(), "x")), ("grader.event", ("write", Lying("x"))),
])
def test_objects_a_student_made_are_never_asked_anything(hook, event, args):
    Booby.calls.clear()
    raised, lines = hook(event, *args)
    assert Booby.calls == []
    assert isinstance(raised, PermissionError) and len(lines) == 1, (raised, lines)  # refused, and said so
    assert lines[0][0] in ("tamper", "signal", "network", "grader", "write"), lines


def test_forged_events_are_judged_as_real_ones_and_odd_ones_never_crash_it(hook, tmp_path):
    assert hook("open", "/etc/hostname", "r", 0) == (None, [])  # a read of the system's files: nothing to say
    assert hook("open", "/etc/hostname", "r") == (None, [])  # (one argument short: still read as a read)
    raised, lines = hook("open", str(tmp_path / "grader" / "answers.py"), "r", 0)
    assert isinstance(raised, PermissionError) and codes(lines) == ["grader"]  # a forged read accuses its sender
    for args in [(), ("open",), (None,) * 9, ("/etc/x", 1.5, 0), ("/etc/x", "r", "0"), (b"\xff/x", "r", 0)]:
        raised, lines = hook("open", *args)
        assert raised is None or isinstance(raised, PermissionError), (args, raised)
        assert raised is None or codes(lines) in (["tamper"], ["read"], ["refused"]), (args, lines)
    for event in ("os.rename", "os.kill", "import", "socket.connect", "grader.event", "os.listdir", "sys.settrace"):
        for args in [(), (None,), (1,) * 8, ("\0",)]:
            raised, _ = hook(event, *args)
            assert raised is None or isinstance(raised, PermissionError), (event, args, raised)


# ---------------------------------------------------------------- what it refuses


def test_writes_only_to_tmpdir_and_the_null_devices(hook, tmp_path):
    home = tmp_path / "home"
    for path, allowed in [(home / "a.txt", True), ("/dev/null", True), ("/dev/zero", True),
                          ("/dev/shm/grader-hostile-x", False), ("/tmp/x", False),
                          (tmp_path / "submission" / "x", False),
                          ("/proc/self/mem", False), ("/dev/stdout", False)]:
        raised, lines = hook("open", str(path), "w", os.O_WRONLY | os.O_CREAT)
        assert (raised is None) == allowed, (path, raised, lines)
        assert allowed or codes(lines) in (["write"], ["refused"]), (path, lines)


def test_reads_of_other_sessions_and_other_processes_are_refused(hook, tmp_path):
    for path in ("/tmp/grader-sandbox-other/submission/conv.py", "/var/tmp/x", "/dev/shm/psm_1", "/tmp",
                 f"/proc/{os.getppid()}/environ", "/proc/1/mem"):
        raised, lines = hook("open", path, "r", 0)
        assert isinstance(raised, PermissionError) and codes(lines) == ["read"], (path, lines)
    for path in ("/etc/hostname", "/proc/self/status", f"/proc/{os.getpid()}/status", "/proc/cpuinfo", "/dev/urandom",
                 str(tmp_path / "submission" / "conv.py")):
        assert hook("open", path, "r", 0) == (None, []), path
    raised, lines = hook("os.listdir", "/dev/shm")
    assert codes(lines) == ["read"]


def test_links_relative_os_open_and_descriptor_links_are_refused(hook, tmp_path):
    raised, lines = hook("os.symlink", "/work/grader", str(tmp_path / "home" / "link"), -1)
    assert isinstance(raised, PermissionError) and codes(lines) == ["refused"]
    raised, lines = hook("os.link", "/etc/hostname", str(tmp_path / "home" / "link"), -1, -1, True)
    assert codes(lines) == ["refused"]
    raised, lines = hook("open", "grader/reference/numpy_fast.py", None, os.O_RDONLY)  # os.open: its dir_fd unseen
    assert codes(lines) == ["refused"] and "relative" in lines[0][1]
    fd = os.open(tmp_path / "home", os.O_RDONLY)
    try:
        raised, lines = hook("open", f"/proc/self/fd/{fd}/x", "w", os.O_WRONLY)
        assert codes(lines) == ["refused"] and "/fd/" in lines[0][1]
        # a descriptor of a path event is what it is open on: checked like the path
        raised, lines = hook("os.chmod", fd, 0o777, -1)
        assert raised is None, lines
        grader_fd = os.open(tmp_path / "grader", os.O_RDONLY)
        raised, lines = hook("os.chmod", grader_fd, 0o777, -1)
        os.close(grader_fd)
        assert codes(lines) == ["write"]
        raised, lines = hook("os.mkdir", "new", 0o777, fd)  # dir_fd-relative: resolved through its descriptor
        assert raised is None, lines
    finally:
        os.close(fd)


def test_symlinks_are_resolved_as_the_kernel_does(hook, tmp_path):
    home, grader = tmp_path / "home", tmp_path / "grader"
    (home / "up").symlink_to("..")
    (home / "g").symlink_to(grader)
    (home / "loop").symlink_to(home / "loop")
    (grader / "answers.py").write_text("A = 1\n")
    for path in (home / "g" / "answers.py", home / "up" / "grader" / "answers.py", home / "g" / "missing" / ".." / "x"):
        raised, lines = hook("open", str(path), "w", os.O_WRONLY)
        assert codes(lines) == ["write"], (path, lines)
        assert lines[0][1].endswith(os.path.realpath(path)), (lines, os.path.realpath(path))
    raised, lines = hook("open", str(home / "loop"), "r", 0)
    assert codes(lines) == ["refused"] and "links" in lines[0][1]


def test_processes_signals_network_ctypes_and_the_interpreters_machinery(hook):
    expected = {("os.fork",): "process", ("subprocess.Popen", "ls"): "process", ("os.kill", 1, 9): "signal",
                ("os.killpg", 0, 9): "signal", ("socket.connect", None, ("1.1.1.1", 80)): "network",
                ("socket.getaddrinfo", "example.com", 80): "network", ("ctypes.dlopen", None): "native-code",
                ("gc.get_referrers",): "tamper", ("sys.settrace",): "tamper", ("sys.setprofile",): "tamper",
                ("sys.addaudithook",): "tamper",
                ("import", "grader.reference"): "grader", ("import", "_posixshmem"): "refused",
                ("import", "multiprocessing.shared_memory"): "refused"}
    for (event, *args), code in expected.items():
        raised, lines = hook(event, *args)
        assert raised is not None and codes(lines) == [code], (event, args, raised, lines)
    assert hook("os.kill", os.getpid(), 0) == (None, [])  # itself
    assert hook("import", "numpy.linalg") == (None, [])
    # a forbidden library and its submodules: let through and said (the child's finder serves stand-ins,
    # grader/sandbox/child/calls.py; the real package's files stay hidden)
    for name in ("torch", "torch.nn"):
        raised, lines = hook("import", name)
        assert raised is None and codes(lines) == ["stand-in"] and name in lines[0][1], lines
    assert hook("builtins.id", 1) == (None, []) and hook("sys._getframe", None) == (None, [])


def test_the_childs_own_findings_are_relayed_not_refused(hook):
    raised, lines = hook("grader.event", "mutated-input", "f changed its input x in place\twith\na tab")
    assert raised is None and lines == [["mutated-input", "f changed its input x in place with a tab"]]
    raised, lines = hook("grader.event", "write", "x" * 5000)
    assert len(lines[0][1]) == guard.MAX_DETAIL + 3


def test_an_open_rules_hook_relays_and_refuses_nothing(tmp_path):
    read_end, write_end = os.pipe()
    made = guard.make_hook(None, write_end, LOST, [], set())
    made("open", ("/root/secret", "w", os.O_WRONLY))
    made("os.fork", ())
    made("grader.event", ("lying-object", "returned a Liar"))
    os.close(write_end)
    assert os.read(read_end, 1 << 16) == b"lying-object\treturned a Liar\n"
    os.close(read_end)


def test_lines_on_the_guards_pipe_that_are_not_the_guards_are_tampering():
    from grader.sandbox.session import guard_events

    events = guard_events([b"write\twrote outside its scratch folder ($TMPDIR): /x", b"nonsense", b"forged\tx"], 1)
    assert [e.code for e in events] == ["write", "tamper"]
    assert events[1].detail == "wrote 3 line(s) of its own on the guard's channel to the grader"


def test_the_events_it_watches_cover_every_path_event_it_knows():
    assert {name for name, _ in guard.PATH_EVENTS} <= guard.WATCHED
    assert guard.LINK_EVENTS | guard.TAMPER_EVENTS | guard.NATIVE_EVENTS <= guard.WATCHED
