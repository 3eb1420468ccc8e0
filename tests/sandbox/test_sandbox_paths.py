"""The folders a session hides are looked up once per process, and looked up again when a package
appears: a forbidden package installed while a batch runs is still hidden from the next child."""

from __future__ import annotations

import importlib
import sys

from grader.sandbox.session import module_folders


def test_a_package_installed_later_is_found(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "path", [str(tmp_path), *sys.path])
    assert module_folders(("forbidden_lib_x",)) == {}
    assert module_folders(("forbidden_lib_x",)) == {}  # (remembered)
    package = tmp_path / "forbidden_lib_x"
    package.mkdir()
    (package / "__init__.py").write_text("")
    importlib.invalidate_caches()  # (the import system's own cache of folder listings is not under test)
    assert module_folders(("forbidden_lib_x",)) == {str(package.resolve()): "forbidden_lib_x"}


def test_the_answer_is_a_copy(tmp_path, monkeypatch):
    package = tmp_path / "forbidden_lib_y"
    package.mkdir()
    (package / "__init__.py").write_text("")
    monkeypatch.setattr(sys, "path", [str(tmp_path), *sys.path])
    found = module_folders(("forbidden_lib_y", "forbidden_lib_y.sub"))  # a dotted name is left out
    assert found == {str(package.resolve()): "forbidden_lib_y"}
    found.clear()
    assert module_folders(("forbidden_lib_y", "forbidden_lib_y.sub")) == {str(package.resolve()): "forbidden_lib_y"}


def test_the_folders_a_session_hides_are_real_paths_and_a_relative_one_follows_the_working_directory(
        tmp_path, monkeypatch):
    """Found once per process for absolute paths; a relative path means the folder under the working
    directory of the moment, so it is never taken from an earlier answer."""
    from grader.sandbox.session import _real_paths

    for name in ("a", "b"):
        (tmp_path / name / "refs").mkdir(parents=True)
    (tmp_path / "link").symlink_to(tmp_path / "a")
    real = str((tmp_path / "a" / "refs").resolve())
    assert _real_paths((str(tmp_path / "link" / "refs"),)) == (real,)
    monkeypatch.chdir(tmp_path / "a")
    assert _real_paths(("refs",)) == (real,)
    monkeypatch.chdir(tmp_path / "b")
    other = str((tmp_path / "b" / "refs").resolve())
    assert _real_paths(("refs",)) == (other,)
