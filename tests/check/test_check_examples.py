"""grader check on the shipped examples, through the library and the CLI:
full marks for correct code in both layouts, named bugs for the buggy one,
determinism, exit codes and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grader.grading import grade_submission

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
CONFIG = Path(__file__).resolve().parent / "fast.toml"


def test_correct_native_submission_scores_full_marks():
    report = grade_submission(EXAMPLES / "submission", seed=3, device="cpu", config_path=CONFIG)
    assert report.layout == "native"
    assert report.parts() == ["conv", "max_pool", "avg_pool", "transfer"]
    failed = [(t.name, t.feedback) for t in report.tests if not t.passed]
    assert not failed
    assert report.score == pytest.approx(report.max_score) and report.max_score == 38
    kinds = {(t.part, t.kind) for t in report.tests}
    for part in ("conv", "max_pool", "avg_pool"):
        for kind in ("forward", "backward", "numeric-gradient", "speed", "integrity"):
            assert (part, kind) in kinds
    speed = [t for t in report.tests if t.kind == "speed"]
    assert all(t.max_score == 0 for t in speed) and len(speed) == 5
    assert all("vectorized reference" in t.feedback for t in speed if t.part != "transfer")
    assert all("reference pipeline" in t.feedback for t in speed if t.part == "transfer")


def test_cs231n_layout_grades_its_two_parts_without_dilation():
    report = grade_submission(EXAMPLES / "cs231n_submission", seed=3, device="cpu", config_path=CONFIG)
    assert report.layout == "cs231n"
    assert report.parts() == ["conv", "max_pool"]
    assert not [t.name for t in report.tests if not t.passed]
    assert not any("dilation" in t.name for t in report.tests)
    assert any("avg_pool" in note for note in report.notes)


def test_buggy_example_names_its_bugs():
    report = grade_submission(EXAMPLES / "buggy_submission", seed=3, device="cpu", config_path=CONFIG,
                              parts="conv,max_pool,avg_pool")
    feedback = {(t.part, t.kind): t.feedback for t in report.tests if not t.passed}
    assert "flipped" in feedback[("conv", "forward")]
    assert "db" in feedback[("conv", "backward")]
    assert "divide" in feedback[("avg_pool", "backward")]
    assert report.part_score("max_pool")[0] == pytest.approx(report.part_score("max_pool")[1])


def test_same_seed_same_results():
    def summary(report):
        return [(t.name, round(t.score, 9), t.feedback) for t in report.tests if t.kind != "speed"]

    runs = [grade_submission(EXAMPLES / "buggy_submission", seed=42, device="cpu", config_path=CONFIG,
                             parts="conv,max_pool,avg_pool") for _ in range(3)]
    assert summary(runs[0]) == summary(runs[1]) == summary(runs[2])
    assert runs[0].seed == 42


def test_parts_option_limits_the_run():
    report = grade_submission(EXAMPLES / "submission", parts="max_pool", seed=1, device="cpu", config_path=CONFIG)
    assert report.parts() == ["max_pool"]


def test_cli_exit_codes_and_json(run_cli, tmp_path):
    out = tmp_path / "r.json"
    ok = run_cli("check", str(EXAMPLES / "submission"), "--seed", "1", "--device", "cpu", "--config", str(CONFIG),
                 "--format", "gradescope", "--out", str(out))
    assert ok.code == 0, ok.err
    data = json.loads(out.read_text())
    assert data["score"] == pytest.approx(data["max_score"]) and data["tests"]
    bad = run_cli("check", str(EXAMPLES / "buggy_submission"), "--seed", "1", "--device", "cpu", "--config",
                  str(CONFIG), "--parts", "conv", "--format", "json", "--out", str(tmp_path / "b.json"))
    assert bad.code == 1
    lenient = run_cli("check", str(EXAMPLES / "buggy_submission"), "--seed", "1", "--device", "cpu", "--config",
                      str(CONFIG), "--parts", "conv", "--fail-under", "10", "--format", "json",
                      "--out", str(tmp_path / "c.json"))
    assert lenient.code == 0


def test_one_grading_writes_every_format_asked_for(run_cli, tmp_path, monkeypatch):
    # CI wants JUnit, HTML and results.json of the same run: one grading, not three
    import xml.etree.ElementTree as ET

    import grader.grading

    gradings = []
    real = grader.grading.grade_submission
    monkeypatch.setattr(grader.grading, "grade_submission", lambda *a, **k: gradings.append(1) or real(*a, **k))
    out = tmp_path / "results"
    r = run_cli("check", str(EXAMPLES / "buggy_submission"), "--seed", "2", "--device", "cpu", "--config",
                str(CONFIG), "--parts", "conv", "--fail-under", "0", "--format", "junit", "--out", str(out / "junit.xml"),
                "--also", f"html={out / 'report.html'}", "--also", f"gradescope={out / 'results.json'}")
    assert r.code == 0, r.err
    assert len(gradings) == 1
    assert "reports written to" in r.err and str(out / "results.json") in r.err
    results = json.loads((out / "results.json").read_text())
    cases = list(ET.parse(out / "junit.xml").getroot().iter("testcase"))
    assert sorted(c.get("name") for c in cases) == sorted(t["name"] for t in results["tests"])
    failed = {t["name"] for t in results["tests"] if t["status"] == "failed"}
    skipped = {c.get("name") for c in cases if c.find("skipped") is not None}  # did not run: never "passed"
    assert failed == {c.get("name") for c in cases if c.find("failure") is not None} | skipped
    assert skipped and all(t["output"].startswith("not run") for t in results["tests"] if t["name"] in skipped)
    html = (out / "report.html").read_text()
    assert all(name in html for name in failed)


def test_a_report_path_that_cannot_be_written_is_refused_before_grading(run_cli, tmp_path, monkeypatch):
    import grader.grading

    def must_not_grade(*args, **kwargs):
        raise AssertionError("graded although the report could not be written")

    monkeypatch.setattr(grader.grading, "grade_submission", must_not_grade)
    folder = tmp_path / "a-folder"
    folder.mkdir()
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    for args, message in (
        (["--out", str(folder)], "it is a folder"),
        (["--out", str(blocker / "r.json")], "cannot create the folder"),
        (["--also", f"html={folder}"], "it is a folder"),
        (["--also", "html"], "FORMAT=FILE"),
        (["--also", f"pdf={tmp_path / 'r.pdf'}"], "unknown format 'pdf'"),
        (["--out", str(tmp_path / "r.json"), "--also", f"html={tmp_path / 'r.json'}"], "the same file twice"),
    ):
        r = run_cli("check", str(EXAMPLES / "submission"), *args)
        assert r.code == 2 and message in r.err, (args, r.err)
        assert len(r.err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "args, message",
    [
        (["/nonexistent/folder"], "does not exist"),
        ([str(ROOT / "templates")], "no submission found"),
        ([str(EXAMPLES / "submission"), "--parts", "convolution"], "unknown part 'convolution'"),
        ([str(EXAMPLES / "submission"), "--config", "/nonexistent.toml"], "cannot read config"),
        ([str(EXAMPLES / "submission"), "--format", "pdf"], "Invalid value for '--format'"),
        ([str(EXAMPLES / "submission"), "--fail-under", "120"], "--fail-under"),
    ],
)
def test_usage_errors_exit_2_with_one_line(run_cli, args, message):
    r = run_cli("check", *args)
    assert r.code == 2
    assert message in r.err, r.err
    assert len(r.err.strip().splitlines()) == 1


def test_bad_config_values_are_named(tmp_path, run_cli):
    cfg = tmp_path / "a.toml"
    cfg.write_text('[assignment]\nparts = ["conv", "fft"]\n')
    r = run_cli("check", str(EXAMPLES / "submission"), "--config", str(cfg))
    assert r.code == 2 and "[assignment] parts" in r.err
    cfg.write_text("[limits]\ncall_timeout_s = -1\n")
    r = run_cli("check", str(EXAMPLES / "submission"), "--config", str(cfg))
    assert r.code == 2 and "call_timeout_s" in r.err
    cfg.write_text("not toml [")
    r = run_cli("check", str(EXAMPLES / "submission"), "--config", str(cfg))
    assert r.code == 2 and "not valid TOML" in r.err
