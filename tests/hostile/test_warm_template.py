"""Attacks on the warm template (SECURITY.md, "Warm children"): children forked from one
template, one submission after another, must not reach it, change it, or see each other.

Each test starts a template of its own, forks sessions from it with the real sandbox (every
protection this machine offers: run it as root, with ``setpriv --bounding-set=-sys_admin`` and as
another user for the other settings), and checks what the template and the next child look like
afterwards, against what a child that was never touched shows."""

from __future__ import annotations

import os
import re
import signal
import sys
import textwrap
import time
from pathlib import Path

import pytest

from grader.sandbox import Limits, Session
from grader.sandbox.session import OPEN_RULES
from grader.sandbox.warm import Template

from leftovers import leftovers, snapshot

GUARD_PYC = f"guard.{sys.implementation.cache_tag}.pyc"  # the child's guard, compiled by this Python

PROBE = '''
import os, sys, numpy as np

def state():
    """What a later submission could see of an earlier one."""
    return {"modules": sorted(m for m in sys.modules if m.startswith(("attack", "_attack"))),
            "allclose": np.allclose.__module__ + "." + np.allclose.__qualname__,
            "marked": hasattr(np, "LEFT_BY_ATTACK"), "files": sorted(os.listdir(os.environ["HOME"])),
            "tmp": sorted(n for n in os.listdir("/tmp") if "hostile" in n) if os.path.isdir("/tmp") else [],
            "mean": float(np.mean(np.arange(4.0)))}

def descriptors():
    """Every open descriptor, and what it points to."""
    found = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            found[int(name)] = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            pass
    return found
'''

ATTACK = '''
import os, signal, sys, numpy as np

def leave_traces():
    """Everything one submission could leave for the next: a module, a monkeypatch, a global, files."""
    import types
    sys.modules["attack_left"] = types.ModuleType("attack_left")
    np.allclose = lambda *a, **k: True
    np.mean = lambda *a, **k: 42.0
    np.LEFT_BY_ATTACK = "secret of the last student"
    with open(os.path.join(os.environ["HOME"], "left-by-attack"), "w") as f:
        f.write("x")
    try:
        with open("/tmp/grader-hostile-warm-marker", "w") as f:
            f.write("x")
    except OSError:
        pass
    return True

def read_template(pid):
    """The template's memory, descriptors and environment, through /proc."""
    got = {}
    for what in ("mem", "environ", "fd", "maps"):
        path = f"/proc/{pid}/{what}"
        try:
            got[what] = sorted(os.listdir(path)) if what == "fd" else len(open(path, "rb").read(4096))
        except (OSError, ValueError) as exc:
            got[what] = type(exc).__name__
    return got

def signal_template(pid):
    for sig in (signal.SIGSTOP, signal.SIGKILL):
        try:
            os.kill(pid, sig)
        except OSError as exc:
            return type(exc).__name__
    return "sent"

def fork_bomb():
    children = 0
    for _ in range(2000):
        try:
            if os.fork() == 0:
                import time
                time.sleep(600)
                os._exit(0)
            children += 1
        except OSError:
            break
    return children

def outlive():
    """A grandchild in a session of its own, that sleeps past its part."""
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            import time
            time.sleep(600)
        os._exit(0)
    return True
'''


@pytest.fixture
def template():
    started = Template(("numpy",), 1)
    if started.why_not:
        pytest.skip(f"no warm template here: {started.why_not}")
    yield started
    started.close()


@pytest.fixture
def folders(tmp_path):
    probe, attack = tmp_path / "probe", tmp_path / "attack"
    for folder, source in ((probe, PROBE), (attack, ATTACK)):
        folder.mkdir()
        (folder / ("attack.py" if folder is attack else "probe.py")).write_text(textwrap.dedent(source))
    return probe, attack


def fresh_state(template, probe):
    with Session(probe, Limits(), template=template, rules=OPEN_RULES) as s:  # (no guard: it looks around)
        assert s.warm, s.start_notes
        result = s.call("probe", "state")
    assert result.ok, result.error
    return result.value


def assert_template_alive(template):
    assert template.usable, template.why_not
    with open(f"/proc/{template.pid}/stat") as f:
        state = f.read().rsplit(")", 1)[1].split()[0]
    assert state in ("S", "R"), f"the template is in state {state}"


def test_one_submission_leaves_nothing_for_the_next(template, folders):
    probe, attack = folders
    clean = fresh_state(template, probe)
    before = snapshot()
    for rules in ((), OPEN_RULES):  # with the guard, and with nothing but the OS's walls
        kwargs = {"rules": rules} if rules is OPEN_RULES else {}
        with Session(attack, Limits(), template=template, **kwargs) as s:
            assert s.warm
            assert s.call("attack", "leave_traces").ok
        after = fresh_state(template, probe)
        assert after == clean, (after, clean)
        assert after["mean"] == 1.5 and after["allclose"] == "numpy.allclose" and not after["marked"]
    assert_template_alive(template)
    assert leftovers(before, markers=["/tmp/grader-hostile-warm-marker"]) == []


def test_a_child_holds_no_descriptor_but_its_own(template, folders):
    probe, _ = folders
    with Session(probe, Limits(), template=template, rules=OPEN_RULES) as s:
        result = s.call("probe", "descriptors")
    assert result.ok, result.error
    fds = result.value
    listing = [fd for fd, target in fds.items() if target.endswith("/fd")]  # listdir's own
    assert set(fds) - set(listing) == {0, 1, 2, 3, 4}, fds  # stdin, stdout, stderr, its socket, the guard's pipe
    sockets = [fd for fd, target in fds.items() if target.startswith("socket:")]
    assert sockets == [3], fds  # the template's socket to the grader is not among them
    try:  # (the template is not dumpable: only root may look)
        held = {os.readlink(f"/proc/{template.pid}/fd/{fd}") for fd in os.listdir(f"/proc/{template.pid}/fd")}
    except OSError:
        held = set()
    assert not {t for t in held if t.startswith("socket:")} & set(fds.values()), (held, fds)


@pytest.mark.parametrize("guarded", [True, False], ids=["guard", "os-walls"])
def test_a_child_cannot_read_the_template(template, folders, guarded):
    _, attack = folders
    kwargs = {} if guarded else {"rules": OPEN_RULES}
    with Session(attack, Limits(), template=template, **kwargs) as s:
        result = s.call("attack", "read_template", (template.pid,))
        namespaced = s.protections["processes"].startswith("pid namespace")
        other_user = s.protections["user"].startswith("uid ")  # switched to another user
    if not guarded and not (namespaced or other_user):
        pytest.skip("the grader's own user (or root) without a pid namespace: the guard is the wall (the other case)")
    if result.ok:  # refused or not found, never read
        assert all(isinstance(v, str) for v in result.value.values()), result.value
    else:
        assert guarded, result.error  # only the guard may end the call (a refusal)
        assert any(e.code == "read" for e in s.events), s.events
    assert_template_alive(template)


@pytest.mark.parametrize("guarded", [True, False], ids=["guard", "os-walls"])
def test_a_child_cannot_signal_the_template(template, folders, guarded):
    probe, attack = folders
    kwargs = {} if guarded else {"rules": OPEN_RULES}
    with Session(attack, Limits(), template=template, **kwargs) as s:
        namespaced = s.protections["processes"].startswith("pid namespace")
        other_user = s.protections["user"].startswith("uid ")  # switched to another user
        if not guarded and not (namespaced or other_user):
            pytest.skip("the grader's own user (or root) without a pid namespace: the guard is the wall (the other case)")
        result = s.call("attack", "signal_template", (template.pid,))
    if guarded:
        assert any(e.code == "signal" for e in s.events), (result, s.events)
    else:
        assert result.ok and result.value in ("ProcessLookupError", "PermissionError"), result
    assert_template_alive(template)
    assert fresh_state(template, probe)["mean"] == 1.5  # and it still forks


def test_a_fork_bomb_does_not_exhaust_the_template(template, folders):
    probe, attack = folders
    before = snapshot()
    with Session(attack, Limits(processes=64, call_timeout_s=20), template=template, rules=OPEN_RULES) as s:
        s.call("attack", "fork_bomb")
    assert_template_alive(template)
    assert fresh_state(template, probe)["mean"] == 1.5
    assert leftovers(before) == []


def test_a_child_does_not_outlive_its_part(template, folders):
    probe, attack = folders
    before = snapshot()
    with Session(attack, Limits(), template=template, rules=OPEN_RULES) as s:
        if not s.protections["processes"].startswith("pid namespace"):
            pytest.skip("no pid namespace: a detached grandchild is ended by the batch's subreaper (test_batch_attacks)")
        assert s.call("attack", "outlive").ok
    assert leftovers(before) == []
    assert_template_alive(template)


def test_the_grader_reaps_its_warm_children_and_the_template_ends_with_its_socket(folders):
    probe, _ = folders
    started = Template(("numpy",), 1)
    if started.why_not:
        pytest.skip(started.why_not)
    with Session(probe, Limits(), template=started) as s:
        child = s.pid
        assert os.waitid(os.P_PID, child, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None  # ours to wait for
    assert not os.path.exists(f"/proc/{child}")  # reaped by the session, not left a zombie
    pid = started.pid
    started.close()
    deadline = time.monotonic() + 5
    while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not os.path.exists(f"/proc/{pid}")


def test_a_dead_template_means_a_cold_start_that_says_why(folders):
    probe, _ = folders
    started = Template(("numpy",), 1)
    if started.why_not:
        pytest.skip(started.why_not)
    os.kill(started.pid, signal.SIGKILL)
    started.proc.wait(timeout=5)
    with Session(probe, Limits(), template=started, rules=OPEN_RULES) as s:
        assert not s.warm
        assert any(n.startswith("started cold:") for n in s.start_notes), s.start_notes
        assert s.call("probe", "state").value["mean"] == 1.5
    started.close()


def test_children_forked_from_the_template_are_confined_as_cold_ones(template, folders):
    probe, _ = folders
    with Session(probe, Limits(), template=template) as warm, Session(probe, Limits()) as cold:
        assert warm.warm and not cold.warm
        gid = re.compile(r"gid \d+")  # (every session has a group of its own)
        assert {k: gid.sub("gid N", v) for k, v in warm.protections.items()} == \
            {k: gid.sub("gid N", v) for k, v in cold.protections.items()}
        assert warm.syscalls_filtered == cold.syscalls_filtered
        same = [n for n in warm.start_notes if not n.startswith("started cold")]
        assert same == list(cold.start_notes)


SCATTER = '''
import os, signal, time

def quiet():
    import colorsys  # a module of the standard library not imported yet: compiled, not written
    return colorsys.rgb_to_hsv(1.0, 0.0, 0.0)

def scatter():
    """Processes that leave the child's session and group, stop themselves, or keep forking: what a
    teardown by process group and session would have to chase (a warm child's pid namespace ends
    them all when the grader kills its init)."""
    for kind in ("session", "group", "stopped", "forker"):
        if os.fork() == 0:
            if kind == "session":
                os.setsid()
            elif kind == "group":
                os.setpgid(0, 0)
            elif kind == "stopped":
                os.setsid()
                os.kill(os.getpid(), signal.SIGSTOP)
            else:
                os.setsid()
                while True:  # a new process as soon as the last one ends
                    pid = os.fork()
                    if pid == 0:
                        time.sleep(600)
                        os._exit(0)
                    os.waitpid(pid, 0)
            time.sleep(600)
            os._exit(0)
    time.sleep(0.2)
    return True

def poison(prefix):
    """Rewrite the template's compiled files (where the grader keeps bytecode), for the next child."""
    done = []
    for folder, _, names in os.walk(prefix):
        for name in names:
            try:
                with open(os.path.join(folder, name), "wb") as f:
                    f.write(b"poisoned")
                done.append(name)
            except OSError as exc:
                done.append(type(exc).__name__)
    try:
        with open(os.path.join(prefix, "grader-hostile-pyc-marker"), "w") as f:
            f.write("x")
        done.append("marker")
    except OSError as exc:
        done.append(type(exc).__name__)
    return done
'''


def test_killing_a_warm_childs_init_ends_every_process_it_scattered(template, tmp_path):
    """A warm child in a pid namespace is ended by killing its init, not by chasing its session and
    group through /proc: processes in sessions and groups of their own, stopped ones, and one that
    keeps forking are all gone once the session is closed."""
    folder = tmp_path / "scatter"
    folder.mkdir()
    (folder / "attack.py").write_text(textwrap.dedent(SCATTER))
    before = snapshot()
    with Session(folder, Limits(), template=template, rules=OPEN_RULES) as s:
        if not s.protections["processes"].startswith("pid namespace"):
            pytest.skip("no pid namespace: the session's group and a /proc scan end the child's processes "
                        "(test_a_child_does_not_outlive_its_part, test_batch_attacks)")
        assert s.warm and s.call("attack", "scatter").ok
    assert leftovers(before) == []
    assert_template_alive(template)


@pytest.fixture
def bytecode(tmp_path, monkeypatch):
    """A template started by a grader that keeps bytecode (PYTHONPYCACHEPREFIX, as an installed grader
    or a benchmark run has it): it compiles the child's files into that folder once."""
    prefix = tmp_path / "pycache"
    prefix.mkdir()
    monkeypatch.setattr("sys.dont_write_bytecode", False)
    monkeypatch.setattr("sys.pycache_prefix", str(prefix))
    started = Template(("numpy",), 1)
    monkeypatch.undo()  # (this process goes on as it was)
    if started.why_not:
        pytest.skip(f"no warm template here: {started.why_not}")
    yield started, prefix
    started.close()


def compiled(prefix: Path) -> dict[str, bytes]:
    return {str(p.relative_to(prefix)): p.read_bytes() for p in sorted(prefix.rglob("*")) if p.is_file()}


def test_a_template_that_keeps_bytecode_writes_none_for_its_children(bytecode, tmp_path):
    """The template compiles the child's own files once; its clones import student code with
    bytecode off, as a cold child's -B has it: no __pycache__ in the submission's copy, nothing
    of the student's in the grader's cache, and no write for the guard to report."""
    template, prefix = bytecode
    folder = tmp_path / "quiet"
    folder.mkdir()
    (folder / "attack.py").write_text(textwrap.dedent(SCATTER))
    files = compiled(prefix)
    assert any(name.endswith(f"child/{GUARD_PYC}") for name in files), sorted(files)
    for rules in ((), OPEN_RULES):
        kwargs = {"rules": rules} if rules is OPEN_RULES else {}
        with Session(folder, Limits(), template=template, **kwargs) as s:
            assert s.warm, s.start_notes
            assert s.call("attack", "quiet").value == (0.0, 1.0, 1.0)
            copy = Path(s._scratch) / "submission"
            assert not (copy / "__pycache__").exists()
            assert not [e for e in s.events if e.code == "write"], s.events
    assert compiled(prefix) == files  # nothing added, nothing changed


@pytest.mark.parametrize("guarded", [True, False], ids=["guard", "os-walls"])
def test_a_child_cannot_poison_the_templates_bytecode(bytecode, tmp_path, guarded):
    template, prefix = bytecode
    folder = tmp_path / "poison"
    folder.mkdir()
    (folder / "attack.py").write_text(textwrap.dedent(SCATTER))
    files = compiled(prefix)
    kwargs = {} if guarded else {"rules": OPEN_RULES}
    with Session(folder, Limits(), template=template, **kwargs) as s:
        private = s.protections["filesystem"].startswith("read-only")
        other_user = s.protections["user"].startswith("uid ")
        if not guarded and not (private or other_user):
            pytest.skip("the grader's own user without a mount namespace: the guard is the wall (the other case)")
        result = s.call("attack", "poison", (str(prefix),))
    assert compiled(prefix) == files, result
    if guarded:
        assert not result.ok or "marker" not in result.value, result
    else:
        assert result.ok and "marker" not in result.value and GUARD_PYC not in result.value, result
