"""Autograding in CI: a Gradescope autograder bundle and a GitHub Actions workflow.

    export_gradescope("autograder.zip")                 # upload to Gradescope
    export_github("student-repo/", config_path="a.toml") # commit to the repository

The Gradescope bundle follows Gradescope's autograder specification: the zip
holds ``setup.sh`` (run once, as root, when Gradescope builds the image; it
installs Python, the CPU build of torch and grader into a virtual
environment) and ``run_autograder`` (run for every submission; it grades a
copy of ``/autograder/submission`` and always writes
``/autograder/results/results.json``, a score of 0 with the error when the
grader cannot grade).  The grader itself travels in the zip as a source tree,
``grader-src/``, installed by ``setup.sh``: nothing of the course's but the
bundle needs to be published.  The assignment goes along as
``assignment.toml``.  The bundle is the instructor's side: it holds the references
and grades hidden cases on fresh inputs.

The GitHub workflow is the students' side: it installs the student wheel
(``grader export student``: no references, the public checks), committed with the
repository, so that it works on its first run without any package index.
"""

from __future__ import annotations

import importlib.metadata
import os
import shlex
import stat
import tomllib
import zipfile
from importlib import resources
from pathlib import Path

from grader import config as config_module
from grader.errors import InputFileError, UsageError
from grader.render import render

TORCH_VERSION = "2.13.0"  # the CPU build the project pins (CONTRACT: any 2.x works)
CONFIG_NAME = "assignment.toml"
WHEEL_DIR = ".grader"  # where `export github` puts the student wheel, committed with the repository
SOURCE_DIR = "grader-src"
# What a source tree of grader holds (pyproject.toml's package-dir maps them into `grader`).
SOURCE_ENTRIES = ("pyproject.toml", "README.md", "grader", "problems", "reference", "templates")
SKIPPED_NAMES = {"__pycache__", ".git", ".pytest_cache", ".mypy_cache", "tests"}
SKIPPED_SUFFIXES = (".pyc", ".pyo", ".egg-info")
PART_FILES = {"conv": "conv.py", "max_pool": "pool.py", "avg_pool": "pool.py", "transfer": "transfer.py"}
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed: the same bundle from the same files


def config_text(config_path: str | os.PathLike | None) -> tuple[config_module.Config, str]:
    """The validated configuration and the TOML text to ship (the default file when none is given)."""
    cfg = config_module.load(config_path)  # bad files fail here, with the key named
    if config_path is None:
        return cfg, resources.files("grader").joinpath("assignments/default.toml").read_text(encoding="utf-8")
    return cfg, Path(config_path).read_text(encoding="utf-8")


def _task_file(config_path: str | os.PathLike | None) -> tuple[str, Path] | None:
    """(relative path, file) of the config's ``[transfer] task`` module, which must travel with it."""
    if config_path is None:
        return None
    with open(config_path, "rb") as handle:
        task = tomllib.load(handle).get("transfer", {}).get("task") or ""
    if ":" not in task:
        return None
    relative = task.rpartition(":")[0]
    if Path(relative).is_absolute() or ".." in Path(relative).parts:
        raise UsageError(f"{config_path}: [transfer] task {task!r} must name a file in the config's folder "
                         "or below it, so that it can travel with the config")
    file = Path(config_path).resolve().parent / relative
    if not file.is_file():
        raise InputFileError(f"{config_path}: [transfer] task file {file} does not exist")
    return relative, file


def _declared_files(config_path, cfg: config_module.Config) -> list[tuple[str, Path]]:
    """(relative path, file) of what the declared parts read on the instructor's side (references,
    wrong variants, case generators): they travel with the config in the Gradescope bundle only."""
    if config_path is None:
        return []
    folder = Path(config_path).resolve().parent
    found = []
    for name, layer in cfg.declared.items():
        for secret in map(Path, layer.secrets):
            if not secret.is_relative_to(folder):
                raise UsageError(f"{config_path}: [parts.{name}] reads {secret}, outside the config's folder: "
                                 "keep the part's files in that folder or below it, so that they travel with it")
            found.append((secret.relative_to(folder).as_posix(), secret))
    return found


def _expected_files(cfg: config_module.Config) -> str:
    named = {**PART_FILES, **{p: " or ".join(layer.files) for p, layer in cfg.declared.items()}}
    files = list(dict.fromkeys(named[p] for p in cfg.parts if p in named)) or ["your files"]
    return ", ".join(files[:-1]) + (" and " if len(files) > 1 else "") + files[-1]


def _wanted(path: Path) -> bool:
    return path.name not in SKIPPED_NAMES and not path.name.endswith(SKIPPED_SUFFIXES)


def _tree(root: Path, entry: str):
    """(path inside the entry, file) for every file of ``root/entry``, skipping caches and tests."""
    top = root / entry
    if top.is_file():
        yield entry, top
        return
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames[:] = sorted(d for d in dirnames if _wanted(Path(d)))
        for name in sorted(filenames):
            file = Path(dirpath) / name
            if _wanted(file):
                yield file.relative_to(root).as_posix(), file


def grader_sources() -> list[tuple[str, Path | str]]:
    """The files of an installable grader source tree: ``(relative path, file or text)``.

    From the source tree grader runs from (an editable install or a checkout) when
    there is one; otherwise from the installed package, with a generated
    ``pyproject.toml`` that installs it as it is."""
    package = Path(__file__).resolve().parent
    project = package.parent
    pyproject = project / "pyproject.toml"
    if pyproject.is_file():
        try:
            name = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {}).get("name")
        except tomllib.TOMLDecodeError:
            name = None
        if name == "cnn-grader":
            return [item for entry in SOURCE_ENTRIES if (project / entry).exists() for item in _tree(project, entry)]
    try:
        version = importlib.metadata.version("cnn-grader")
    except importlib.metadata.PackageNotFoundError:
        version = "0.0.0"
    files: list[tuple[str, Path | str]] = list(_tree(package.parent, package.name))
    files.append(("pyproject.toml", render("export_pyproject.toml.j2", version=version)))
    return files


def _add(archive: zipfile.ZipFile, name: str, content: Path | str | bytes, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    mode = 0o755 if executable else 0o644
    info.external_attr = (stat.S_IFREG | mode) << 16
    data = content.read_bytes() if isinstance(content, Path) else content
    archive.writestr(info, data.encode("utf-8") if isinstance(data, str) else data)


def export_gradescope(out_zip: str | os.PathLike, config_path: str | os.PathLike | None = None) -> Path:
    """Write a Gradescope autograder bundle to ``out_zip`` and return its path.

    The zip's root holds ``setup.sh``, ``run_autograder`` (both executable),
    ``assignment.toml`` (``config_path``, or the default assignment) and
    ``grader-src/`` (the grader, installed by ``setup.sh``).  ``run_autograder``
    honours ``AUTOGRADER_ROOT`` (default ``/autograder``), ``GRADER_BIN``,
    ``GRADER_PARTS``, ``GRADER_SEED`` and ``GRADER_DEVICE``, for trying the bundle
    outside Gradescope."""
    cfg, text = config_text(config_path)
    task = _task_file(config_path)
    out = Path(out_zip)
    if out.is_dir():
        raise UsageError(f"{out} is a folder: give the path of the zip file to write")
    out.parent.mkdir(parents=True, exist_ok=True)
    context = {"assignment_name": cfg.name or "grader assignment", "config_name": CONFIG_NAME,
               "torch_version": TORCH_VERSION, "expected_files": _expected_files(cfg)}
    with zipfile.ZipFile(out, "w") as archive:
        _add(archive, "setup.sh", render("export_setup.sh.j2", **context), executable=True)
        _add(archive, "run_autograder", render("export_run_autograder.j2", **context), executable=True)
        _add(archive, CONFIG_NAME, text)
        if task is not None:
            _add(archive, Path(task[0]).as_posix(), task[1])
        for relative, file in _declared_files(config_path, cfg):  # the instructor's side: never in export github
            _add(archive, relative, file)
        for name, content in grader_sources():
            _add(archive, f"{SOURCE_DIR}/{name}", content)
    return out


def export_github(
    out_dir: str | os.PathLike,
    config_path: str | os.PathLike | None = None,
    grader_spec: str | None = None,
    fail_under: float = 100.0,
    submission: str = ".",
) -> list[Path]:
    """Write a GitHub Actions workflow that runs the public checks on every push.

    Writes ``out_dir/.github/workflows/grader.yml``, ``out_dir/BADGE.md`` (the README
    badge) and ``out_dir/GRADING.md`` (what the workflow checks, and where the hidden
    grading happens), and copies ``config_path`` to ``out_dir/assignment.toml`` when
    given.  What the workflow installs: by default the student wheel of the assignment
    (``grader export student``), written into ``out_dir/.grader/`` to be committed with
    the repository; or ``grader_spec``, anything ``pip install`` takes (a path, a
    ``git+https://...`` URL of the course's own build).  ``fail_under`` is the
    workflow's default ``FAIL_UNDER``; ``submission`` the folder graded, relative to
    the repository's root.  Returns the files written."""
    if not 0 <= fail_under <= 100:
        raise UsageError(f"fail_under must be a percentage between 0 and 100, got {fail_under!r}")
    if grader_spec is not None and not grader_spec.strip():
        raise UsageError("grader_spec must name what to pip install: a wheel's path or URL, or a git+https URL")
    cfg, text = config_text(config_path)
    task = _task_file(config_path)
    root = Path(out_dir)
    if root.exists() and not root.is_dir():
        raise UsageError(f"{root} is not a folder")
    written: list[Path] = []

    def write(relative: str, content: str | bytes) -> None:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        written.append(path)

    config_option = ""
    if config_path is not None:
        write(CONFIG_NAME, text)
        if task is not None:
            write(Path(task[0]).as_posix(), task[1].read_bytes())
        config_option = f" --config {CONFIG_NAME}"
    student_wheel = grader_spec is None
    if student_wheel:
        from grader.student.build import build_wheel

        (root / WHEEL_DIR).mkdir(parents=True, exist_ok=True)
        wheel = build_wheel(root / WHEEL_DIR, config_path)
        written.append(wheel)
        grader_spec = f"{WHEEL_DIR}/{wheel.name}"
    percent = f"{fail_under:g}"
    write(".github/workflows/grader.yml", render(
        "export_github_workflow.yml.j2", assignment_name=cfg.name or "the assignment", fail_under=percent,
        grader_spec=shlex.quote(grader_spec.strip()), submission=shlex.quote(submission),
        config_option=config_option, student_wheel=student_wheel))
    write("BADGE.md", render("export_badge.md.j2", fail_under=percent))
    write("GRADING.md", render("export_grading.md.j2", assignment_name=cfg.name or "the assignment",
                               grader_spec=grader_spec.strip(), student_wheel=student_wheel, fail_under=percent,
                               transfer="transfer" in cfg.parts))
    return written
