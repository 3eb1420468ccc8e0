"""Submission layouts: where a submission keeps each part's functions.

A layout maps each part it defines to a module of the submission and the
names of its functions (``forward``, ``backward``).  Layouts are tried in
order and the first whose files are there is used; parts a layout does not
define are not run.  A new layout (d2l's ``corr2d``/``pool2d``, PyTorch
modules) is one more entry in ``LAYOUTS``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from grader.errors import UsageError


@dataclass(frozen=True)
class PartSpec:
    """Where one part lives: ``module`` is importable from the submission's
    root (``conv``, ``cs231n.layers``); ``file`` is its path for messages."""

    part: str
    module: str
    file: str
    forward: str
    backward: str
    dilation: bool = True  # whether conv_param may carry "dilation"
    exact_fit: bool = False  # whether the layout's docs promise that the stride fits the input exactly


@dataclass(frozen=True)
class Layout:
    name: str
    parts: tuple[PartSpec, ...]
    marker_files: tuple[str, ...]

    def present(self, root: Path) -> bool:
        return any((root / f).is_file() for f in self.marker_files)

    def spec(self, part: str) -> PartSpec | None:
        return next((p for p in self.parts if p.part == part), None)


NATIVE = Layout(
    "native",
    (
        PartSpec("conv", "conv", "conv.py", "conv_forward", "conv_backward"),
        PartSpec("max_pool", "pool", "pool.py", "max_pool_forward", "max_pool_backward"),
        PartSpec("avg_pool", "pool", "pool.py", "avg_pool_forward", "avg_pool_backward"),
        PartSpec("transfer", "transfer", "transfer.py", "build_model", "make_optimizer"),
    ),
    ("conv.py", "pool.py", "transfer.py"),
)


def _cs231n(prefix: str) -> Layout:
    module = (prefix.replace("/", ".") + "layers") if prefix else "layers"
    file = f"{prefix}layers.py"
    return Layout(
        "cs231n",
        (
            # cs231n's docstrings assume the stride fits exactly, and solutions may assert it
            PartSpec("conv", module, file, "conv_forward_naive", "conv_backward_naive", dilation=False,
                     exact_fit=True),
            PartSpec("max_pool", module, file, "max_pool_forward_naive", "max_pool_backward_naive", exact_fit=True),
        ),
        (file,),
    )


LAYOUTS = (NATIVE, _cs231n("cs231n/"), _cs231n(""))


def detect(root: str | Path) -> Layout:
    """The layout of the submission in ``root``; UsageError when none fits."""
    folder = Path(root)
    if not folder.is_dir():
        raise UsageError(f"submission folder {root} does not exist" if not folder.exists() else f"{root} is not a folder")
    for layout in LAYOUTS:
        if layout.present(folder):
            return layout
    raise UsageError(
        f"no submission found in {root}: expected conv.py and pool.py (native layout) "
        "or layers.py / cs231n/layers.py (cs231n layout)"
    )
