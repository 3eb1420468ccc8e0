"""Nothing a child makes outlives its session: SysV IPC objects (refused by the system-call
filter, or removed by the parent where there is none), files in the shared temporary folders
(removed by their group where the child had one), FIFOs, and its scratch folder, however its
folders were left."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

from grader.sandbox import Limits, cleanup
from grader.sandbox import session as session_module
from grader.sandbox.session import OPEN_RULES, Rules

NATIVE = '''
import ctypes, os

def sysv(size):
    libc = ctypes.CDLL(None)
    return libc.shmget(0, size, 0o1600), libc.semget(0, 1, 0o1600), libc.msgget(0, 0o1600)

def shm_file(name):
    libc = ctypes.CDLL(None, use_errno=True)  # native: the guard does not see it
    fd = libc.open(name.encode(), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    os.close(fd)
    return fd >= 0

def fifo(name):
    os.mkfifo(name)

def ids():
    return os.getuid(), os.getgid()
'''
LIMITS = Limits(call_timeout_s=10.0, total_timeout_s=60.0, memory_mb=1024)


def sysv_ids() -> set[tuple[str, int]]:
    return {(o.kind, o.id) for o in cleanup.sysv_objects()}


@pytest.fixture(params=["as-is", "no-namespaces"])
def setting(request, monkeypatch):
    if request.param == "no-namespaces":
        monkeypatch.setattr(session_module, "namespace_support", lambda: (None, "switched off by the test"))
    return request.param


def test_sysv_ipc_from_native_code_ends_the_child_and_leaves_nothing(session, setting):
    before = sysv_ids()
    s = session({"native.py": NATIVE}, LIMITS, rules=Rules(native_code=True))  # the transfer part's rules
    if not s.syscalls_filtered:
        pytest.skip(f"no system-call filter here: {s.start_notes}")
    r = s.call("native", "sysv", (64 << 20,))
    assert r.kind == "crash" and "system call the sandbox forbids" in r.error and [e.code for e in r.events] == [
        "crash"], r
    s.close()
    assert sysv_ids() - before == set()


def test_without_the_filter_the_parent_reports_and_removes_what_it_left(session, monkeypatch):
    monkeypatch.setattr(session_module, "namespace_support", lambda: (None, "switched off by the test"))
    monkeypatch.setattr(session_module, "SYSCALL_FILTER", False)
    before = sysv_ids()
    s = session({"native.py": NATIVE}, LIMITS, rules=Rules(native_code=True))
    assert not s.syscalls_filtered
    r = s.call("native", "sysv", (1 << 20,))
    assert r.ok and all(i >= 0 for i in r.value), r
    made = sysv_ids() - before
    assert len(made) == 3
    assert sorted(e.detail.split(" left ")[1].split(",")[0].rsplit(" (id", 1)[0] for e in r.events) == [
        "a SysV message queue", "a SysV semaphore set", "a SysV shared memory segment of 1048576 bytes"]
    assert {e.code for e in r.events} == {"leftover"}
    s.close()
    assert sysv_ids() & made == set()


def test_a_fifo_anywhere_ends_the_child(session, setting):
    name = f"/tmp/grader-sandbox-test-fifo-{uuid.uuid4().hex[:8]}"
    s = session({"native.py": NATIVE}, LIMITS, rules=OPEN_RULES)  # no guard: the filter alone
    if not s.syscalls_filtered:
        pytest.skip(f"no system-call filter here: {s.start_notes}")
    r = s.call("native", "fifo", (name,))
    assert r.kind == "crash" and "mknod" in r.error, r
    assert not os.path.lexists(name)


@pytest.mark.skipif(session_module.sandbox_user() is None, reason="a group of its own needs a root grader")
def test_files_native_code_leaves_in_dev_shm_are_found_by_the_childs_group_and_removed(session, monkeypatch):
    monkeypatch.setattr(session_module, "namespace_support", lambda: (None, "switched off by the test"))
    name = f"/dev/shm/grader-sandbox-test-{uuid.uuid4().hex[:8]}"
    s = session({"native.py": NATIVE}, LIMITS, rules=Rules(native_code=True))
    uid, gid = s.call("native", "ids").value
    assert gid == s._group and gid >= cleanup.GROUP_BASE and f"gid {gid}" in s.protections["user"]
    r = s.call("native", "shm_file", (name,))
    assert r.value is True and os.stat(name).st_gid == gid
    assert [e.code for e in r.events] == ["leftover"] and name in r.events[0].detail
    s.close()
    assert not os.path.lexists(name)


@pytest.mark.skipif(session_module.sandbox_user() is None, reason="a group of its own needs a root grader")
def test_each_session_has_a_group_of_its_own_and_its_scratch_is_that_groups(session):
    a, b = (session({"native.py": NATIVE}, LIMITS, rules=OPEN_RULES) for _ in range(2))
    assert a._group != b._group
    for s in (a, b):
        st = os.stat(s._scratch)
        assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (0, s._group, 0o750)
        assert stat.S_IMODE(os.stat(s._scratch / "submission" / "native.py").st_mode) == 0o640
        assert a.call("native", "ids").value[1] == a._group


LOCKED = """
import os, shutil, sys, importlib.util
top = os.path.join(sys.argv[1], "grader-sandbox-locked")
os.makedirs(top + "/home/deep/er")
open(top + "/home/deep/file", "w").close()
os.makedirs(top + "/home/shut/in")
os.chmod(top + "/home/deep", 0o500)
os.chmod(top + "/home/shut", 0o000)
shutil.rmtree(top, ignore_errors=True)
spec = importlib.util.spec_from_file_location("cleanup_for_test", sys.argv[2])
cleanup = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = cleanup
spec.loader.exec_module(cleanup)
print(os.path.exists(top), end=" ")  # what rmtree left (as anyone but root: the locked folders)
cleanup.remove_tree(top)
print(os.path.exists(top))
"""


def test_a_scratch_folder_the_child_locked_is_removed_all_the_same(tmp_path):
    """Folders without write (0500) or any (0000) permission, as the child's own user left them:
    rmtree gives up on them, remove_tree does not.  (As root, run as nobody: root ignores modes.)"""
    prefix, python, folder = [], sys.executable, tmp_path
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        prefix = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--"]
        # (cleanup.py is standard library only: any Python 3.11 that nobody can run will do)
        pythons = [p for p in (sys.executable, "/usr/bin/python3") if setpriv and subprocess.run(
            [*prefix, p, "-c", "import sys; assert sys.version_info >= (3, 11)"], capture_output=True).returncode == 0]
        if not pythons:
            pytest.skip("as root the modes bind nobody, and nobody cannot run a Python 3.11 here")
        python, folder = pythons[0], Path(tempfile.mkdtemp(prefix="grader-test-locked-"))
        os.chmod(folder, 0o777)
    try:
        done = subprocess.run([*prefix, python, "-I", "-S", "-c", LOCKED, str(folder), cleanup.__file__],
                              capture_output=True, text=True, timeout=60)
    finally:
        if folder != tmp_path:
            cleanup.remove_tree(str(folder))
    assert done.stdout == "True False\n", done.stderr


def test_the_sysv_table_is_read_as_ipcs_shows_it():
    import ctypes

    if subprocess.run(["ipcs", "-m"], capture_output=True).returncode != 0:
        pytest.skip("no ipcs here")
    libc = ctypes.CDLL(None)
    made = libc.shmget(0, 4096, 0o1600)  # IPC_PRIVATE, made by this process
    assert made >= 0
    try:
        ipcs = subprocess.run(["ipcs", "-m"], capture_output=True, text=True).stdout
        listed = {int(line.split()[1]) for line in ipcs.splitlines() if line.startswith("0x")}
        found = {o.id: o for o in cleanup.sysv_objects() if o.kind == "shm"}
        assert set(found) == listed and made in found
        assert (found[made].creator, found[made].group, found[made].size) == (os.getpid(), os.getgid(), 4096)
        assert cleanup.objects_of({os.getpid()}, None) == [found[made]]
    finally:
        assert cleanup.remove_sysv([cleanup.IpcObject("shm", made, os.getpid(), os.getgid())]) == []
    assert made not in {o.id for o in cleanup.sysv_objects() if o.kind == "shm"}


PEEK = '''
import ctypes, os

def read(path):
    with open(path) as f:
        return f.read()

def read_natively(path):
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.open(path.encode(), os.O_RDONLY)
    if fd < 0:
        return os.strerror(ctypes.get_errno())
    os.close(fd)
    return "read"
'''


def test_another_sessions_scratch_folder_is_out_of_reach(session, setting):
    other = session({"conv.py": "SECRET = 42\n"}, LIMITS)
    secret = str(other._scratch / "submission" / "conv.py")
    s = session({"peek.py": PEEK}, LIMITS)
    r = s.call("peek", "read", (secret,))
    assert not r.ok and [e.code for e in r.events] == ["read"] and "/tmp" in r.events[0].detail, r
    native = session({"peek.py": PEEK}, LIMITS, rules=OPEN_RULES)  # no guard: what the OS alone allows
    outcome = native.call("peek", "read_natively", (secret,)).value
    if native.protections["filesystem"].startswith("read-only"):
        # its own /tmp: the other folder is not there; or, where the grader itself lives under /tmp (a
        # clone in /tmp, as CI's may be) and the host's /tmp stays in view, closed by the other session's group
        assert outcome in ("No such file or directory", "Permission denied"), outcome
    elif native.protections["user"].startswith("uid "):
        assert outcome == "Permission denied"  # the other session's group only
    else:  # the same user as the other child, without namespaces: the guard alone (SECURITY.md)
        assert outcome == "read"


def test_scratch_folders_of_a_grader_that_was_killed_are_swept_and_no_others(tmp_path):
    own = cleanup.process_tag()
    if own is None:
        pytest.skip("no /proc here: scratch folders are not named after their owner")
    namespace, pid, start = own.split(".")
    gone = subprocess.Popen(["true"])
    gone.wait()  # a pid that ran and ended (reused later by another process with another start time)
    names = {"dead": f"grader-sandbox-{namespace}.{gone.pid}.{start}-abc", "live": f"grader-sandbox-{own}-def",
             "reused": f"grader-sandbox-{namespace}.{pid}.{int(start) + 1}-ghi",  # this pid, another process
             "elsewhere": f"grader-sandbox-{int(namespace) + 1}.{gone.pid}.{start}-jkl",  # another pid namespace
             "old-style": "grader-sandbox-mno", "other": "unrelated-pqr"}
    for name in names.values():
        (tmp_path / name / "submission").mkdir(parents=True)
        (tmp_path / name / "submission" / "conv.py").write_text("SECRET = 1\n")
    assert sorted(cleanup.sweep_stale_scratch(str(tmp_path))) == sorted([names["dead"], names["reused"]])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        names[k] for k in ("live", "elsewhere", "old-style", "other"))


def test_a_sessions_scratch_folder_is_named_after_its_owner(session):
    s = session({"m.py": "X = 1\n"}, LIMITS)
    tag = cleanup.process_tag()
    assert tag is None or s._scratch.name.startswith(f"grader-sandbox-{tag}-")
