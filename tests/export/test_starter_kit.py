"""The starter kit: the contract's signatures, a README, no reference code, and a
grade of zero without a crash."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from grader.errors import UsageError
from grader.grading import grade_submission
from grader.starter import make_starter

ROOT = Path(__file__).resolve().parents[2]
SIGNATURES = {
    "conv.py": {"conv_forward": ["x", "w", "b", "conv_param"], "conv_backward": ["dout", "cache"]},
    "pool.py": {"max_pool_forward": ["x", "pool_param"], "max_pool_backward": ["dout", "cache"],
                "avg_pool_forward": ["x", "pool_param"], "avg_pool_backward": ["dout", "cache"]},
    "transfer.py": {"build_model": ["pretrained", "num_classes", "mode"], "make_optimizer": ["model", "mode"]},
}


@pytest.fixture(scope="module")
def kit(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("kit")
    make_starter(folder)
    return folder


def _functions(path: Path) -> dict[str, ast.FunctionDef]:
    return {n.name: n for n in ast.parse(path.read_text(encoding="utf-8")).body if isinstance(n, ast.FunctionDef)}


def test_files_and_signatures(kit):
    assert sorted(p.name for p in kit.iterdir()) == ["README.md", "conv.py", "pool.py", "transfer.py"]
    for file, expected in SIGNATURES.items():
        functions = _functions(kit / file)
        assert set(functions) == set(expected), file
        for name, args in expected.items():
            fn = functions[name]
            assert [a.arg for a in fn.args.args] == args, name
            doc = ast.get_docstring(fn)
            assert doc and "shape" in doc if file != "transfer.py" else doc, name
            body = fn.body[1:]  # after the docstring
            assert len(body) == 1 and isinstance(body[0], ast.Raise), name
            assert "NotImplementedError" in ast.unparse(body[0]) and "TODO" in ast.unparse(body[0])


def test_docstrings_give_every_shape(kit):
    conv = (kit / "conv.py").read_text(encoding="utf-8")
    for shape in ("(N, C, H, W)", "(F, C, HH, WW)", "(F,)", "(N, F, H', W')"):
        assert shape in conv
    pool = (kit / "pool.py").read_text(encoding="utf-8")
    assert "(N, C, H, W)" in pool and "(N, C, H', W')" in pool


def test_readme(kit):
    readme = (kit / "README.md").read_text(encoding="utf-8")
    for text in ("grader check .", "numpy only", "torch", "scipy.signal", "feature_extractor", "fine_tune",
                 "little data", "a lot of data", "similar to the pretraining data", "very different",
                 "1e-2", "1e-3", "momentum", "0.001", "numeric-gradient", "integrity", "accuracy"):
        assert text in readme, text


def _body_lines(path: Path) -> set[str]:
    """The stripped lines of every function body in ``path`` (docstrings left out)."""
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body[1:] if ast.get_docstring(node) is not None else node.body
            for stmt in body:
                for line in lines[stmt.lineno - 1:stmt.end_lineno]:
                    line = line.split("#")[0].strip()
                    if len(line) >= 12:  # leave out `return dx` and the like
                        found.add(line)
    return found


def test_no_reference_code(kit):
    secret = set()
    for file in [*(ROOT / "reference").glob("*.py"),
                 *(ROOT / "examples" / "submission").glob("*.py")]:
        secret |= _body_lines(file)
    assert secret
    for file in kit.iterdir():
        text = file.read_text(encoding="utf-8")
        kit_lines = {line.strip() for line in text.splitlines()}
        leaked = sorted(secret & kit_lines)
        assert not leaked, f"{file.name}: {leaked[:3]}"


def test_grades_to_zero_without_a_crash(kit):
    report = grade_submission(kit, seed=1, device="cpu", parts="conv,max_pool,avg_pool")
    assert report.tests and report.max_score > 0
    assert report.score == 0
    for test in report.tests:
        if test.max_score > 0:
            assert not test.passed, test.name
            assert "NotImplementedError" in test.feedback and "TODO" in test.feedback, test
        else:  # speed and integrity carry no points by default
            assert test.kind in ("speed", "integrity")


def test_only_the_assignment_parts(tmp_path):
    config = tmp_path / "a.toml"
    config.write_text('[assignment]\nparts = ["conv", "max_pool"]\n', encoding="utf-8")
    written = make_starter(tmp_path / "kit", config_path=config)
    assert sorted(p.name for p in written) == ["README.md", "conv.py", "pool.py"]
    assert set(_functions(tmp_path / "kit" / "pool.py")) == {"max_pool_forward", "max_pool_backward"}
    readme = (tmp_path / "kit" / "README.md").read_text(encoding="utf-8")
    assert "transfer.py" not in readme and "fine_tune" not in readme


def test_refuses_a_non_empty_folder(tmp_path):
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(UsageError, match="not empty"):
        make_starter(tmp_path)
    written = make_starter(tmp_path, force=True)
    assert (tmp_path / "notes.txt").read_text(encoding="utf-8") == "mine"
    assert (tmp_path / "conv.py") in written
    with pytest.raises(UsageError):
        make_starter(tmp_path / "notes.txt")
