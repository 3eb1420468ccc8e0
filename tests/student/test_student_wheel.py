"""What students install: ``grader export student`` writes a wheel that holds no answers,
installs in a fresh virtual environment, and grades there in student mode.

"No answers" is proved by reading the wheel: no function of the references (the loop,
vectorized and torch layers, the wrong-variant catalogue, the transfer data generator
and reference solution) nor of the problem bank is inside it, compared as syntax trees
with every name normalised away, so that a renamed copy is found too.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from grader.student.build import DISTRIBUTION, export_student

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
CONFIG = ROOT / "tests" / "check" / "fast.toml"
SECRET_FOLDERS = ("reference", "problems")


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("release")
    written = export_student(out, config_path=CONFIG)
    assert written[0].name.startswith(DISTRIBUTION) and written[0].suffix == ".whl"
    return out


@pytest.fixture(scope="module")
def wheel(release) -> zipfile.ZipFile:
    (path,) = release.glob("*.whl")
    with zipfile.ZipFile(path) as archive:
        yield archive


class _Anonymise(ast.NodeTransformer):
    """Names of variables and arguments become v0, v1, ... in order of appearance;
    docstrings and the function's own name go."""

    def __init__(self):
        self.names: dict[str, str] = {}

    def _name(self, name: str) -> str:
        return self.names.setdefault(name, f"v{len(self.names)}")

    def visit_Name(self, node):
        return ast.copy_location(ast.Name(self._name(node.id), node.ctx), node)

    def visit_arg(self, node):
        return ast.copy_location(ast.arg(self._name(node.arg)), node)

    def visit_FunctionDef(self, node):
        body = node.body[1:] if node.body and isinstance(node.body[0], ast.Expr) and isinstance(
            getattr(node.body[0], "value", None), ast.Constant) and isinstance(node.body[0].value.value, str) else node.body
        new = ast.FunctionDef(name="f", args=node.args, body=body or [ast.Pass()], decorator_list=[], returns=None)
        return self.generic_visit(new)

    visit_AsyncFunctionDef = visit_FunctionDef


def function_shapes(source: str) -> set[str]:
    """The anonymised syntax tree of every function with a body of some substance."""
    shapes = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            shape = _Anonymise().visit(ast.parse(ast.unparse(node)).body[0])
            if sum(isinstance(n, ast.stmt) for n in ast.walk(shape)) - 1 >= 3:  # three statements or more
                shapes.add(ast.dump(shape, annotate_fields=False))
    return shapes


def test_anonymised_shapes_find_a_renamed_copy():
    original = ("def conv_forward(x, w, b, conv_param):\n    '''doc'''\n    n = x.shape[0]\n"
                "    out = x * w + b\n    return out, (x, w)\n")
    renamed = ("def helper(a, k, c, p):\n    m = a.shape[0]\n    r = a * k + c\n    return r, (a, k)\n")
    assert function_shapes(original) == function_shapes(renamed)
    assert function_shapes(original) != function_shapes(renamed.replace("a * k + c", "a * k - c"))


def test_the_wheel_holds_no_reference_and_no_solver(wheel):
    names = wheel.namelist()
    assert not [n for n in names if any(n.startswith(f"grader/{folder}/") for folder in SECRET_FOLDERS)]
    assert not [n for n in names if n.startswith("grader/quiz/") or n in ("grader/batch.py", "grader/export.py",
                                                                         "grader/student/build.py")]
    secret: set[str] = set()
    for folder in SECRET_FOLDERS:
        for file in (ROOT / folder).glob("*.py"):
            secret |= function_shapes(file.read_text(encoding="utf-8"))
    assert len(secret) > 40  # the references, the catalogue, the data generator, the solutions, the bank
    shipped = [n for n in names if n.endswith(".py")]
    assert "grader/cli.py" in shipped and "grader/sandbox/session.py" in shipped
    for name in shipped:
        leaked = function_shapes(wheel.read(name).decode("utf-8")) & secret
        assert not leaked, f"{name} holds a function of the hidden side"


def test_the_wheel_is_a_valid_wheel_with_the_console_script(wheel):
    info = [n for n in wheel.namelist() if ".dist-info/" in n]
    entry = next(n for n in info if n.endswith("entry_points.txt"))
    assert "grader = grader.cli:main" in wheel.read(entry).decode()
    record = wheel.read(next(n for n in info if n.endswith("RECORD"))).decode().splitlines()
    listed = {line.rsplit(",", 2)[0] for line in record}
    assert listed == set(wheel.namelist())
    metadata = wheel.read(next(n for n in info if n.endswith("METADATA"))).decode()
    assert "Requires-Dist: torch" in metadata and "Requires-Dist: numpy" in metadata


def test_the_practice_split_is_a_public_one_and_no_test_split_ships(wheel, tmp_path):
    from grader.reference import transfer_data as data

    (tmp_path / "arrays.npz").write_bytes(wheel.read("grader/public/arrays.npz"))
    with np.load(tmp_path / "arrays.npz", allow_pickle=False) as npz:
        shipped_test = npz["transfer.test_x"]
        images = [npz[k] for k in npz.files if k.startswith("transfer.") and k.endswith("_x")]
    practice = data.target_splits(data.PRACTICE_SEED)
    assert np.array_equal(shipped_test.astype(np.float32) / np.float32(255), practice["test"][0])
    for seed in (0, 1, 11, 2**31 - 1):  # no graded split (train or test) is among the shipped images
        graded = data.graded_splits(seed)
        for split in ("train", "test"):
            raw = np.rint(graded[split][0] * 255).astype(np.uint8)
            assert not any(a.shape == raw.shape and np.array_equal(a, raw) for a in images)


def _fresh_environment(tmp_path: Path) -> Path:
    """A fresh virtual environment (not the instructor's) in which torch, numpy, click and jinja2
    are importable from the running interpreter's site-packages (a .pth file: this machine
    installs torch from its disk, but not within a test's time), and the instructor's editable
    grader is not (its own .pth files there are not read)."""
    env = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(env)], check=True, timeout=120)
    # the venv's own old setuptools would shadow the newer one torch's metadata asks for
    subprocess.run([str(env / "bin" / "python"), "-m", "pip", "uninstall", "-q", "-y", "setuptools"],
                   capture_output=True, timeout=120)
    site = next((env / "lib").glob("python3*/site-packages"))
    borrowed = [p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()]
    (site / "borrowed_libraries.pth").write_text("\n".join(borrowed) + "\n", encoding="utf-8")
    return env


def test_the_wheel_installs_and_grades_in_a_fresh_environment(release, tmp_path):
    env = _fresh_environment(tmp_path)
    (path,) = release.glob("*.whl")
    done = subprocess.run([str(env / "bin" / "python"), "-m", "pip", "install", "-q", "--no-index", str(path)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    grader = str(env / "bin" / "grader")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([grader, *args], capture_output=True, text=True, timeout=600, env=clean, cwd=tmp_path)

    where = run("check", "--help")
    assert where.returncode == 0
    located = subprocess.run([str(env / "bin" / "python"), "-c", "import grader; print(grader.__file__)"],
                             capture_output=True, text=True, env=clean, cwd=tmp_path)
    assert str(env) in located.stdout, located.stdout  # the wheel's grader, not the instructor's

    good = run("check", str(EXAMPLES / "submission"))
    assert good.returncode == 0, good.stdout[-3000:] + good.stderr[-2000:]
    assert "student mode" in good.stdout and "(100.0%)" in good.stdout
    bad = run("check", str(EXAMPLES / "buggy_submission"), "--parts", "conv")
    assert bad.returncode == 1 and "kernel looks flipped" in bad.stdout, bad.stdout[-3000:]
    for command in (["problems", "solve", "conv-output-size", "input_size=5", "kernel_size=3"],
                    ["quiz", "generate", "--count", "1", "--out", "q"], ["batch", ".", "--out", "b"]):
        refused = run(*command)
        assert refused.returncode == 2 and "not part of the student install" in refused.stderr, command
        assert "Traceback" not in refused.stderr
