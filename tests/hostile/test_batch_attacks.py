"""Attacks on `grader batch` itself (issue 12, "batch survives its students"), through real
sandbox children, run with every protection this machine has and again without namespaces
(`setpriv --bounding-set=-sys_admin`: root that cannot unshare, where the guard and the batch's
own defences are all there is):

- ``transfer_kill_workers`` SIGKILLs its worker and every other worker from native code: the other
  students' rows must still be graded (the pool used to break: "error: BrokenProcessPool");
- ``transfer_detach`` leaves a detached process that waits for gradebook.csv and writes beside it:
  it must be gone before the batch's last write, and nothing of it left afterwards.

The batch runs as the CLI in a process of its own (what an attacker reads /proc for), with two
workers, three honest students and the two attackers."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from leftovers import cleanup_markers, leftovers, snapshot

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
FIXTURES = HERE / "batch"
ATTACKS = sorted(p for p in FIXTURES.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))
CONFIG = HERE / "hostile.toml"
SETPRIV = shutil.which("setpriv")
MARKER = "grader-hostile-transfer_detach-marker"


def make_class(folder: Path) -> Path:
    for name in ("honest1", "honest2", "honest3"):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).mkdir()
        for file in ("conv.py", "pool.py"):  # no transfer.py: that part is 0 of its points, and not run
            shutil.copyfile(ROOT / "examples" / "submission" / file, folder / name / file)
    for fixture in ATTACKS:
        (folder / fixture.name).mkdir()
        shutil.copyfile(ROOT / "examples" / "submission" / "conv.py", folder / fixture.name / "conv.py")
        shutil.copyfile(fixture / "transfer.py", folder / fixture.name / "transfer.py")
        shutil.copyfile(FIXTURES / "_native.py", folder / fixture.name / "_native.py")
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("namespaces", [True, False], ids=["as-is", "no-namespaces"])
def test_the_batch_survives_students_who_attack_it(namespaces, tmp_path):
    prefix = []
    if not namespaces:
        if SETPRIV is None or os.geteuid() != 0:
            pytest.skip("dropping CAP_SYS_ADMIN needs root and setpriv")
        prefix = [SETPRIV, "--bounding-set=-sys_admin", "--"]
    klass, out = make_class(tmp_path / "class"), (tmp_path / "out").resolve()
    before = snapshot()
    try:
        proc = subprocess.run(
            [*prefix, sys.executable, "-m", "grader", "batch", str(klass), "--out", str(out), "--workers", "2",
             "--seed", "1", "--parts", "conv,transfer", "--device", "cpu", "--config", str(CONFIG)],
            capture_output=True, text=True, timeout=540, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr[-3000:]
        with open(out / "gradebook.csv", newline="") as handle:
            book = {row["submission"]: row for row in csv.DictReader(handle)}
        assert set(book) == {"honest1", "honest2", "honest3", "transfer_kill_workers", "transfer_detach"}
        assert {row["max_score"] for row in book.values()} == {"18"}  # conv 10 + transfer 8, for every row
        for name in ("honest1", "honest2", "honest3"):
            assert book[name]["status"] == "graded" and book[name]["conv"] == "10" and book[name]["transfer"] == "0", \
                (name, book[name], proc.stderr[-2000:])
        for name in ("transfer_kill_workers", "transfer_detach"):
            assert book[name]["transfer"] in ("0", ""), book[name]
        # could the attack reach the workers here?  Without namespaces, as the child's user: root
        # (Python under a 0700 /root, as on this project's machines) can signal them, nobody cannot
        report = json.loads((out / "honest1" / "report.json").read_text())
        protections = next(t["details"]["protections"] for t in report["tests"]
                           if t["name"] == "conv integrity: sandbox rules")
        isolated = protections.get("processes", "").startswith("pid namespace") or "namespace" in protections.get(
            "processes", "")
        reachable = not isolated and re.search(r"\broot\b|uid 0\b", protections.get("user", "")) is not None
        killer = book["transfer_kill_workers"]["status"]
        if reachable:  # it killed them: its own row alone pays, the others were graded again
            assert killer.startswith("error: the grading worker died while grading it alone (killed by SIGKILL)"), \
                killer
            assert "grading worker(s) died" in proc.stderr, proc.stderr[-2000:]
        elif isolated:
            assert killer == "graded", killer
        # nothing the detached process did outlived the batch
        problems = leftovers(before, after_wait_s=2.0, markers=[str(out / MARKER)])
        assert problems == [], problems
    finally:
        cleanup_markers([str(out / MARKER)])


FILES_UNSAFE = re.compile(r"\b(rmtree|os\.remove|os\.unlink|\.unlink\(|os\.rmdir|os\.rename|os\.replace|truncate\(|"
                          r"O_TRUNC)")


@pytest.mark.parametrize("fixture", [p.name for p in ATTACKS])
def test_batch_fixtures_stay_within_the_safety_rules(fixture):
    source = (FIXTURES / fixture / "transfer.py").read_text()
    assert source.startswith(f"# Hostile batch fixture {fixture}: ")
    for text in (source, (FIXTURES / "_native.py").read_text()):
        assert not FILES_UNSAFE.search(text)  # nothing deleted, renamed or truncated
        assert set(re.findall(r"\bopen\([^)]*,\s*['\"]([a-z+]+)['\"]", text)) <= {"rb", "r"}
        assert "O_TRUNC" not in text and ("O_CREAT" not in text or "O_EXCL" in text)  # creates only new files
        compile(text, fixture, "exec")
    assert "range(600)" in source or "fork" not in source  # a detached process gives up within a minute
