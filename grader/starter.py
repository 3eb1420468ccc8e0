"""The students' starter kit for the native layout.

    make_starter("kit/")                          # every part of the default assignment
    make_starter("kit/", config_path="a.toml")    # only the parts that assignment lists

Writes ``conv.py``, ``pool.py`` and ``transfer.py`` (those the assignment's
parts need) with the contract's exact signatures and every array's shape in
the docstrings, and a ``README.md`` with the rules, the allowed libraries,
how to run ``grader check .``, what each kind of test means and, with the
transfer part, the cs231n table of when to fine-tune.  Every function body
raises ``NotImplementedError("TODO: ...")``: the kit grades to zero, with a
test-by-test message, and never crashes the grader.  No reference code goes
into the kit: the files are rendered from ``templates/starter_*.j2``.
"""

from __future__ import annotations

import os
from pathlib import Path

from grader import config as config_module
from grader.errors import UsageError
from grader.layouts import NATIVE
from grader.render import render

NUMPY_PARTS = ("conv", "max_pool", "avg_pool")
# The kit's files, in order: file name, template, the parts it serves.
FILES = (
    ("conv.py", "starter_conv.py.j2", ("conv",)),
    ("pool.py", "starter_pool.py.j2", ("max_pool", "avg_pool")),
    ("transfer.py", "starter_transfer.py.j2", ("transfer",)),
)


def _functions(parts: list[str]) -> list[str]:
    """The functions students write for ``parts``, from the native layout."""
    names = []
    for part in parts:
        spec = NATIVE.spec(part)
        if spec is not None:
            names += [spec.forward, spec.backward]
    return names


def _budget() -> tuple[int, int]:
    """(epochs, batch size) of the transfer part's training."""
    from grader.transfer.sizes import BATCH_SIZE, EPOCHS

    return EPOCHS, BATCH_SIZE


def make_starter(out_dir: str | os.PathLike, config_path: str | os.PathLike | None = None,
                 force: bool = False, wheel: str | None = None) -> list[Path]:
    """Write the starter kit for the assignment (``config_path``, or the default)
    into ``out_dir`` and return the files written.

    Refuses (UsageError) to write into a folder that exists and is not empty,
    unless ``force``: then the kit's files are overwritten and nothing else is
    touched.  ``wheel``: the file name of the student install that comes with the kit
    (``grader export student``), which its README then tells students to install."""
    cfg = config_module.load(config_path)
    root = Path(out_dir)
    if root.exists() and not root.is_dir():
        raise UsageError(f"{root} exists and is not a folder")
    if root.is_dir() and any(root.iterdir()) and not force:
        raise UsageError(f"{root} is not empty: choose a new folder, or pass force to overwrite the kit's files")
    parts = list(cfg.parts)
    epochs, batch_size = _budget() if "transfer" in parts else (0, 0)
    common = {
        "assignment_name": cfg.name or "CNN assignment",
        "forbidden": list(cfg.forbidden),
        "parts": parts,
        "conv": "conv" in parts,
        "max_pool": "max_pool" in parts,
        "avg_pool": "avg_pool" in parts,
        "transfer": "transfer" in parts,
        "pool_parts": [p for p in parts if p in ("max_pool", "avg_pool")],
        "epochs": epochs,
        "batch_size": batch_size,
    }
    files = [
        {"name": name, "template": template, "functions": _functions([p for p in serves if p in parts])}
        for name, template, serves in FILES
        if any(p in parts for p in serves)
    ]
    root.mkdir(parents=True, exist_ok=True)
    written = []
    for file in files:
        path = root / file["name"]
        path.write_text(render(file["template"], **common), encoding="utf-8")
        written.append(path)
    readme = root / "README.md"
    readme.write_text(render(
        "starter_README.md.j2", files=files, numpy_parts=[p for p in parts if p in NUMPY_PARTS],
        points=cfg.points, tolerance=cfg.tolerance, call_timeout_s=cfg.call_timeout_s,
        part_timeout_s=cfg.part_timeout_s, memory_mb=cfg.memory_mb, wheel=wheel, **common), encoding="utf-8")
    written.append(readme)
    return written
