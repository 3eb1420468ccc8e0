"""The batch survives its students.  Without namespaces a submission's native code can signal its
user's processes and write where its user may; here the worker's own code plays that submission
(``grade_one`` replaced for one name), to pin down what the batch does about it:

- a worker killed while grading costs only the submission it held (the pool used to break, and
  every other row became "error: BrokenProcessPool");
- a neighbour that kills the other workers costs them a second try, not their grade;
- a process the submission detached does not outlive the batch (it used to rewrite gradebook.csv
  and another student's results.json after the batch had ended);
- files changed under the batch, or a folder swapped for a link, are put right from memory.

The real attacks, through a sandbox child, are in tests/hostile/test_batch_attacks.py."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from pathlib import Path

import pytest

import grader.batch as batch_module
from grader.batch import grade_batch
from grader.workers import PR_GET_CHILD_SUBREAPER, PR_GET_DUMPABLE, _prctl, children

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "tests" / "check" / "fast.toml"
GOOD, BUGGY = ROOT / "examples" / "submission", ROOT / "examples" / "buggy_submission"
REAL = batch_module.grade_one
linux_only = pytest.mark.skipif(_prctl(PR_GET_DUMPABLE) is None, reason="needs Linux prctl")


def make_class(tmp_path: Path, **folders: Path) -> Path:
    klass = tmp_path / "class"
    for name, source in folders.items():
        shutil.copytree(source, klass / name)
    return klass


def run(klass: Path, out: Path, workers: int = 2):
    return grade_batch(klass, out, workers=workers, seed=5, parts="conv,max_pool", device="cpu", config_path=CONFIG)


def play(monkeypatch, name: str, attack) -> None:
    """Let ``attack(path)`` run in the worker when it grades submission ``name``, before the real grading."""

    def grade_one(sub, path, *rest):
        if sub == name:
            attack(Path(path))
        return REAL(sub, path, *rest)

    monkeypatch.setattr(batch_module, "grade_one", grade_one)


def wait_for(path: Path, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.02)


def test_a_worker_killed_while_grading_costs_only_its_submission(monkeypatch, tmp_path):
    klass = make_class(tmp_path, alice=GOOD, bob=BUGGY, carol=GOOD, mallory=GOOD)
    play(monkeypatch, "mallory", lambda path: os.kill(os.getpid(), signal.SIGKILL))
    result = run(klass, tmp_path / "out")
    rows = {r.submission: r for r in result.rows}
    assert rows["mallory"].status == "error: the grading worker died while grading it alone (killed by SIGKILL)"
    assert (rows["mallory"].score, rows["mallory"].max_score) == (0.0, 20.0)
    assert rows["alice"].status == rows["carol"].status == "graded" and rows["alice"].score == rows["carol"].score == 20
    assert rows["bob"].status == "graded" and rows["bob"].score < 20


def test_a_neighbour_that_kills_the_other_workers_costs_them_a_second_try_not_their_grade(monkeypatch, tmp_path):
    klass = make_class(tmp_path, bob=GOOD, mallory=GOOD)
    started, struck = tmp_path / "bob-started", tmp_path / "struck"
    batch_pid = os.getpid()

    def bob_waits(path):  # bob is mid-grading when mallory strikes (his first try never ends by itself)
        started.touch()
        wait_for(struck)

    def mallory_kills_siblings(path):
        wait_for(started)
        me = Path("/proc/self/cmdline").read_bytes()
        for pid, _ in children(batch_pid):  # the other workers: forked from the batch, so its command line
            if pid != os.getpid() and Path(f"/proc/{pid}/cmdline").read_bytes() == me:
                os.kill(pid, signal.SIGKILL)
        struck.touch()

    real = batch_module.grade_one

    def grade_one(sub, *rest):
        {"bob": bob_waits, "mallory": mallory_kills_siblings}[sub](None)
        return real(sub, *rest)

    monkeypatch.setattr(batch_module, "grade_one", grade_one)
    result = run(klass, tmp_path / "out")
    assert {r.submission: (r.score, r.status) for r in result.rows} == {"bob": (20.0, "graded"),
                                                                          "mallory": (20.0, "graded")}


@pytest.mark.skipif(_prctl(PR_GET_CHILD_SUBREAPER) is None, reason="needs Linux's child subreaper")
def test_a_detached_process_does_not_outlive_the_batch(monkeypatch, tmp_path):
    klass = make_class(tmp_path, alice=GOOD, mallory=GOOD)
    out, pid_file = tmp_path / "out", tmp_path / "daemon.pid"

    def detach(path):  # double fork and a session of its own: what kill_session cannot reach
        first = os.fork()
        if first == 0:
            os.setsid()
            if os.fork() == 0:
                pid_file.write_text(str(os.getpid()))
                for _ in range(600):  # up to 30 s: rewrite the class's files whenever they are there
                    for target in (out / "gradebook.csv", out / "alice" / "results.json"):
                        if target.exists():
                            target.write_text("hacked")
                    time.sleep(0.05)
            os._exit(0)
        os.waitpid(first, 0)
        wait_for(pid_file)

    play(monkeypatch, "mallory", detach)
    run(klass, out)
    daemon = int(pid_file.read_text())
    assert not Path(f"/proc/{daemon}").exists(), "the detached process outlived the batch"
    time.sleep(0.3)
    assert (out / "gradebook.csv").read_text().startswith("submission,")
    assert json.loads((out / "alice" / "results.json").read_text())["score"] == 20


def test_outputs_changed_under_the_batch_are_written_again(monkeypatch, tmp_path):
    klass = make_class(tmp_path, alice=GOOD, mallory=BUGGY)  # one worker: alice is written before mallory runs
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    elsewhere.mkdir()

    def tamper(path):
        (out / "alice" / "results.json").write_text('{"score": 0}')
        (out / "seed.txt").write_text("1234\n")
        os.rename(out / "alice", tmp_path / "moved")
        os.symlink(elsewhere, out / "alice")  # the next write to alice/ would land elsewhere

    play(monkeypatch, "mallory", tamper)
    result = run(klass, out, workers=1)
    assert any("changed during the batch" in note for note in result.notes), result.notes
    assert (out / "alice").is_dir() and not (out / "alice").is_symlink() and list(elsewhere.iterdir()) == []
    assert json.loads((out / "alice" / "results.json").read_text())["score"] == 20
    assert (out / "alice" / "report.html").is_file() and (out / "seed.txt").read_text() == "5\n"


@linux_only
def test_the_batch_and_its_workers_cannot_be_traced_and_the_settings_come_back(monkeypatch, tmp_path):
    klass = make_class(tmp_path, mallory=GOOD)
    seen = tmp_path / "dumpable"
    play(monkeypatch, "mallory", lambda path: seen.write_text(f"{_prctl(PR_GET_DUMPABLE)}"))
    before = (_prctl(PR_GET_DUMPABLE), _prctl(PR_GET_CHILD_SUBREAPER))
    result = run(klass, tmp_path / "out", workers=1)
    assert seen.read_text() == "0"  # the worker (and the batch) were not dumpable while grading
    assert (_prctl(PR_GET_DUMPABLE), _prctl(PR_GET_CHILD_SUBREAPER)) == before
    assert result.rows[0].status == "graded" and (tmp_path / "out").stat().st_mode & 0o777 == 0o700
