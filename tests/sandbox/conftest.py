"""Helpers for the sandbox tests: write a small submission, open sessions that are always closed."""

from __future__ import annotations

import textwrap

import pytest

from grader.sandbox import Limits, Session
from grader.sandbox import session as session_module
from grader.sandbox.process import namespace_support

from sandbox_helpers import FAST


@pytest.fixture(params=["namespaces", "user namespace"])
def fully_hardened(request, monkeypatch):
    """Every session of a test applies all of HARDENING, and the test runs twice: with the
    namespaces this user gets by default, and inside a user namespace (``unshare --user``, what a
    grader that is not root gets; forced here with GRADER_SANDBOX_USERNS=1 when the tests run as root)."""
    monkeypatch.setattr(session_module, "DEFAULT_HARDENING", session_module.HARDENING)
    if request.param == "user namespace":
        monkeypatch.setenv("GRADER_SANDBOX_USERNS", "1")
        if namespace_support()[0] is None:
            pytest.skip(f"no user namespaces here: {namespace_support()[1]}")


@pytest.fixture
def submission(tmp_path):
    """``submission({"conv.py": "..."})`` writes the files (dedented) into a fresh folder and returns it."""

    def write(files: dict[str, str]):
        folder = tmp_path / f"submission{len(list(tmp_path.iterdir()))}"
        for name, text in files.items():
            path = folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text))
        folder.mkdir(exist_ok=True)
        return folder

    return write


@pytest.fixture
def session(submission):
    """``session({"conv.py": ...}, limits=..., **options)``: a Session on those files, closed after the test."""
    opened = []

    def start(files: dict[str, str], limits: Limits = FAST, **options) -> Session:
        s = Session(submission(files), limits, **options)
        opened.append(s)
        return s

    yield start
    for s in opened:
        s.close()
