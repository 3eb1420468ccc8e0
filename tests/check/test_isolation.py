"""--require-isolation and [sandbox] require_isolation refuse to grade without namespaces, with
one line saying why; every report says what each part's sandbox child had (issue 12)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grader import report as reporters
from grader.errors import UsageError
from grader.grading import check_isolation, grade_submission
from grader.report.common import sandbox_lines
from grader.results import Report, TestResult
from grader.sandbox import session as session_module
from grader.sandbox.process import namespace_support

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "submission"
CONFIG = Path(__file__).resolve().parent / "fast.toml"
NO_SYS_ADMIN = ["setpriv", "--bounding-set=-sys_admin", "--"]
can_drop = pytest.mark.skipif(not (hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("setpriv")),
                              reason="needs root and setpriv to take CAP_SYS_ADMIN away")
has_namespaces = pytest.mark.skipif(namespace_support()[0] is None, reason="no namespaces here")


def grader(*args: str, prefix=()) -> subprocess.CompletedProcess:
    return subprocess.run([*prefix, sys.executable, "-m", "grader", *args], capture_output=True, text=True,
                          timeout=300, cwd=ROOT)


@can_drop
@pytest.mark.parametrize("command", [["check", str(EXAMPLE)], ["batch", str(EXAMPLE.parent), "--out", "OUT"]],
                         ids=["check", "batch"])
def test_without_cap_sys_admin_it_refuses_in_one_line(command, tmp_path):
    command = [str(tmp_path / "out") if part == "OUT" else part for part in command]
    done = grader(*command, "--require-isolation", prefix=NO_SYS_ADMIN)
    assert done.returncode == 2, done.stderr
    assert done.stdout == "" and done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("grader: error: isolation is required (--require-isolation")
    assert "CAP_SYS_ADMIN" in done.stderr  # why: unshare is not permitted without it
    assert not (tmp_path / "out").exists()


@can_drop
def test_without_cap_sys_admin_and_no_requirement_it_grades_and_says_so(tmp_path):
    done = grader("check", str(EXAMPLE), "--parts", "conv", "--seed", "2", "--config", str(CONFIG),
                  "--format", "json", prefix=NO_SYS_ADMIN)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["score"] == data["max_score"] > 0
    (sandbox,) = data["sandboxes"]
    assert sandbox["parts"] == ["conv"]
    assert sandbox["protections"]["network"].startswith("not available: unshare")
    assert sandbox["protections"]["filesystem"].startswith("not available: unshare")


@has_namespaces
def test_with_namespaces_it_grades():
    done = grader("check", str(EXAMPLE), "--parts", "conv", "--seed", "2", "--config", str(CONFIG),
                  "--require-isolation")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[1].startswith("sandbox of conv: network: isolated (net namespace"), lines[:4]
    assert "processes: pid namespace" in done.stdout and "Score: 10 / 10" in done.stdout


def test_the_assignment_key_asks_for_it_too(tmp_path, monkeypatch):
    monkeypatch.setattr(session_module, "namespace_support", lambda: (None, "switched off by the test"))
    config = tmp_path / "assignment.toml"
    config.write_text("[sandbox]\nrequire_isolation = true\n")
    with pytest.raises(UsageError, match="isolation is required .*: switched off by the test"):
        grade_submission(EXAMPLE, parts="conv", seed=1, device="cpu", config_path=config)
    with pytest.raises(UsageError, match="switched off by the test"):
        grade_submission(EXAMPLE, parts="conv", seed=1, device="cpu", require_isolation=True)


def test_a_child_that_lacked_a_namespace_is_refused():
    isolated = {"network": "isolated (net namespace)", "processes": "pid namespace",
                "filesystem": "read-only outside scratch", "user": "uid 65534 (nobody)"}
    check_isolation(isolated, "conv")
    for key in ("network", "processes", "filesystem"):
        for had in ("not available: the mounts failed", "not requested"):
            with pytest.raises(UsageError, match=f"the conv part's sandbox ran without it \\({key}: {had}\\)"):
                check_isolation({**isolated, key: had}, "conv")
    with pytest.raises(UsageError, match="network: not reported"):
        check_isolation({}, "transfer")


def _integrity(part: str, protections: dict) -> TestResult:
    return TestResult(f"{part} integrity: sandbox rules", part, "integrity", 1.0, 1.0, "ok",
                      {"passed": True, "protections": protections})


def test_every_report_says_what_each_child_had():
    numpy_child = {"network": "isolated (net namespace)", "processes": "pid namespace", "user": "uid 65534"}
    torch_child = {"network": "not available: no unshare command", "processes": "not available: no unshare command",
                   "user": "root"}
    report = Report("s", 1, tests=[_integrity("conv", numpy_child), _integrity("max_pool", numpy_child),
                                   _integrity("transfer", torch_child)],
                    protections={"namespaces": True})
    expected = ["sandbox of conv, max_pool: network: isolated (net namespace); processes: pid namespace; "
                "user: uid 65534",
                "sandbox of transfer: network, processes: not available: no unshare command; user: root"]
    assert sandbox_lines(report) == expected
    outputs = {fmt: _render(report, fmt) for fmt in ("text", "gradescope", "json", "junit", "html")}
    assert "sandbox of conv, max_pool: network: isolated (net namespace)" in " ".join(outputs["text"].split())
    assert all(line in json.loads(outputs["gradescope"])["output"] for line in expected)
    assert [s["parts"] for s in json.loads(outputs["json"])["sandboxes"]] == [["conv", "max_pool"], ["transfer"]]
    assert outputs["junit"].count('name="sandbox"') == 3  # one property in each part's suite
    assert "sandbox of conv, max pool" in outputs["html"] and "no unshare command" in outputs["html"]


def _render(report: Report, fmt: str) -> str:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"report.{fmt}"
        reporters.write(report, fmt, str(path))
        return path.read_text(encoding="utf-8")


def test_the_assignment_key_stops_a_batch_before_any_worker(tmp_path, monkeypatch):
    # not an error row per submission: one UsageError, and nothing written
    from grader.batch import grade_batch

    monkeypatch.setattr(session_module, "namespace_support", lambda: (None, "switched off by the test"))
    config = tmp_path / "assignment.toml"
    config.write_text("[sandbox]\nrequire_isolation = true\n")
    with pytest.raises(UsageError, match="switched off by the test"):
        grade_batch(EXAMPLE.parent, tmp_path / "out", config_path=config)
    assert not (tmp_path / "out").exists()
