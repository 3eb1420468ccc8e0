"""Submission layouts: where a submission keeps each part's functions.

A layout maps each part it defines to a module of the submission and the
names of its functions (``forward``, ``backward``).  Layouts are tried in
order and the first whose files are there is used; parts a layout does not
define are not run.  A new layout is one more entry in ``LAYOUTS``.  The d2l
layout has no file names: it is found by the functions a folder's ``.py`` files
define (``d2l_definitions``), and each of its parts lives where its function is.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

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
    # a layout found by what its files define rather than by their names: the layout of a folder, or None
    finder: Callable[[Path], "Layout | None"] | None = None

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


# d2l's convolution chapter (PyTorch edition): part -> the functions (or class) it grades
D2L_PARTS = {
    "corr2d": ("corr2d",),
    "corr2d_channels": ("corr2d_multi_in", "corr2d_multi_in_out", "corr2d_multi_in_out_1x1"),
    "pool2d": ("pool2d",),
    "conv2d_module": ("Conv2D",),
}
MAX_SCANNED_FILES = 200  # .py files read to find d2l's definitions
MAX_SCANNED_BYTES = 256 << 10  # larger files are not parsed here (their syntax tree: ~650 times their size)


@dataclass(frozen=True)
class Definition:
    """A top-level function or class of a submission: where it is, and the names of its parameters
    (with those whose default is a tuple, ``stride=(1, 1)``)."""

    name: str
    module: str
    file: str
    params: tuple[str, ...] = ()
    tuple_defaults: tuple[str, ...] = ()


def python_files(root: Path) -> list[Path]:
    """The .py files at the top of ``root`` and one folder down (hidden folders, checkpoints and
    names Python cannot import aside)."""
    files = [p for p in sorted(root.glob("*.py")) if p.is_file() and p.stem.isidentifier()]
    files += [p for p in sorted(root.glob("*/*.py")) if p.is_file() and p.stem.isidentifier()
              and p.parent.name.isidentifier()]
    return files[:MAX_SCANNED_FILES]


def d2l_definitions(root: str | Path) -> dict[str, Definition]:
    """Every top-level function and class of the submission's .py files (the first file wins a name),
    found by parsing, never importing.  Files that do not parse define nothing here."""
    root, found = Path(root), {}
    for path in python_files(root):
        try:
            if path.stat().st_size > MAX_SCANNED_BYTES:
                continue
            tree = ast.parse(path.read_bytes())
        except (OSError, SyntaxError, ValueError, MemoryError, RecursionError):
            continue
        relative = path.relative_to(root)
        module = ".".join(relative.with_suffix("").parts)
        for node in tree.body:
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) or node.name in found:
                continue
            params: tuple[str, ...] = ()
            tuples: tuple[str, ...] = ()
            if not isinstance(node, ast.ClassDef):
                arguments = node.args.posonlyargs + node.args.args + node.args.kwonlyargs
                params = tuple(a.arg for a in arguments)
                positional = node.args.posonlyargs + node.args.args
                defaults = list(zip(positional[len(positional) - len(node.args.defaults):], node.args.defaults))
                defaults += [(a, d) for a, d in zip(node.args.kwonlyargs, node.args.kw_defaults) if d is not None]
                tuples = tuple(a.arg for a, d in defaults if isinstance(d, ast.Tuple))
            found[node.name] = Definition(node.name, module, relative.as_posix(), params, tuples)
    return found


def find_d2l(root: Path) -> Layout | None:
    """The d2l layout of ``root``: a part for each of ``D2L_PARTS`` whose function some file defines
    (its module: the file of the first one found), or None when no file defines any."""
    defined = d2l_definitions(root)
    specs = []
    for part, names in D2L_PARTS.items():
        first = next((defined[n] for n in names if n in defined), None)
        if first is not None:
            specs.append(PartSpec(part, first.module, first.file, first.name, ""))
    return Layout("d2l", tuple(specs), (), finder=find_d2l) if specs else None


def _claims(layout: Layout, root: Path) -> bool:
    """Whether ``layout``'s marker files are its own: one of them defines one of its functions,
    or does not parse (a broken conv.py is still a native submission, graded as one)."""
    names = {n for spec in layout.parts for n in (spec.forward, spec.backward)}
    for file in layout.marker_files:
        path = root / file
        if not path.is_file():
            continue
        try:
            tree = ast.parse(path.read_bytes()) if path.stat().st_size <= MAX_SCANNED_BYTES else None
        except (OSError, SyntaxError, ValueError, MemoryError, RecursionError):
            return True
        if tree is None or any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name in names
                               for n in tree.body):
            return True
    return False


LAYOUTS = (NATIVE, _cs231n("cs231n/"), _cs231n(""), Layout("d2l", (), (), finder=find_d2l))


def detect(root: str | Path) -> Layout:
    """The layout of the submission in ``root``; UsageError when none fits."""
    folder = Path(root)
    if not folder.is_dir():
        raise UsageError(f"submission folder {root} does not exist" if not folder.exists() else f"{root} is not a folder")
    d2l = next((layout.finder(folder) for layout in LAYOUTS if layout.finder is not None), None)
    for layout in LAYOUTS:  # a pool.py that defines only d2l's pool2d is no native submission
        if layout.finder is None and layout.present(folder) and (d2l is None or _claims(layout, folder)):
            return layout
    if d2l is not None:
        return d2l
    raise UsageError(
        f"no submission found in {root}: expected conv.py and pool.py (native layout), "
        "layers.py / cs231n/layers.py (cs231n layout), or .py files or notebooks that define d2l's "
        "corr2d, corr2d_multi_in(_out), pool2d or Conv2D (d2l layout)"
    )
