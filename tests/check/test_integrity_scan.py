"""The static import scan reads student files within bounds (issue 12): a file whose syntax
tree would take gigabytes is parsed in a limited child, a file the parser gives up on is a
notice, and neither costs an honest submission a point or the grader its memory."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from grader.checks import integrity
from grader.grading import grade_submission, integrity_tests, zero_on_violation
from grader.results import TestResult

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "submission"
CONFIG = Path(__file__).resolve().parent / "fast.toml"
FORBIDDEN = ("torch", "scipy.signal")
DEEP = "x = " + "+".join(["1"] * 50_000) + "\n"  # 100 KB: RecursionError in ast (and in compile) on 3.11-3.13


def write(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return folder


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="reads the peak memory from /proc")
def test_four_megabytes_of_assignments_cost_the_grader_little_memory(tmp_path):
    """2.4 GB and 20 s in the grader's process before; now the parsing child runs out of its
    own memory, the file is named as not scanned, and the grader's peak stays small."""
    write(tmp_path, {"conv.py": "import numpy as np\n", "helper.py": "a=1\n" * 1_000_000})
    script = textwrap.dedent(f"""
        from pathlib import Path
        from grader.checks import integrity
        found = integrity.scan(Path({str(tmp_path)!r}), ["conv.py"], ("torch",))
        print([(f.file, f.notice) for f in found])
        # this process image's own peak (ru_maxrss would also count the forked pytest before exec)
        with open("/proc/self/status") as status:
            print(next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) // 1024)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    found, peak_mb = done.stdout.strip().splitlines()
    assert found == "[('helper.py', True)]"
    assert int(peak_mb) < 300, f"the scan took {peak_mb} MB in the grader's process"


def test_a_deeply_nested_helper_costs_a_correct_submission_nothing(tmp_path):
    submission = tmp_path / "submission"
    shutil.copytree(EXAMPLE, submission)
    write(submission, {"deep.py": DEEP})
    report = grade_submission(submission, parts="conv", seed=2, device="cpu", config_path=CONFIG)
    assert not report.notes, report.notes  # no internal grader error
    score, max_score = report.part_score("conv")
    assert score == pytest.approx(max_score) and max_score > 0
    libraries = next(t for t in report.tests if t.name == "conv integrity: allowed libraries")
    assert libraries.passed and "deep.py not scanned: too complex" in libraries.feedback


@pytest.mark.parametrize("source", [
    DEEP,
    "x = " + "-" * 100_000 + "1\n",  # the parser's own stack: MemoryError, no memory used
    "x = a" + ".b" * 50_000 + "\n",  # (Python 3.13 parses 5,000)
])
def test_what_the_parser_gives_up_on_is_a_notice(source):
    assert integrity.scan_source(source, "deep.py", FORBIDDEN) == [
        integrity.Finding("deep.py", 0, "not scanned: too complex for Python's parser (nested too deeply, or too "
                                        "large)", notice=True)]


def test_large_files_are_scanned_in_the_child_with_the_same_results(tmp_path, monkeypatch):
    write(tmp_path, {"conv.py": "import numpy\nimport other\nfrom sub import helper\nimport torch\n",
                     "sub/helper.py": "x = 1\n" * 30_000 + "from scipy.signal import convolve2d\n",
                     "other.py": "importlib.import_module(name)\n"})
    expected = [("conv.py", 4, "torch"), ("other.py", 1, "import_module() of a computed module name"),
                ("sub/helper.py", 30_001, "scipy.signal")]
    for inline in (1 << 20, 0):  # everything here, then everything in the child
        monkeypatch.setattr(integrity, "INLINE_BYTES", inline)
        found = integrity.scan(tmp_path, ["conv.py"], FORBIDDEN)
        # each runs with the graded code: named (the sandbox's stand-in reports a use), not held against it
        assert sorted((f.file, f.line, f.what.split(", imported when the file loads")[0]) for f in found) == expected
        assert all(f.notice and "imported when the file loads" in f.what for f in found)


def test_a_child_that_runs_out_of_time_leaves_notices(tmp_path, monkeypatch):
    write(tmp_path, {"conv.py": "import torch\n", "b.py": "import numpy\n"})
    monkeypatch.setattr(integrity, "INLINE_BYTES", 0)
    monkeypatch.setattr(integrity, "CHILD_TIMEOUT_S", 0.001)  # Python cannot even start in that time
    found = integrity.scan(tmp_path, ["conv.py"], FORBIDDEN)
    assert [(f.file, f.notice) for f in found] == [("b.py", True), ("conv.py", True)]
    assert all("took more than" in f.what for f in found)


def test_oversized_files_links_and_file_counts_are_bounded(tmp_path, monkeypatch):
    write(tmp_path, {"conv.py": "import torch\n", "big.py": "#" * 5000 + "\nimport torch\n",
                     **{f"m{i}.py": "import numpy\n" for i in range(5)}})
    (tmp_path / "link.py").symlink_to("/etc/passwd")
    monkeypatch.setattr(integrity, "MAX_FILE_BYTES", 4000)
    monkeypatch.setattr(integrity, "MAX_FILES", 4)
    found = integrity.scan(tmp_path, ["conv.py"], FORBIDDEN)
    notices = {f.file: f.what for f in found if f.notice}
    assert notices["conv.py"].startswith("torch, imported when the file loads")  # named first: scanned
    assert notices["big.py"].startswith("not scanned: 5,014 bytes")
    assert notices["link.py"] == "not scanned: a symbolic link"
    assert "more than 4 .py files" in notices["."]


def test_a_notice_is_no_finding():
    notice = integrity.Finding("deep.py", 0, "not scanned: too complex", notice=True)
    tests = integrity_tests("conv", [notice], [], protections={})
    assert all(t.passed for t in tests) and "deep.py not scanned" in tests[0].feedback
    forward = TestResult("conv forward: a", "conv", "forward", 1.0, 1.0, "correct", {"passed": True})
    assert zero_on_violation([forward], [notice], []) == [forward]
    found = integrity.Finding("conv.py", 1, "torch")
    assert zero_on_violation([forward], [notice, found], [])[0].score == 0
