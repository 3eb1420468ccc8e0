"""Writing reports: every format through write(), atomically, colour only on terminals."""

from __future__ import annotations

import io
import json
import os
import stat

import pytest

from grader import report as reporters
from grader.errors import UsageError
from grader.report import output


class Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize("fmt", reporters.FORMATS)
def test_every_format_writes_a_file(report, fmt, tmp_path):
    path = tmp_path / "deep" / "er" / f"report.{fmt}"
    reporters.write(report, fmt, path)
    text = path.read_text(encoding="utf-8")
    assert text == reporters.format_report(report, fmt)
    assert "examples/buggy_submission" in text or fmt == "gradescope"
    assert os.listdir(path.parent) == [path.name]  # no temporary file left behind
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_formats_are_the_five():
    assert reporters.FORMATS == ("text", "json", "gradescope", "junit", "html")


def test_unknown_format_is_a_usage_error(report, tmp_path):
    with pytest.raises(UsageError, match="'yaml'"):
        reporters.write(report, "yaml", tmp_path / "r.yaml")
    assert not list(tmp_path.iterdir())


def test_stdout_gets_the_report(report):
    stream = io.StringIO()
    reporters.write(report, "json", None, stream=stream)
    assert json.loads(stream.getvalue())["seed"] == 1234


def test_colour_on_terminals_only(report, tmp_path, monkeypatch):
    terminal, pipe = Terminal(), io.StringIO()
    reporters.write(report, "text", None, stream=terminal)
    reporters.write(report, "text", None, stream=pipe)
    assert "\x1b[" in terminal.getvalue() and "\x1b[" not in pipe.getvalue()
    monkeypatch.setattr("sys.stdout", Terminal())
    reporters.write(report, "text")
    import sys

    assert "\x1b[" in sys.stdout.getvalue()
    reporters.write(report, "text", tmp_path / "r.txt", color=True)  # files are never coloured
    assert "\x1b[" not in (tmp_path / "r.txt").read_text()


def test_written_through_a_temporary_file_in_the_same_folder(report, tmp_path, monkeypatch):
    calls = []
    real_replace = os.replace

    def spy(src, dst):
        calls.append((os.fspath(src), os.fspath(dst)))
        assert os.path.exists(src) and os.path.dirname(os.fspath(src)) == os.fspath(tmp_path)
        return real_replace(src, dst)

    monkeypatch.setattr(output.os, "replace", spy)
    reporters.write(report, "gradescope", tmp_path / "results.json")
    assert len(calls) == 1 and calls[0][1] == os.fspath(tmp_path / "results.json")
    assert calls[0][0] != calls[0][1]


def test_a_failing_render_leaves_no_file_and_keeps_the_old_one(report, tmp_path, monkeypatch):
    path = tmp_path / "report.html"
    path.write_text("old report")

    def broken(_report):
        raise RuntimeError("template blew up")

    monkeypatch.setattr("grader.report.html.to_html", broken)
    with pytest.raises(RuntimeError):
        reporters.write(report, "html", path)
    assert path.read_text() == "old report"
    assert os.listdir(tmp_path) == ["report.html"]
    with pytest.raises(RuntimeError):
        reporters.write(report, "html", tmp_path / "new.html")
    assert not (tmp_path / "new.html").exists()


def test_a_failing_write_removes_the_temporary_file(report, tmp_path, monkeypatch):
    path = tmp_path / "results.json"
    path.write_text("old")

    def full_disk(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(output.os, "replace", full_disk)
    with pytest.raises(UsageError, match="No space left"):
        reporters.write(report, "json", path)
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["results.json"]


def test_replacing_keeps_the_old_files_mode(report, tmp_path):
    path = tmp_path / "results.json"
    path.write_text("old")
    path.chmod(0o600)
    reporters.write(report, "json", path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["score"] == 5.1667


def test_a_folder_is_not_a_report_path(report, tmp_path):
    with pytest.raises(UsageError, match="folder"):
        reporters.write(report, "text", tmp_path)
