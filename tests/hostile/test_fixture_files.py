"""The hostile fixtures are well formed (expect.toml, an exact copy of the correct other part)
and stay within their safety rules (bounded attacks, no deleting or overwriting anything).
Static checks only: grading them is the job of the sandbox's own tests."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from leftovers import MARKER_SIGNS, ROOT, SUBMISSIONS, assemble, fixture_dirs, load_expect

EXAMPLE = ROOT / "examples" / "submission"
FILES = {"conv": "conv.py", "max_pool": "pool.py", "transfer": "transfer.py"}
OTHER = {"conv": "max_pool", "max_pool": "conv", "transfer": "conv"}
NAMES = [d.name for d in fixture_dirs()]

# what no fixture may do, whatever it attacks: delete, rename or overwrite files
UNSAFE = {
    "deletes files": re.compile(r"\b(rmtree|os\.remove|os\.unlink|\.unlink\(|os\.rmdir|\.rmdir\()"),
    "renames files": re.compile(r"\b(os\.rename|os\.replace|\.rename\(|\.replace\(\s*['\"]/)"),
    "truncates files": re.compile(r"\btruncate\(|O_TRUNC"),
}
OPEN_MODE = re.compile(r"\bopen\([^()]*(?:\([^()]*\)[^()]*)*,\s*['\"]([a-z+]+)['\"]")
SAFE_MODES = {"r", "rb", "x", "xb", "a", "ab"}  # read, create a new file, append (of nothing)


def test_there_are_fixtures_of_both_parts():
    parts = [load_expect(SUBMISSIONS / name).part for name in NAMES]
    assert len(NAMES) >= 40 and parts.count("max_pool") >= 3 and parts.count("conv") > parts.count("max_pool")


@pytest.mark.parametrize("name", NAMES)
def test_fixture_is_well_formed(name):
    folder = SUBMISSIONS / name
    expect = load_expect(folder)
    assert expect.part in FILES and expect.other == OTHER[expect.part]
    assert name.startswith({"conv": "conv_", "max_pool": "pool_", "transfer": "transfer_"}[expect.part])
    assert expect.description and "\n" not in expect.description
    helpers = [p.name for p in folder.iterdir() if p.name.startswith("_") and p.suffix == ".py"]  # _deep.py
    assert sorted(p.name for p in folder.iterdir() if p.name != "__pycache__") == sorted(
        ["expect.toml", FILES[expect.part], *helpers])
    attacked = (folder / FILES[expect.part]).read_text()
    assert attacked.startswith(f"# Hostile fixture {name}: ")
    compile(attacked, str(folder / FILES[expect.part]), "exec")  # broken on purpose only at run time


def test_an_assembled_fixture_holds_the_correct_other_part_and_the_shared_wrong_layers(tmp_path):
    expect = load_expect(SUBMISSIONS / "pool_os_exit")
    folder = assemble(expect, tmp_path / "s")
    assert sorted(p.name for p in folder.iterdir()) == ["_right_conv.py", "_torch_conv.py", "_wrong_conv.py",
                                                        "_wrong_pool.py", "conv.py", "pool.py"]
    assert (folder / "conv.py").read_text() == (EXAMPLE / "conv.py").read_text()
    assert (folder / "pool.py").read_text() == (expect.folder / "pool.py").read_text()


@pytest.mark.parametrize("name", NAMES)
def test_fixture_stays_within_its_safety_rules(name):
    folder = SUBMISSIONS / name
    expect = load_expect(folder)
    source = (folder / FILES[expect.part]).read_text()
    for what, pattern in UNSAFE.items():
        found = pattern.search(source)
        assert not found, f"{name} {what}: {found.group(0)!r}"
    for mode in OPEN_MODE.findall(source):
        assert mode in SAFE_MODES, f"{name} opens a file with mode {mode!r}: only {sorted(SAFE_MODES)}"
    # every file it may create is a marker the helpers check and may clean up
    for marker in expect.markers:
        assert any(sign in Path(marker).name for sign in MARKER_SIGNS) and name in Path(marker).name, marker
        places = ("/tmp/grader-hostile-", "/dev/shm/grader-hostile-", str(ROOT / "grader") + "/")
        assert marker.startswith(places), marker
    for literal in re.findall(r"['\"](/tmp/[^'\"]*|/dev/shm/[^'\"]*)['\"]", source):
        assert literal.startswith((f"/tmp/grader-hostile-{name}-marker", f"/dev/shm/grader-hostile-{name}-marker")), \
            literal
    assert all(m in source or Path(m).name in source for m in expect.markers)
    # bounded: loops that fork, allocate or print have a visible cap
    if re.search(r"\bfork\(", source):
        assert "300" in source
    if "np.empty(" in source or "np.ones(" in source:
        assert re.search(r"range\(\d+\)", source) or "10000" in source
