"""Every submission gets its row whatever its name: the batch's own file names (gradebook.csv,
index.html, seed.txt), names that are not UTF-8 (LMS exports), names a spreadsheet would run,
a zip beside a folder of the same name.  No output collides with a submission, and a rerun
works (the crash used to repeat on every rerun, with no gradebook)."""

from __future__ import annotations

import csv
import json
import os
import shutil
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from grader.batch import discover, grade_batch, output_folder
from grader.gradebook import OUTPUTS

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "tests" / "check" / "fast.toml"
GOOD = ROOT / "examples" / "submission"
NOT_UTF8 = os.fsdecode(b"Jos\xe9 Garc\xeda")  # a Latin-1 name, as an old zip tool writes it


def _zip(folder: Path, target: Path) -> None:
    with zipfile.ZipFile(target, "w") as archive:
        for path in folder.glob("*.py"):
            archive.write(path, path.name)


@pytest.fixture(scope="module")
def odd_class(tmp_path_factory) -> Path:
    klass = tmp_path_factory.mktemp("odd") / "class"
    for name in ("gradebook.csv", "seed.txt", NOT_UTF8, "=HYPERLINK(\"evil.example\")", "%41", "alice"):
        shutil.copytree(GOOD, klass / name)
    _zip(GOOD, klass / "index.html.zip")  # a zip named index.html once .zip is dropped
    _zip(GOOD, klass / "alice.zip")  # beside the folder alice: keeps its .zip
    return klass


def read_book(out: Path) -> list[dict[str, str]]:
    with open(out / "gradebook.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_colliding_and_odd_names_each_get_a_row_and_a_folder_of_their_own(odd_class, tmp_path):
    out = tmp_path / "out"
    result = grade_batch(odd_class, out, workers=2, seed=3, parts="max_pool", device="cpu", config_path=CONFIG)
    book = read_book(out)
    shown = {"gradebook.csv", "seed.txt", "index.html", "Jos\\xe9 Garc\\xeda", "'=HYPERLINK(\"evil.example\")", "%41",
             "alice", "alice.zip"}
    assert {row["submission"] for row in book} == shown
    assert all(row["status"] == "graded" and row["score"] == row["max_score"] == "10" for row in book), book
    # the class's files are files, and each submission's results sit in a folder of its own
    assert (out / "gradebook.csv").is_file() and (out / "index.html").is_file() and (out / "seed.txt").is_file()
    assert (out / "seed.txt").read_text() == "3\n"
    folders = {r.folder for r in result.rows}
    assert len(folders) == len(result.rows) and folders.isdisjoint(OUTPUTS)
    assert {"%gradebook.csv", "%seed.txt", "%index.html", "%%2541", "alice", "alice.zip"} <= folders
    for row in result.rows:
        results = json.loads((out / row.folder / "results.json").read_text())
        assert results["score"] == 10
        source = json.loads((out / row.folder / "source.json").read_text())
        assert source["submission"] == row.submission
    not_utf8 = next(r for r in result.rows if r.submission.startswith("Jos"))
    assert bytes.fromhex(json.loads((out / not_utf8.folder / "source.json").read_text())["name_bytes"]) == \
        os.fsencode(NOT_UTF8)
    # the class page links each report by its folder, and shows the names escaped
    page = (out / "index.html").read_text(encoding="utf-8")
    assert 'href="%25gradebook.csv/report.html"' in page and 'href="%25%252541/report.html"' in page
    assert "=HYPERLINK(&#34;evil.example&#34;)" in page or "=HYPERLINK(&quot;evil.example&quot;)" in page

    again = grade_batch(odd_class, out, workers=2, parts="max_pool", device="cpu", config_path=CONFIG)
    assert again.skipped == len(shown)
    assert [{**row, "status": "graded"} for row in read_book(out)] == book
    assert {row["status"] for row in read_book(out)} == {"graded (earlier run)"}


def test_the_cli_writes_a_gradebook_for_them_too(run_cli, odd_class, tmp_path):
    out = tmp_path / "out"
    r = run_cli("batch", str(odd_class), "--out", str(out), "--seed", "3", "--parts", "max_pool", "--device", "cpu",
                "--config", str(CONFIG), "--workers", "2")
    assert r.code == 0, r.err
    assert "Traceback" not in r.err and len(read_book(out)) == 8


def test_a_formula_in_a_name_is_written_as_text():
    from grader.gradebook import Row, gradebook_csv

    text = gradebook_csv([Row("=1+2", 3.0, 10.0, {"conv": 3.0}, "error: @SUM(A1)"), Row("-3", 0, 10.0, {})],
                         ["conv"])
    rows = list(csv.reader(text.splitlines()))
    assert rows[1] == ["'=1+2", "3", "10", "3", "error: @SUM(A1)"]
    assert rows[2][0] == "'-3" and rows[2][1] == "0"  # a score stays a number


def test_the_output_folder_is_not_a_submission_when_it_lies_inside_the_class(tmp_path):
    klass = tmp_path / "class"
    shutil.copytree(GOOD, klass / "alice")
    (klass / "graded").mkdir()
    assert [s.name for s in discover(klass, exclude=klass / "graded")] == ["alice"]


def test_a_zip_that_shares_a_name_keeps_its_suffix(tmp_path):
    for folder in ("a", "b.zip"):
        (tmp_path / folder).mkdir()
    for file in ("a.zip", "a.zip.zip", "b.zip.zip", "c.zip", "c.ZIP"):
        (tmp_path / file).write_bytes(b"")
    names = sorted(s.name for s in discover(tmp_path))
    # a (folder), a.zip (kept whole: a is taken), a.zip.zip (its stem a.zip is taken by the one kept whole),
    # b.zip (folder), b.zip.zip, and c.zip / c.ZIP (same stem: both kept whole)
    assert names == ["a", "a.zip", "a.zip.zip", "b.zip", "b.zip.zip", "c.ZIP", "c.zip"]
    assert len(set(names)) == len(names)


names = st.binary(min_size=1, max_size=255).filter(lambda b: b"/" not in b and b"\0" not in b
                                                    and b not in (b".", b".."))


@given(st.lists(names, min_size=2, max_size=6, unique=True))
def test_output_folders_never_meet_and_are_valid_file_names(raw_names):
    decoded = [os.fsdecode(b) for b in raw_names]
    folders = [output_folder(n) for n in decoded]
    assert len(set(folders)) == len(folders)  # two submissions never share a folder
    reserved = {o.casefold() for o in OUTPUTS}
    for name, folder in zip(decoded, folders):
        encoded = os.fsencode(folder)
        assert folder.encode("utf-8") and len(encoded) <= 255 and b"/" not in encoded
        assert folder.casefold() not in reserved and not folder.startswith(".")
        if folder != name:  # escaped: a plain name never starts with %
            assert folder.startswith("%")
