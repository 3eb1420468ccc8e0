"""The GitHub Actions workflow and its badge."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.errors import UsageError
from grader.export import export_github

try:
    import yaml
except ImportError:  # not a dependency: the text checks below still run
    yaml = None


FAST = Path(__file__).resolve().parents[1] / "check" / "fast.toml"
WHEEL = ".grader/cnn_grader_student-0.1.0-py3-none-any.whl"


def _workflow(tmp_path, **kwargs) -> tuple[dict | None, str]:
    written = export_github(tmp_path, **kwargs)
    path = tmp_path / ".github" / "workflows" / "grader.yml"
    assert path in written and (tmp_path / "BADGE.md") in written and (tmp_path / "GRADING.md") in written
    text = path.read_text(encoding="utf-8")
    return (yaml.safe_load(text) if yaml else None), text


def test_workflow_text(tmp_path):
    _, text = _workflow(tmp_path)
    for line in ("on:", "  push:", "  pull_request:", "runs-on: ubuntu-latest", "uses: actions/checkout@v4",
                 "uses: actions/setup-python@v5", 'python-version: "3.11"', "uses: actions/upload-artifact@v4",
                 "pip install torch --index-url https://download.pytorch.org/whl/cpu", f"pip install {WHEEL}",
                 'FAIL_UNDER: "100"', "$GITHUB_STEP_SUMMARY"):
        assert line in text, line
    assert ("grader check . --format junit --out grader-results/junit.xml --also html=grader-results/report.html "
            "--also json=grader-results/results.json --fail-under 0") in text
    assert "--seed" not in text  # the student install grades its public cases, whose inputs are fixed
    assert "\t" not in text


def test_the_workflow_installs_the_wheel_it_ships_and_says_where_hidden_grading_happens(tmp_path):
    # `pip install cnn-grader` found nothing on any index: the workflow installs the committed student wheel
    _workflow(tmp_path, config_path=FAST)
    assert (tmp_path / WHEEL).is_file()
    grading = (tmp_path / "GRADING.md").read_text(encoding="utf-8")
    assert WHEEL in grading and "drawn fresh for every grading" in grading
    assert "grader export gradescope" in grading and "grader batch" in grading


@pytest.mark.skipif(yaml is None, reason="PyYAML is not installed")
def test_workflow_steps(tmp_path):
    data, text = _workflow(tmp_path)
    triggers = data.get("on", data.get(True))  # YAML 1.1 reads a bare `on` as true
    assert set(triggers) == {"push", "pull_request"}
    job = data["jobs"]["grade"]
    assert job["runs-on"] == "ubuntu-latest"
    assert job["env"]["FAIL_UNDER"] == "100"
    steps = job["steps"]
    uses = [s.get("uses") for s in steps]
    assert "actions/checkout@v4" in uses and "actions/setup-python@v5" in uses
    assert "actions/upload-artifact@v4" in uses
    setup = next(s for s in steps if s.get("uses") == "actions/setup-python@v5")
    assert str(setup["with"]["python-version"]) == "3.11"
    runs = "\n".join(s.get("run", "") for s in steps)
    assert "pip install torch --index-url https://download.pytorch.org/whl/cpu" in runs
    assert f"pip install {WHEEL}" in runs
    assert ("grader check . --format junit --out grader-results/junit.xml --also html=grader-results/report.html "
            "--also json=grader-results/results.json --fail-under 0") in runs
    assert runs.count("grader check") == 1 and "--seed" not in runs  # one grading, of the public cases
    assert "$GITHUB_STEP_SUMMARY" in runs
    assert "FAIL_UNDER" in steps[-1]["run"] and "sys.exit(1" in steps[-1]["run"]
    artifact = next(s for s in steps if s.get("uses") == "actions/upload-artifact@v4")
    assert artifact["with"]["path"].rstrip("/") == "grader-results"
    assert "--config" not in text and not (tmp_path / "assignment.toml").exists()


def test_badge(tmp_path):
    export_github(tmp_path)
    badge = (tmp_path / "BADGE.md").read_text(encoding="utf-8")
    assert "![grader](https://github.com/OWNER/REPO/actions/workflows/grader.yml/badge.svg)" in badge
    assert "OWNER" in badge.split("```")[0] and "REPO" in badge.split("```")[0]


def test_options_and_config_copy(tmp_path):
    config = tmp_path / "mine.toml"
    config.write_text('[assignment]\nparts = ["conv"]\n', encoding="utf-8")
    out = tmp_path / "repo"
    data, text = _workflow(out, config_path=config, grader_spec="git+https://example.org/grader.git@v1",
                           fail_under=80)
    assert (out / "assignment.toml").read_text(encoding="utf-8") == config.read_text(encoding="utf-8")
    assert text.count("--config assignment.toml") == 1
    assert "pip install git+https://example.org/grader.git@v1" in text
    assert text.count("--seed ${{ github.run_id }}") == 1  # the course's own build grades fresh inputs
    assert not (out / ".grader").exists()
    assert 'FAIL_UNDER: "80"' in text
    if data is not None:
        assert data["jobs"]["grade"]["env"]["FAIL_UNDER"] == "80"


def test_bad_arguments(tmp_path):
    with pytest.raises(UsageError):
        export_github(tmp_path, fail_under=120)
    with pytest.raises(UsageError):
        export_github(tmp_path, grader_spec=" ")


@pytest.mark.skipif(yaml is None, reason="PyYAML is not installed")
def test_the_workflow_steps_run_here_and_gate_on_the_score(tmp_path):
    # every step after the installs, run as GitHub would (bash, the job's env, the step summary file)
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    config = tmp_path / "fast.toml"
    config.write_text('[assignment]\nparts = ["conv", "max_pool"]\n\n[limits]\ncall_timeout_s = 3.0\n\n'
                      '[speed]\nrepeats = 1\n', encoding="utf-8")

    def run_steps(submission: str, fail_under: int) -> tuple[list[int], str]:
        repo = tmp_path / f"{submission}-{fail_under}"
        shutil.copytree(root / "examples" / submission, repo)
        data, _ = _workflow(repo, config_path=config, fail_under=fail_under)
        job = data["jobs"]["grade"]
        summary = repo / "summary.md"
        env = {**os.environ, **job["env"], "GITHUB_STEP_SUMMARY": str(summary),
               "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
        codes = []
        for step in job["steps"]:
            script = step.get("run")
            if not script or "pip install" in script:
                continue
            script = script.replace("${{ github.run_id }}", "7")
            codes.append(subprocess.run(["bash", "-e", "-c", script], cwd=repo, env=env, capture_output=True,
                                        timeout=300).returncode)
        for name in ("junit.xml", "report.html", "results.json"):
            assert (repo / "grader-results" / name).is_file(), name
        return codes, summary.read_text(encoding="utf-8")

    codes, summary = run_steps("submission", 100)
    assert codes == [0, 0, 0] and "## grader: 20 / 20 (100.0%)" in summary
    codes, summary = run_steps("buggy_submission", 100)
    assert codes[:2] == [0, 0] and codes[2] == 1  # graded and summarised, then the gate fails the job
    assert "## grader: " in summary and "(100.0%)" not in summary
