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
