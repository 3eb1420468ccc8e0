"""Hardening of the child: no network, no surviving processes, a read-only file system outside
its scratch folder, and a plain fallback (with the reason recorded) where the OS lacks these."""

from __future__ import annotations

import json
import os
import socket
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from grader.sandbox import Session, probe
from grader.sandbox import session as session_module
from grader.sandbox.process import namespace_support
from grader.sandbox.session import OPEN_RULES

from sandbox_helpers import FAST, needs_proc, processes_with

NAMESPACED = ("network", "processes", "filesystem")
# a write refused by the read-only mounts (EROFS), or by file permissions when the child runs as another user
READ_ONLY = ("OSError: [Errno 30] Read-only file system", "PermissionError: [Errno 13] Permission denied")
needs_namespaces = pytest.mark.skipif(namespace_support()[0] is None,
                                      reason=f"namespaces not available: {namespace_support()[1]}")


pytestmark = pytest.mark.usefixtures("fully_hardened")  # (conftest.py: every test twice, all of HARDENING)




@needs_namespaces
def test_student_code_has_no_network(session):
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    code = """
        import socket
        def connect(port):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
            return "connected"
        def interfaces():
            return [name for _, name in socket.if_nameindex()]
    """
    try:
        exec(compile(__import__("textwrap").dedent(code), "net", "exec"), namespace := {})
        assert namespace["connect"](port) == "connected"  # the same code works in the parent
        s = session({"net.py": code}, rules=OPEN_RULES)  # the namespace is under test, not the guard
        assert s.protections["network"].startswith("isolated (net namespace")  # (... in a user namespace)
        r = s.call("net", "connect", (port,))
        assert not r.ok and r.kind == "exception" and r.error.startswith("OSError"), r
        assert "net.py, line 4" in r.error
        assert s.call("net", "interfaces").value == ["lo"]
    finally:
        listener.close()


@needs_namespaces
@needs_proc
def test_detached_processes_die_with_the_session(session):
    marker = f"grader-hardening-{uuid.uuid4().hex}"
    s = session({"spawn.py": f"""
        import os, subprocess, sys
        SLEEPER = [sys.executable, "-c", "import time; time.sleep(1000)", "{marker}"]
        def spawn():
            subprocess.Popen(SLEEPER, start_new_session=True, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
            if os.fork() == 0:  # a double-forked daemon in a session of its own
                os.setsid()
                if os.fork() == 0:
                    os.execv(sys.executable, SLEEPER + ["daemon"])
                os._exit(0)
            os.wait()
            return "spawned"
    """}, rules=OPEN_RULES)
    assert s.protections["processes"].startswith("pid namespace")
    assert s.call("spawn", "spawn").value == "spawned"
    deadline = time.monotonic() + 10
    while len(processes_with(marker)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(processes_with(marker)) == 2
    s.close()
    deadline = time.monotonic() + 5
    while processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert processes_with(marker) == []


@needs_namespaces
@needs_proc
def test_a_timeout_kills_detached_processes_too(session):
    marker = f"grader-hardening-{uuid.uuid4().hex}"
    s = session({"spawn.py": f"""
        import subprocess, sys, time
        def spawn_and_hang():
            subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1000)", "{marker}"],
                             start_new_session=True)
            time.sleep(1000)
    """}, rules=OPEN_RULES)
    r = s.call("spawn", "spawn_and_hang", timeout_s=1)
    assert r.kind == "timeout" and not s.alive
    deadline = time.monotonic() + 5
    while processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert processes_with(marker) == []


@pytest.fixture
def protected_dir():
    """A folder outside /tmp with a dummy reference file in it (never the real reference)."""
    folder = Path(tempfile.mkdtemp(prefix="grader-hardening-", dir="/var/tmp" if os.path.isdir("/var/tmp") else None))
    (folder / "numpy_fast.py").write_text("ANSWER = 42\n")
    yield folder
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()


@needs_namespaces
def test_files_outside_scratch_are_read_only(session, protected_dir, tmp_path):
    other_grading = tmp_path / "other.txt"
    other_grading.write_text("theirs")
    s = session({"vandal.py": """
        import os
        def append(path):
            with open(path, "a") as f:
                f.write("ANSWER = 0\\n")
        def create(folder):
            open(os.path.join(folder, "new.py"), "w").close()
        def read(path):
            with open(path) as f:
                return f.read()
        def own_files(tmp_is_private):
            open(os.path.join(os.environ["TMPDIR"], "t.txt"), "w").write("ok")
            if tmp_is_private:
                open("/tmp/private.txt", "w").write("ok")
            open("/dev/shm/shared", "w").write("ok")
            return open(os.path.join(os.environ["TMPDIR"], "t.txt")).read()
        def remount():
            import ctypes
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.mount(None, b"/", None, 32 | 4096, None) != 0:  # MS_REMOUNT | MS_BIND: read-write again
                raise OSError(ctypes.get_errno(), "mount failed")
            return "remounted"
        def write_own_copy():
            open("mine.txt", "w").write("ok")
    """}, rules=OPEN_RULES)
    assert s.protections["filesystem"].startswith("read-only outside scratch")
    target = protected_dir / "numpy_fast.py"
    for function, args in (("append", (str(target),)), ("create", (str(protected_dir),))):
        r = s.call("vandal", function, args)
        assert not r.ok and r.error.startswith(READ_ONLY), r
    r = s.call("vandal", "read", (str(target),))
    if s.protections["user"].startswith("uid "):  # another user: the grader's private (0700) folder is closed
        assert r.error.startswith("PermissionError: [Errno 13]"), r
    else:  # the grader's own user: reading still works
        assert r.value == "ANSWER = 42\n", r
    assert target.read_text() == "ANSWER = 42\n" and sorted(p.name for p in protected_dir.iterdir()) == ["numpy_fast.py"]
    r = s.call("vandal", "append", (str(other_grading),))  # /tmp is private: other gradings are not there
    # (or, when the grader itself lives under /tmp, e.g. a CI clone there, visible but read-only)
    assert not r.ok and r.error.startswith(("FileNotFoundError", *READ_ONLY)), r
    assert other_grading.read_text() == "theirs"
    # When the grader itself runs from under /tmp (a CI clone there), /tmp stays visible, read-only,
    # so that its Python can run; TMPDIR (in scratch) is where temporary files go then.
    grader_in_tmp = any(str(Path(p).resolve()).startswith("/tmp/") for p in (sys.executable, session_module.__file__))
    assert s.call("vandal", "own_files", (not grader_in_tmp,)).value == "ok"
    assert not os.path.exists("/tmp/private.txt") and not os.path.exists("/dev/shm/shared")
    r = s.call("vandal", "remount")
    assert not r.ok and "Errno 1" in r.error, r  # EPERM: every capability is gone
    assert s.call("vandal", "create", (str(protected_dir),)).error.startswith(READ_ONLY)
    # the submission's own copy is read-only too: what a student writes goes to $TMPDIR (a size-capped tmpfs)
    assert s.call("vandal", "write_own_copy").error.startswith(READ_ONLY)


def test_without_namespaces_sessions_run_as_before(session, monkeypatch):
    monkeypatch.setattr(session_module, "namespace_support", lambda: (None, "no namespaces in this test"))
    s = session({"m.py": "import os\ndef pid():\n    return os.getpid()\n"})
    assert s.call("m", "pid").value == s.pid
    assert {k: s.protections[k] for k in NAMESPACED} == dict.fromkeys(NAMESPACED, "not available: no namespaces in this test")


def test_a_failing_unshare_falls_back_and_says_why(session, monkeypatch):
    monkeypatch.setenv("GRADER_SANDBOX_WARM", "0")  # (the unshare command is a cold start's; a warm child clones)
    monkeypatch.setattr(session_module, "namespace_support", lambda: ("/bin/false", ""))
    s = session({"m.py": "def one():\n    return 1\n"})
    assert s.call("m", "one").value == 1
    assert all(s.protections[k].startswith("not available: the namespaced child did not start") for k in NAMESPACED)


def test_a_missing_unshare_falls_back_and_says_why(session, monkeypatch):
    monkeypatch.setenv("GRADER_SANDBOX_WARM", "0")  # (the unshare command is a cold start's; a warm child clones)
    monkeypatch.setattr(session_module, "namespace_support", lambda: ("/nonexistent/unshare", ""))
    s = session({"m.py": "def one():\n    return 1\n"})
    assert s.call("m", "one").value == 1
    assert all(s.protections[k].startswith("not available: the namespaced child did not start (unshare: ")
               for k in NAMESPACED)


def test_probe_says_which_protections_are_active():
    report = probe()
    assert json.loads(json.dumps(report)) == report
    assert set(report["protections"]) == {"network", "processes", "filesystem", "user"}
    if report["namespaces"]:
        assert report["protections"]["network"].startswith("isolated (net namespace")
        assert report["protections"]["processes"].startswith("pid namespace")
    else:
        assert all(v.startswith("not available") for v in report["protections"].values())


@needs_namespaces
def test_namespaces_add_little_start_up_time(submission, monkeypatch):
    folder = submission({"m.py": "def one():\n    return 1\n"})

    def best_startup():
        times = []
        for _ in range(3):
            with Session(folder, FAST) as s:
                times.append(s.startup_s)
        return min(times)

    hardened = best_startup()
    monkeypatch.setattr(session_module, "namespace_support", lambda: (None, "off"))
    plain = best_startup()
    assert hardened - plain < 0.25, (hardened, plain)  # ~15-25 ms here; generous for loaded CI hosts


def test_the_child_never_confines_the_parents_mount_namespace(tmp_path):
    """confine() refuses to touch mounts unless it is pid 1 of a fresh namespace."""
    sys.path.insert(0, str(Path(session_module.__file__).parent))
    try:
        import importlib.util

        path = Path(session_module.__file__).with_name("child") / "namespaces.py"
        spec = importlib.util.spec_from_file_location("_child_for_test", path)
        child = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(child)
    finally:
        sys.path.pop(0)
    result, notes = child.confine({"scratch": str(tmp_path), "cwd": str(tmp_path), "tmpfs_mb": 1,
                                   "host_mnt_ns": "", "code": "", "needed": []})
    assert result == "not available: not in a private mount namespace" and notes == []


@needs_namespaces
def test_hardening_can_be_chosen_per_session(session):
    s = session({"m.py": "import os, socket\ndef where():\n    return os.getpid(), os.listdir('/tmp') != []\n"},
                hardening=("network",), rules=OPEN_RULES)  # (the guard refuses listing /tmp: the OS's view here)
    assert s.protections["network"].startswith("isolated (net namespace")
    assert {s.protections["processes"], s.protections["filesystem"]} == {"not requested"}
    pid, sees_host_tmp = s.call("m", "where").value
    assert pid == s.pid and sees_host_tmp
    plain = session({"m.py": "def one():\n    return 1\n"}, hardening=())
    assert {plain.protections[k] for k in NAMESPACED} == {"not requested"} and plain.call("m", "one").value == 1
    with pytest.raises(ValueError, match="hardening"):
        session({"m.py": ""}, hardening=("everything",))


@needs_namespaces
def test_tmpdir_caps_the_number_of_files_too(session):
    # a tmpfs's size= does not count empty files: without nr_inodes, millions of them cost kernel memory
    s = session({"many.py": """
        import os
        def fill(limit):
            made = 0
            try:
                while made < limit:
                    open(os.path.join(os.environ["TMPDIR"], f"f{made}"), "w").close()
                    made += 1
            except OSError as exc:
                return made, exc.errno
            return made, None
    """}, rules=OPEN_RULES)
    made, errno = s.call("many", "fill", (50_000,), timeout_s=30).value
    assert errno == 28 and made < session_module.TMPFS_FILES, (made, errno)  # ENOSPC
    assert made > session_module.TMPFS_FILES // 2  # a real folder's worth still fits
