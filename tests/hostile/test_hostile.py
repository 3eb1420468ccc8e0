"""Every hostile or broken submission of ``submissions/`` is graded by the real grader: the part
it attacks earns nothing, its integrity tests name the reason, the other part is graded
normally, and nothing is left behind (no process, no file, no change to the grader).

The suite runs with every protection this machine offers, then a second time for the attacks
that matter most with the namespaces switched off, where the guard in the child and the user
switch are all that stand between the submission and the machine (CI runners, containers)."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.grading import grade_submission
from grader.sandbox import session as session_module
from grader.sandbox.process import namespace_support

from leftovers import (assemble, cleanup_markers, expectation_problems, fixture_dirs, leftovers, load_expect, snapshot,
                       twin_problems)

HERE = Path(__file__).resolve().parent
CONFIG = HERE / "hostile.toml"
TWINS_CONFIG = HERE / "twins.toml"  # speed carries points: an attack on the speed test must show
FIXTURES = fixture_dirs()
TWINNED = [f for f in FIXTURES if load_expect(f).twin]
# the attacks on the machine and on the grader, for the run without namespaces
WITHOUT_NAMESPACES = ("conv_kill_parent", "conv_killpg", "conv_popen_sleep", "conv_fork_bomb", "conv_network_tcp",
                      "conv_read_reference", "conv_write_grader", "conv_results_json", "conv_torch_import_module",
                      "conv_torch_spec_from_file", "conv_import_grader",
                      # the guard argued with, and what outlives a grading (issue 12)
                      "conv_guard_fspath", "conv_guard_frames", "conv_forged_audit_events", "conv_sysv_shm_ctypes",
                      "conv_dev_shm_files", "conv_read_other_scratch", "transfer_sysv_shm")


def grade(expect, tmp_path):
    submission = assemble(expect, tmp_path / expect.name)
    before = snapshot()
    try:
        report = grade_submission(submission, parts=f"{expect.part},{expect.other}", seed=1, device="cpu",
                                  config_path=CONFIG)
        problems = expectation_problems(report, expect)
        if expect.reason and all(t.passed for t in report.tests if t.part == expect.part and t.kind == "integrity"):
            problems.append(f"{expect.part}: no integrity test failed")
        problems += leftovers(before, markers=expect.markers)
    finally:
        cleanup_markers(expect.markers)
    return report, problems


@pytest.mark.parametrize("folder", FIXTURES, ids=[f.name for f in FIXTURES])
def test_a_hostile_submission_earns_nothing_and_harms_nothing(folder, tmp_path):
    expect = load_expect(folder)
    report, problems = grade(expect, tmp_path)
    assert not problems, f"{expect.name} ({expect.description}):\n" + "\n".join(problems)


@pytest.mark.parametrize("folder", TWINNED, ids=[f.name for f in TWINNED])
def test_an_attack_scores_no_more_than_its_honest_twin(folder, tmp_path):
    expect = load_expect(folder)
    reports = [grade_submission(assemble(expect, tmp_path / kind, twin=kind == "twin"), parts=expect.part, seed=1,
                                device="cpu", config_path=TWINS_CONFIG) for kind in ("attack", "twin")]
    problems = twin_problems(reports[0], reports[1], expect.part)
    assert not problems, f"{expect.name} ({expect.description}):\n" + "\n".join(problems)


@pytest.mark.parametrize("name", WITHOUT_NAMESPACES)
def test_in_a_user_namespace_it_is_contained_too(name, monkeypatch, tmp_path):
    # what a grader that is not root gets (unshare --user); forced here when the tests run as root
    monkeypatch.setenv("GRADER_SANDBOX_USERNS", "1")
    if namespace_support()[0] is None:
        pytest.skip(f"no user namespaces here: {namespace_support()[1]}")
    expect = load_expect(HERE / "submissions" / name)
    report, problems = grade(expect, tmp_path)
    assert not problems, f"{expect.name} ({expect.description}), in a user namespace:\n" + "\n".join(problems)
    sandbox = [t for t in report.tests if t.part == expect.part and t.name.endswith("sandbox rules")]
    protections = sandbox[0].details["protections"]
    assert protections["network"] == "isolated (net namespace in a user namespace)", protections
    assert protections["filesystem"].startswith("read-only outside scratch"), protections
    assert "as root of a user namespace" in protections["user"], protections


@pytest.mark.parametrize("name", WITHOUT_NAMESPACES)
def test_without_namespaces_the_guard_still_contains_it(name, monkeypatch, tmp_path):
    monkeypatch.setattr(session_module, "namespace_support", lambda: (None, "switched off by the test"))
    expect = load_expect(HERE / "submissions" / name)
    report, problems = grade(expect, tmp_path)
    assert not problems, f"{expect.name} ({expect.description}), no namespaces:\n" + "\n".join(problems)
    sandbox = [t for t in report.tests if t.part == expect.part and t.name.endswith("sandbox rules")]
    assert sandbox and sandbox[0].details["protections"]["network"] == "not available: switched off by the test"


def test_the_suite_covers_what_the_issue_lists():
    names = {f.name for f in FIXTURES}
    for needed in ("patch_allclose", "patch_assert_allclose", "patch_torch_allclose", "patch_isinstance", "sys_exit",
                   "os_exit", "kill_parent", "keyboard_interrupt", "infinite_loop", "sleep", "memory_bomb",
                   "fork_bomb", "popen_sleep", "fake_results_stdout", "fake_results_stderr", "results_json",
                   "huge_output", "import_grader", "read_reference", "write_grader", "network_tcp", "network_udp",
                   "torch_exec", "torch_import_module", "torch_getattr_builtins", "eq_subclass", "array_lies",
                   "mutate_inputs", "wrong_signature", "inf_output", "zero_d_output", "enormous_output",
                   "missing_package", "int64_output", "guard_fspath", "guard_frames", "forged_audit_events",
                   "sysv_shm_ctypes", "transfer_sysv_shm", "dev_shm_files", "read_other_scratch"):
        assert any(name.endswith(needed) for name in names), needed


def test_a_batch_with_hostile_submissions_grades_everyone(tmp_path):
    import csv
    import shutil

    from grader.batch import grade_batch

    klass = tmp_path / "class"
    shutil.copytree(HERE.parents[1] / "examples" / "submission", klass / "honest")
    names = ("conv_kill_parent", "conv_fork_bomb", "conv_memory_bomb", "conv_results_json", "conv_sys_exit")
    for name in names:
        assemble(load_expect(HERE / "submissions" / name), klass / name)
    before = snapshot()
    grade_batch(klass, tmp_path / "out", workers=2, seed=4, parts="conv,max_pool", device="cpu", config_path=CONFIG)
    with open(tmp_path / "out" / "gradebook.csv", newline="") as f:
        book = {row["submission"]: row for row in csv.DictReader(f)}
    assert set(book) == {"honest", *names}
    assert all(row["status"] == "graded" for row in book.values()), book
    assert book["honest"]["score"] == book["honest"]["max_score"] == "20"
    for name in names:
        assert book[name]["conv"] == "0" and book[name]["max_pool"] == "10", book[name]
    markers = [m for name in names for m in load_expect(HERE / "submissions" / name).markers]
    assert leftovers(before, markers=markers) == []
