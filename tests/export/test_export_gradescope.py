"""The Gradescope bundle: its layout, and its run_autograder run locally against
the example submission and against an empty one."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from grader.errors import InputFileError, UsageError
from grader.export import export_gradescope
from grader.sandbox.process import namespace_support

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "submission"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    return export_gradescope(tmp_path_factory.mktemp("bundle") / "autograder.zip")


def _mode(info: zipfile.ZipInfo) -> int:
    return (info.external_attr >> 16) & 0o777


def test_bundle_layout(bundle):
    with zipfile.ZipFile(bundle) as archive:
        infos = {i.filename: i for i in archive.infolist()}
        names = set(infos)
        assert {"setup.sh", "run_autograder", "assignment.toml", "grader-src/pyproject.toml",
                "grader-src/README.md"} <= names
        assert _mode(infos["setup.sh"]) & 0o111 == 0o111
        assert _mode(infos["run_autograder"]) & 0o111 == 0o111
        assert _mode(infos["assignment.toml"]) & 0o111 == 0
        for folder in ("grader", "problems", "reference", "templates"):
            assert any(n.startswith(f"grader-src/{folder}/") for n in names), folder
        assert "grader-src/grader/transfer/weights/tinyresnet_shapes10.pt" in names
        assert "grader-src/grader/assignments/default.toml" in names
        for name in names:
            parts = name.split("/")
            assert "tests" not in parts and "__pycache__" not in parts and ".git" not in parts, name
            assert not name.endswith(".pyc"), name
        setup = archive.read("setup.sh").decode()
        assert setup.startswith("#!/usr/bin/env bash")
        assert "apt-get install -y python3 python3-pip" in setup
        assert "torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu" in setup
        assert "install ./grader-src" in setup
        run = archive.read("run_autograder").decode()
        assert run.startswith("#!/usr/bin/env bash")
        assert "--format gradescope" in run and "--fail-under 0" in run and "--config" in run
        default = (ROOT / "grader" / "assignments" / "default.toml").read_text(encoding="utf-8")
        assert archive.read("assignment.toml").decode() == default


def test_bundle_ships_the_given_config(tmp_path):
    config = tmp_path / "a.toml"
    config.write_text('[assignment]\nparts = ["conv"]\n', encoding="utf-8")
    with zipfile.ZipFile(export_gradescope(tmp_path / "out" / "ag.zip", config)) as archive:
        assert archive.read("assignment.toml").decode() == config.read_text(encoding="utf-8")
        assert "conv.py sit at the top level" in archive.read("run_autograder").decode()


def test_bad_config_and_bad_target(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[assignment]\nparts = ["nope"]\n', encoding="utf-8")
    with pytest.raises(InputFileError):
        export_gradescope(tmp_path / "ag.zip", bad)
    with pytest.raises(UsageError):
        export_gradescope(tmp_path)  # a folder, not a zip path


def _install(bundle: Path, root: Path) -> Path:
    """Unpack the bundle as Gradescope does: into ROOT/source, modes kept."""
    source = root / "source"
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(source)
        for info in archive.infolist():
            os.chmod(source / info.filename, _mode(info))
    (root / "submission").mkdir()
    return source / "run_autograder"


def _run(script: Path, root: Path, **env: str) -> dict:
    environment = {**os.environ, "AUTOGRADER_ROOT": str(root), "GRADER_BIN": f"{sys.executable} -m grader",
                   "GRADER_PYTHON": sys.executable, "GRADER_DEVICE": "cpu", **env}
    done = subprocess.run([str(script)], cwd=root, env=environment, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr  # Gradescope ignores it; the script always exits 0
    return json.loads((root / "results" / "results.json").read_text(encoding="utf-8"))


@pytest.mark.skipif(shutil.which("bash") is None, reason="run_autograder is a bash script")
def test_run_autograder_grades_the_example(bundle, tmp_path):
    script = _install(bundle, tmp_path)
    for file in EXAMPLE.glob("*.py"):
        shutil.copy(file, tmp_path / "submission" / file.name)
    isolation = "1" if namespace_support()[0] else "0"  # here: the setting without namespaces is tested below
    results = _run(script, tmp_path, GRADER_PARTS="conv,max_pool,avg_pool", GRADER_SEED="3",
                   GRADER_REQUIRE_ISOLATION=isolation)
    assert results["max_score"] > 0 and results["score"] == pytest.approx(results["max_score"])
    assert results["tests"]
    for test in results["tests"]:
        assert {"name", "score", "max_score", "status", "output", "tags"} <= test.keys()
        assert test["status"] == "passed", test
        assert test["tags"][0] in ("conv", "max_pool", "avg_pool")
    # the student's folder was graded as a copy and left alone
    assert sorted(p.name for p in (tmp_path / "submission").iterdir()) == sorted(p.name for p in EXAMPLE.glob("*.py"))


@pytest.mark.skipif(shutil.which("bash") is None, reason="run_autograder is a bash script")
def test_run_autograder_falls_back_on_an_empty_submission(bundle, tmp_path):
    script = _install(bundle, tmp_path)
    results = _run(script, tmp_path)
    assert results["score"] == 0
    assert results["tests"] == []
    assert "could not grade" in results["output"]
    assert "no submission found" in results["output"]
    assert "top level" in results["output"]


@pytest.mark.skipif(shutil.which("bash") is None, reason="run_autograder is a bash script")
def test_run_autograder_falls_back_when_the_grader_is_missing(bundle, tmp_path):
    script = _install(bundle, tmp_path)
    shutil.copy(EXAMPLE / "conv.py", tmp_path / "submission" / "conv.py")
    results = _run(script, tmp_path, GRADER_BIN=str(tmp_path / "no-such-grader"))
    assert results["score"] == 0 and "exit code 127" in results["output"]


def test_the_bundle_requires_isolation_unless_told_not_to(bundle):
    with zipfile.ZipFile(bundle) as archive:
        run = archive.read("run_autograder").decode()
    assert 'if [ "${GRADER_REQUIRE_ISOLATION:-1}" != "0" ]; then ARGS+=(--require-isolation); fi' in run


@pytest.mark.skipif(shutil.which("bash") is None, reason="run_autograder is a bash script")
def test_without_namespaces_the_bundle_refuses_and_says_why(bundle, tmp_path):
    """As root without CAP_SYS_ADMIN (setpriv), or where this machine has no namespaces anyway."""
    script = _install(bundle, tmp_path)
    for file in EXAMPLE.glob("*.py"):
        shutil.copy(file, tmp_path / "submission" / file.name)
    if namespace_support()[0]:
        if os.geteuid() != 0 or shutil.which("setpriv") is None:
            pytest.skip("namespaces here, and no way to take them away (setpriv as root)")
        run_autograder, script = script, tmp_path / "without-namespaces.sh"
        script.write_text(f'#!/bin/sh\nexec setpriv --bounding-set=-sys_admin -- "{run_autograder}"\n')
        script.chmod(0o755)
    results = _run(script, tmp_path, GRADER_PARTS="conv")
    assert results["score"] == 0 and results["tests"] == []
    assert "isolation is required" in results["output"] and "could not grade" in results["output"]
