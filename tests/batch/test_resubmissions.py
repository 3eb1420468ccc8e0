"""Rerunning a batch: a resubmission (changed content) is graded again, an unchanged one keeps its
results; --force regrades everyone with the class's seed (seed.txt), and a new seed comes only
when asked for (--new-seed, or a --seed of another value)."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest

from grader.batch import grade_batch
from grader.errors import UsageError

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "tests" / "check" / "fast.toml"
GOOD, BUGGY = ROOT / "examples" / "submission", ROOT / "examples" / "buggy_submission"
PARTS = "conv,max_pool"


def run(klass: Path, out: Path, **options):
    return grade_batch(klass, out, workers=2, parts=PARTS, device="cpu", config_path=CONFIG, **options)


def rows(result) -> dict[str, tuple[float, str]]:
    return {r.submission: (r.score, r.status) for r in result.rows}


def results_of(out: Path, name: str) -> list[tuple]:
    """Everything a test's result says, but the speed tests' timings."""
    data = json.loads((out / name / "results.json").read_text())
    return [(t["name"], t["score"], t["status"], t["output"]) for t in data["tests"] if "speed" not in t["tags"]]


@pytest.fixture
def klass(tmp_path) -> Path:
    folder = tmp_path / "class"
    shutil.copytree(GOOD, folder / "alice")
    shutil.copytree(BUGGY, folder / "bob")
    with zipfile.ZipFile(folder / "dave.zip", "w") as archive:
        archive.write(BUGGY / "conv.py", "conv.py")
    return folder


def test_an_edited_submission_is_graded_again_and_the_others_are_kept(klass, tmp_path):
    out = tmp_path / "out"
    first = run(klass, out, seed=4)
    assert first.rows[1].submission == "bob" and first.rows[1].parts["conv"] < 10
    shutil.copyfile(GOOD / "conv.py", klass / "bob" / "conv.py")  # bob fixes his convolution
    with zipfile.ZipFile(klass / "dave.zip", "w") as archive:  # dave uploads a new zip
        archive.write(GOOD / "conv.py", "conv.py")
    second = run(klass, out)
    assert second.resubmitted == ["bob", "dave"] and second.skipped == 1
    assert rows(second) == {"alice": (20.0, "graded (earlier run)"), "bob": (20.0, "graded"),
                            "dave": (10.0, "graded")}
    assert second.seed == first.seed == 4
    # a file that the sandbox leaves out (a link) is not what is graded: no regrade for it
    (klass / "alice" / "notes.txt").symlink_to("/etc/hostname")
    assert run(klass, out).skipped == 3


def test_force_regrades_with_the_class_seed_and_the_same_results(klass, tmp_path):
    out = tmp_path / "out"
    first = run(klass, out)  # no seed: one is drawn, and kept
    kept = int((out / "seed.txt").read_text())
    assert first.seed == kept
    before = {name: results_of(out, name) for name in ("alice", "bob", "dave")}
    again = run(klass, out, force=True)
    assert again.seed == kept and again.skipped == 0 and int((out / "seed.txt").read_text()) == kept
    assert {name: results_of(out, name) for name in ("alice", "bob", "dave")} == before
    assert all(r.status == "graded" for r in again.rows)


def test_a_new_seed_only_when_asked_for(klass, tmp_path):
    out = tmp_path / "out"
    run(klass, out, seed=11)
    fresh = run(klass, out, new_seed=True)
    assert fresh.seed != 11 and fresh.skipped == 0 and int((out / "seed.txt").read_text()) == fresh.seed
    chosen = run(klass, out, seed=12)  # another seed: every result is of another draw, so all are regraded
    assert chosen.seed == 12 and chosen.skipped == 0
    assert run(klass, out).skipped == 3  # and then it is the class's seed
    with pytest.raises(UsageError, match="--seed and --new-seed"):
        run(klass, out, seed=1, new_seed=True)


def test_another_config_regrades_everyone(klass, tmp_path):
    out = tmp_path / "out"
    run(klass, out, seed=2)
    other = tmp_path / "other.toml"
    other.write_text(CONFIG.read_text() + "\n[points]\nforward = 6.0\n")
    result = grade_batch(klass, out, workers=2, parts=PARTS, device="cpu", config_path=other)
    assert result.skipped == 0 and result.rows[0].max_score == 24  # (6 + 4 + 2) per part


def test_a_damaged_seed_file_is_one_line_and_exit_2(run_cli, klass, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "seed.txt").write_text("seven\n")
    r = run_cli("batch", str(klass), "--out", str(out), "--parts", PARTS, "--device", "cpu", "--config", str(CONFIG))
    assert r.code == 2 and "seed.txt does not hold a seed" in r.err and len(r.err.strip().splitlines()) == 1
