"""grader batch over a folder of mixed submissions: one gradebook row each,
resumable, loss-free, and each result equal to `grader check` on it alone."""

from __future__ import annotations

import csv
import json
import os
import shutil
import zipfile
from pathlib import Path

import pytest

from grader.batch import grade_batch
from grader.grading import grade_submission

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "tests" / "check" / "fast.toml"
PARTS = "conv,max_pool,avg_pool"


@pytest.fixture(scope="module")
def klass(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("class")
    shutil.copytree(ROOT / "examples" / "submission", folder / "alice")
    shutil.copytree(ROOT / "examples" / "buggy_submission", folder / "bob")
    shutil.copytree(ROOT / "tests" / "submissions" / "sys_exit", folder / "carol")
    shutil.copytree(ROOT / "tests" / "submissions" / "prints_noise", folder / "frank")
    with zipfile.ZipFile(folder / "dave.zip", "w") as archive:
        for path in (ROOT / "examples" / "cs231n_submission").rglob("*.py"):
            archive.write(path, Path("dave") / path.relative_to(ROOT / "examples" / "cs231n_submission"))
    (folder / "erin.zip").write_bytes(b"not a zip")
    with zipfile.ZipFile(folder / "mallory.zip", "w") as archive:
        archive.writestr("../../escape.py", "print('out')")
    return folder


def gradebook(out: Path) -> dict[str, dict[str, str]]:
    with open(out / "gradebook.csv", newline="") as handle:
        return {row["submission"]: row for row in csv.DictReader(handle)}


def comparable(results: dict) -> list[tuple]:
    return [(t["name"], t["score"], t["status"], t["output"]) for t in results["tests"] if "speed" not in t["tags"]]


def test_a_mixed_class_gives_one_row_each_and_resumes(klass, tmp_path):
    out = tmp_path / "graded"
    seen = []
    result = grade_batch(klass, out, workers=2, seed=9, parts=PARTS, device="cpu", config_path=CONFIG,
                         progress=lambda done, total, row: seen.append((done, total, row.submission)))
    book = gradebook(out)
    assert set(book) == {"alice", "bob", "carol", "dave", "erin", "frank", "mallory"}
    assert list(book["alice"])[:3] == ["submission", "score", "max_score"]
    assert book["alice"]["score"] == "30" and book["alice"]["status"] == "graded"
    assert float(book["bob"]["score"]) < 30 and book["bob"]["conv"] != ""
    assert float(book["carol"]["max_pool"]) < 10 and book["carol"]["avg_pool"] == "10"
    # every row out of the assignment's 30: the cs231n layout (from a zip) has no avg_pool, 0 of its 10;
    # a submission that could not be graded is 0 of 30
    assert {row["max_score"] for row in book.values()} == {"30"}
    assert book["dave"]["score"] == "20" and book["dave"]["avg_pool"] == "0"
    assert book["erin"]["status"].startswith("error") and "zip" in book["erin"]["status"].lower()
    assert book["mallory"]["status"].startswith("error") and "unsafe" in book["mallory"]["status"]
    assert book["erin"]["score"] == book["mallory"]["score"] == "0"
    assert book["frank"]["score"] == "30"  # noise on stdout changes nothing
    for name in ("alice", "bob", "carol", "dave", "frank"):
        for file in ("results.json", "report.json", "report.html", "source.json"):
            assert (out / name / file).is_file()
    assert not (out / "erin").exists()
    assert sorted(s[2] for s in seen) == sorted(book) and seen[-1][:2] == (7, 7)
    index = (out / "index.html").read_text()
    assert "Class results" in index and "alice/report.html" in index and "flipped" in index
    assert (out / "seed.txt").read_text().strip() == "9"

    # resumable: nothing graded twice, the gradebook is the same
    again = grade_batch(klass, out, workers=2, parts=PARTS, device="cpu", config_path=CONFIG)
    assert again.seed == 9 and again.skipped == 5
    assert {r.submission: r.score for r in again.rows} == {r.submission: r.score for r in result.rows}

    # an interrupted run: a results.json missing means "not done", and only that one is regraded
    (out / "bob" / "results.json").unlink()
    third = grade_batch(klass, out, workers=1, parts=PARTS, device="cpu", config_path=CONFIG)
    assert third.skipped == 4
    assert gradebook(out)["bob"]["score"] == book["bob"]["score"]


def test_worker_processes_leave_no_scratch_folder_behind(klass, tmp_path, monkeypatch):
    import tempfile

    private = tmp_path / "tmp"  # the forked workers make their scratch folders here, and only they do
    private.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private))
    grade_batch(klass, tmp_path / "graded", workers=2, seed=2, parts="max_pool", device="cpu", config_path=CONFIG)
    # workers end through os._exit, past atexit: their reference children's folders must still go
    assert sorted(p.name for p in private.iterdir()) == []


def test_workers_forked_from_a_process_holding_a_reference_child_neither_share_nor_end_it(klass, tmp_path, monkeypatch):
    # the CI failure: an earlier test in the same process had started its reference child; the forked
    # workers used the copy (the same pipes as the parent) and left their own scratch folders behind
    import tempfile

    from grader.config import load
    from grader.grading import limits_for, reference_session

    private = tmp_path / "tmp"
    private.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private))
    limits = limits_for(load(CONFIG))
    held = reference_session(limits)
    ours = {p.name for p in private.iterdir()}
    assert held.alive  # (started here, or by an earlier test of this process: either way the workers inherit it)
    grade_batch(klass, tmp_path / "graded", workers=2, seed=2, parts=PARTS, device="cpu", config_path=CONFIG)
    assert {p.name for p in private.iterdir()} == ours  # the workers' own folders are gone, the parent's stay
    assert reference_session(limits) is held and held.alive
    os.kill(held.pid, 0)  # the parent's reference child still runs


def test_batch_results_equal_grader_check_alone(klass, tmp_path):
    out = tmp_path / "graded"
    grade_batch(klass, out, workers=2, seed=5, parts=PARTS, device="cpu", config_path=CONFIG)
    for name in ("alice", "bob", "carol"):
        alone = grade_submission(klass / name, seed=5, parts=PARTS, device="cpu", config_path=CONFIG)
        from grader.report import to_gradescope

        assert comparable(json.loads((out / name / "results.json").read_text())) == \
            comparable(json.loads(to_gradescope(alone)))


def test_the_dask_executor_gives_the_same_gradebook(klass, tmp_path):
    pytest.importorskip("dask.distributed")
    local, remote = tmp_path / "local", tmp_path / "dask"
    grade_batch(klass, local, workers=2, seed=3, parts="max_pool", device="cpu", config_path=CONFIG)
    grade_batch(klass, remote, workers=2, seed=3, parts="max_pool", device="cpu", config_path=CONFIG,
                executor="dask")
    a, b = gradebook(local), gradebook(remote)
    assert {k: (v["score"], v["status"]) for k, v in a.items()} == {k: (v["score"], v["status"]) for k, v in b.items()}


def test_bad_options_exit_2(run_cli, tmp_path):
    r = run_cli("batch", str(tmp_path / "nope"), "--out", str(tmp_path / "o"))
    assert r.code == 2 and "not a folder" in r.err
    r = run_cli("batch", str(tmp_path), "--out", str(tmp_path / "o"), "--workers", "0")
    assert r.code == 2 and "--workers" in r.err


def test_a_transfer_batch_trains_the_reference_once_while_its_workers_start(tmp_path, monkeypatch):
    """One reference per class (issue 16): trained once, here, while the workers warm up (they are
    already running), and used by every worker; the results are a lone check's."""
    import multiprocessing

    from grader.checks import transfer

    here, trained = os.getpid(), []
    real = transfer.reference_runs

    def counted(*args, **kwargs):
        if os.getpid() != here:
            raise RuntimeError("a worker trained the class's reference again")
        trained.append(len(multiprocessing.active_children()))  # the workers started before it
        return real(*args, **kwargs)

    monkeypatch.setattr(transfer, "reference_runs", counted)
    monkeypatch.setattr(transfer, "_REFERENCE_RUNS", {})
    klass = tmp_path / "class"
    for name in ("alice", "bob"):
        shutil.copytree(ROOT / "examples" / "submission", klass / name)
    out = tmp_path / "graded"
    grade_batch(klass, out, workers=2, seed=6, parts="transfer", device="cpu", config_path=CONFIG)
    assert trained == [2]
    book = gradebook(out)
    assert {name: row["status"] for name, row in book.items()} == {"alice": "graded", "bob": "graded"}
    alone = grade_submission(klass / "alice", seed=6, parts="transfer", device="cpu", config_path=CONFIG)
    from grader.report import to_gradescope

    for name in ("alice", "bob"):
        results = json.loads((out / name / "results.json").read_text())
        assert comparable(results) == comparable(json.loads(to_gradescope(alone)))
        assert results["score"] == alone.score > 0
