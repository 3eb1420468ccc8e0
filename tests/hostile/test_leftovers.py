"""The leftover detectors find what they are meant to find (real processes, files and edits),
and nothing else."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from grader.results import Report, TestResult
from leftovers import (
    ROOT,
    SUBMISSIONS,
    cleanup_markers,
    expectation_problems,
    leftovers,
    load_expect,
    resolve_markers,
    snapshot,
    stray_processes,
)

SANDBOX_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp/grader-sandbox-leftovertest/home",
               "TMPDIR": "/tmp/grader-sandbox-leftovertest/home"}


def fake_tree(root: Path) -> None:
    (root / "grader" / "__pycache__").mkdir(parents=True)
    (root / "grader" / "a.py").write_text("A = 1\n")
    (root / "grader" / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"\0pyc")
    (root / "reference").mkdir()
    (root / "reference" / "b.py").write_text("B = 2\n")


def reap(*procs: subprocess.Popen) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def about(problems: list[str], pid: int) -> list[str]:
    return [p for p in problems if p.startswith(f"process {pid} ")]


def files_and_markers(before, **kwargs) -> list[str]:
    """leftovers() about the grader tree and markers only (other graders may run on this machine)."""
    return [p for p in leftovers(before, **kwargs) if p.startswith(("grader tree", "marker"))]


# ---------------------------------------------------------------- snapshot


def test_snapshot_records_processes_tmp_and_the_grader_tree():
    snap = snapshot()
    assert os.getpid() in snap.processes and snap.processes[os.getpid()] > 0
    assert isinstance(snap.names["/tmp"], frozenset)
    assert "grader/__init__.py" in snap.files and "reference/numpy_fast.py" in snap.files
    assert not any("__pycache__" in rel for rel in snap.files)
    assert snap.root == ROOT and len(snap.tree) == 64


# ---------------------------------------------------------------- processes


def test_a_stray_sandbox_process_is_found_and_short_lived_or_unrelated_ones_are_not(tmp_path):
    fake_tree(tmp_path)
    before = snapshot(tmp_path)
    stray = subprocess.Popen(["sleep", "30"], env=SANDBOX_ENV, start_new_session=True)
    brief = subprocess.Popen(["sleep", "0.3"], env=SANDBOX_ENV, start_new_session=True)
    unrelated = subprocess.Popen(["sleep", "30"], env={"PATH": SANDBOX_ENV["PATH"], "HOME": str(tmp_path)})
    try:
        started = time.monotonic()
        problems = leftovers(before, after_wait_s=1.5)
        assert time.monotonic() - started >= 1.4  # it waited for the stray to go away
        assert len(about(problems, stray.pid)) == 1 and "HOME is a sandbox folder" in about(problems, stray.pid)[0]
        assert "sleep 30" in about(problems, stray.pid)[0]
        assert not about(problems, brief.pid)
        assert not about(problems, unrelated.pid)
        assert not [p for p in problems if p.startswith(("grader tree", "marker"))], problems
    finally:
        reap(stray, brief, unrelated)
    assert not about(leftovers(before, after_wait_s=0), stray.pid)


def test_a_process_named_after_the_fixtures_is_found(tmp_path):
    fake_tree(tmp_path)
    before = snapshot(tmp_path)
    named = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", "grader-hostile-leftovertest"])
    try:
        problems = leftovers(before, after_wait_s=0.2)
        assert len(about(problems, named.pid)) == 1 and "command line" in about(problems, named.pid)[0]
    finally:
        reap(named)


def test_an_escapee_reparented_to_init_is_found(tmp_path):
    # the shell starts `sleep` in the background and exits: nothing links sleep to this process any more
    fake_tree(tmp_path)
    before = snapshot(tmp_path)
    shell = subprocess.run(["sh", "-c", "setsid sleep 30 >/dev/null 2>&1 & echo $!"], env=SANDBOX_ENV,
                           capture_output=True, text=True, timeout=10)
    pid = int(shell.stdout.strip())
    try:
        deadline = time.monotonic() + 5  # setsid may fork once more: find the sleep itself
        while time.monotonic() < deadline:
            problems = [p for p in leftovers(before, after_wait_s=0) if p.endswith(": sleep 30")]
            if problems:
                break
            time.sleep(0.05)
        assert problems, problems
        escapee = int(problems[0].split()[1])
        assert Path(f"/proc/{escapee}/stat").read_text().rsplit(")", 1)[1].split()[1] != str(os.getpid())
    finally:
        ours = {pid, *(int(p.split()[1]) for p in leftovers(before, after_wait_s=0) if p.endswith(": sleep 30"))}
        for p in ours:  # only the processes this test started (sleep 30 with the fake sandbox HOME)
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
    assert not [p for p in leftovers(before, after_wait_s=2.0) if p.endswith(": sleep 30")]


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to start a process as nobody")
def test_a_process_of_the_sandbox_user_is_found(tmp_path):
    import pwd

    try:
        pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user nobody")
    fake_tree(tmp_path)
    before = snapshot(tmp_path)
    other = subprocess.Popen(["sleep", "30"], env={"PATH": SANDBOX_ENV["PATH"]}, user="nobody", cwd="/")
    try:
        problems = leftovers(before, after_wait_s=0.2)
        assert len(about(problems, other.pid)) == 1 and "sandbox's user" in about(problems, other.pid)[0]
    finally:
        reap(other)


def test_an_open_session_is_not_a_leftover_but_its_process_is_found_when_not_excused(tmp_path):
    from grader.sandbox import Session

    fake_tree(tmp_path)
    submission = tmp_path / "submission"
    submission.mkdir()
    before = snapshot(tmp_path)
    session = Session(submission)
    try:
        assert session.alive
        scratch = str(session._scratch)
        mine = lambda problems: [p for p in problems if p.startswith(f"process {session.pid} ") or scratch in p]  # noqa: E731
        assert mine(leftovers(before, after_wait_s=0)) == []  # open: its child and scratch are the grader's own
        leaked = stray_processes(before)  # as if the session had been forgotten
        assert mine(leaked), leaked
        pid = session.pid
    finally:
        session.close()
    problems = leftovers(before, after_wait_s=3.0)
    assert not [p for p in problems if p.startswith(f"process {pid} ") or scratch in p], problems


# ---------------------------------------------------------------- /tmp and /dev/shm


def test_new_marker_and_scratch_names_in_tmp_and_shm_are_found(tmp_path):
    fake_tree(tmp_path)
    tag = uuid.uuid4().hex[:8]
    before = snapshot(tmp_path)
    created = [Path(f"/tmp/grader-hostile-leftovertest-{tag}-marker"), Path(f"/tmp/unrelated-leftovertest-{tag}")]
    if os.access("/dev/shm", os.W_OK):
        created.append(Path(f"/dev/shm/grader-hostile-leftovertest-{tag}-marker"))
    try:
        created[0].mkdir()
        (created[0] / "results.json").write_text("{}")
        for path in created[1:]:
            path.write_text("x")
        problems = leftovers(before, after_wait_s=0.3)
        mine = [p for p in problems if tag in p]
        assert sorted(mine) == sorted(f"new file left in {p.parent}: {p}" for p in created if "hostile" in p.name)
    finally:
        removed = cleanup_markers([p for p in created if "hostile" in p.name])
        created[1].unlink()
    assert all(not p.exists() for p in created)
    assert len(removed) == len(created) - 1
    assert not [p for p in leftovers(before, after_wait_s=0) if tag in p]


# ---------------------------------------------------------------- SysV IPC


def test_a_sysv_object_made_after_the_snapshot_is_found_until_it_is_removed(tmp_path):
    import ctypes

    fake_tree(tmp_path)
    before = snapshot(tmp_path)
    libc = ctypes.CDLL(None)
    made = [("shared memory segment", libc.shmget(0, 4096, 0o1600)), ("semaphore set", libc.semget(0, 1, 0o1600))]
    try:
        assert all(ident >= 0 for _, ident in made)
        problems = [p for p in leftovers(before, after_wait_s=0) if p.startswith("SysV")]
        assert problems == sorted(f"SysV {kind} left: id {ident}" for kind, ident in made)
    finally:
        libc.shmctl(made[0][1], 0, None)  # IPC_RMID
        libc.semctl(made[1][1], 0, 0)
    assert not [p for p in leftovers(before, after_wait_s=0) if p.startswith("SysV")]


# ---------------------------------------------------------------- the grader tree


def test_every_kind_of_change_to_the_grader_tree_is_found(tmp_path):
    fake_tree(tmp_path)
    a, b = tmp_path / "grader" / "a.py", tmp_path / "reference" / "b.py"
    before = snapshot(tmp_path)
    assert files_and_markers(before, after_wait_s=0) == []

    (tmp_path / "grader" / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"\0other")  # not the tree
    (tmp_path / "grader" / "__pycache__" / "new.pyc").write_bytes(b"\0")
    assert files_and_markers(before, after_wait_s=0) == []

    st = a.stat()
    a.write_text("A = 9\n")  # same size
    os.utime(a, ns=(st.st_atime_ns, st.st_mtime_ns))  # same mtime: only the content tells
    assert files_and_markers(before, after_wait_s=0) == ["grader tree changed: grader/a.py (content)"]

    a.write_text("A = 1\n")
    os.utime(a, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # only the mtime tells
    assert files_and_markers(before, after_wait_s=0) == ["grader tree changed: grader/a.py (mtime)"]
    os.utime(a, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert files_and_markers(before, after_wait_s=0) == []

    (tmp_path / "grader" / "hostile-marker-leftovertest").write_text("x")
    b.unlink()
    assert files_and_markers(before, after_wait_s=0) == ["grader tree changed: new file grader/hostile-marker-leftovertest",
                                                 "grader tree changed: file removed reference/b.py"]


# ---------------------------------------------------------------- markers


def test_markers_are_reported_and_cleaned_and_nothing_else_is_removed(tmp_path):
    fake_tree(tmp_path)
    before = snapshot(tmp_path)
    folder, file = tmp_path / "grader-hostile-t-marker", tmp_path / "grader" / "hostile-marker-t"
    missing = tmp_path / "grader-hostile-missing-marker"
    important = tmp_path / "important.txt"
    folder.mkdir()
    (folder / "results.json").write_text("{}")
    file.write_text("x")
    important.write_text("keep me")
    markers = [str(folder), "grader/hostile-marker-t", str(missing)]  # relative: to the snapshot's root
    problems = files_and_markers(before, after_wait_s=0, markers=markers)
    assert f"marker exists: {folder}" in problems and f"marker exists: {file}" in problems
    assert not any(str(missing) in p for p in problems)
    with pytest.raises(ValueError):
        cleanup_markers([str(folder), str(important)])
    assert folder.exists() and important.exists()  # refused before removing anything
    assert cleanup_markers(markers, root=tmp_path) == [str(folder), str(file)]
    assert not folder.exists() and not file.exists() and important.read_text() == "keep me"
    assert files_and_markers(before, after_wait_s=0, markers=markers) == []


def test_relative_markers_are_relative_to_the_repository():
    assert resolve_markers(["grader/hostile-marker-x", "/tmp/grader-hostile-x-marker"]) == [
        str(ROOT / "grader" / "hostile-marker-x"), "/tmp/grader-hostile-x-marker"]
    assert resolve_markers("/tmp/grader-hostile-y-marker") == ["/tmp/grader-hostile-y-marker"]


# ---------------------------------------------------------------- expectations


def test_expectations_are_checked_against_a_report():
    expect = load_expect(SUBMISSIONS / "conv_torch_exec")
    assert (expect.part, expect.other, expect.reason, expect.zero) == ("conv", "max_pool", ("forbidden", "torch"),
                                                                      True)

    def report(conv_score: float, integrity: str, pool_score: float = 1.0) -> Report:
        return Report("x", 1, tests=[
            TestResult("conv forward: a", "conv", "forward", 1.0, conv_score, "f", {"passed": conv_score == 1.0}),
            TestResult("conv integrity: allowed libraries", "conv", "integrity", 0.0, 0.0, integrity,
                       {"passed": False}),
            TestResult("max_pool forward: a", "max_pool", "forward", 1.0, pool_score, "g",
                       {"passed": pool_score == 1.0}),
            TestResult("max_pool speed", "max_pool", "speed", 0.0, 0.0, "slow", {"passed": True}),
        ])

    assert expectation_problems(report(0.0, "Forbidden library: uses Torch"), expect) == []
    problems = expectation_problems(report(1.0, "forbidden library: uses torch"), expect)
    assert len(problems) == 1 and "conv forward: a scored 1" in problems[0]
    problems = expectation_problems(report(0.0, "forbidden library: uses something"), expect)
    assert len(problems) == 1 and "lacks 'torch'" in problems[0]
    problems = expectation_problems(report(0.0, "forbidden: torch", pool_score=0.5), expect)
    assert len(problems) == 1 and "max_pool (must be graded normally)" in problems[0]
