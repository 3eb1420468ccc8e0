"""Notebook hand-ins: the graded functions, taken from a Jupyter notebook's code cells.

Students hand in ``.ipynb`` files as often as ``.py`` ones.  A notebook is read as JSON
(bounded: ``MAX_NOTEBOOK_BYTES``), its code cells are parsed (bounded like every student
file the grader parses: ``MAX_CELL_BYTES``, nesting caught), and a module is written from
them that holds only what grading needs:

- every function and class definition (the graded functions and their helpers);
- the imports those definitions use (found by name, through helpers too), each in a
  ``try`` so that a library the sandbox lacks costs only the function that needs it;
- module-level constants they use (a name bound to a literal, ``eps = 1e-5``).

Everything else is left out, each kind with a notice: IPython magics and shell lines
(``%matplotlib inline``, ``!pip install``), top-level code (loading data, training,
plotting, printing), and imports nothing graded uses (``matplotlib``, the course's data
utilities; a forbidden library imported for another cell then costs nothing).

``materialise(root, out)`` copies a submission and writes each notebook's module where a
layout looks for it (a cs231n notebook that defines the ``*_naive`` layers becomes
``layers.py``; one that defines ``conv_forward`` becomes ``conv.py``), unless the student
also handed in that file, which wins.
"""

from __future__ import annotations

import ast
import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

MAX_NOTEBOOK_BYTES = 20 << 20  # a notebook with its outputs (plots) can be large; its code is small
MAX_CELL_BYTES = 256 << 10  # a cell's syntax tree takes some 650 times its size: parsed one at a time
MAX_CODE_BYTES = 1 << 20  # code parsed per notebook, in all
MAX_CELLS = 2000
MAGIC = re.compile(r"^\s*(%|!|\?)")
WRITTEN = "# Written by grader from"  # the first line of a module written here


@dataclass
class Converted:
    """A notebook's module: its source, the top-level names it defines, and what was left out."""

    source: str
    defines: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)


def _cells(path: Path) -> list[str]:
    """The code cells' sources, in order (a clear ValueError when the file is not a notebook)."""
    if path.stat().st_size > MAX_NOTEBOOK_BYTES:
        raise ValueError(f"larger than {MAX_NOTEBOOK_BYTES >> 20} MB")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ValueError(f"not a notebook ({type(exc).__name__})") from None
    cells = data.get("cells") if isinstance(data, dict) else None
    if not isinstance(cells, list):
        raise ValueError("not a notebook (no cells)")
    sources = []
    for cell in cells[:MAX_CELLS]:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        source = "".join(s for s in source if isinstance(s, str)) if isinstance(source, list) else source
        if isinstance(source, str):
            sources.append(source)
    return sources


def _segment(text: str, statement: ast.stmt) -> str:
    """The statement as the student wrote it (decorators included), or as ast writes it back."""
    start = min([statement.lineno] + [d.lineno for d in getattr(statement, "decorator_list", [])])
    lines = text.splitlines()[start - 1:statement.end_lineno]
    if not lines:
        return ast.unparse(statement)
    indent = len(lines[0]) - len(lines[0].lstrip())
    return "\n".join(line[indent:] if line[:indent].strip() == "" else line for line in lines)


def _names_used(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} | {
        n.value.id for n in ast.walk(node) if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)}


def _bound(statement: ast.stmt) -> set[str]:
    """The names an import or assignment binds at the top level."""
    if isinstance(statement, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in statement.names}
    if isinstance(statement, ast.Assign):
        return {t.id for t in statement.targets if isinstance(t, ast.Name)}
    if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
        return {statement.target.id}
    return set()


def _is_constant(statement: ast.stmt) -> bool:
    value = getattr(statement, "value", None)
    if not isinstance(statement, (ast.Assign, ast.AnnAssign)) or value is None:
        return False
    try:
        ast.literal_eval(value)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


def convert(path: Path, sources: list[str] | None = None) -> Converted:
    """The module of the notebook at ``path`` (see the module docstring); with ``sources``, of
    those cells instead (the d2l layout reads a .py file copied from the book as one cell)."""
    definitions: list[ast.stmt] = []
    imports: list[ast.stmt] = []
    constants: list[ast.stmt] = []
    notes: list[str] = []
    magics = effects = parsed = 0
    for number, source in enumerate(_cells(path) if sources is None else sources, start=1):
        size = len(source.encode("utf-8", "replace"))
        if size > MAX_CELL_BYTES or parsed + size > MAX_CODE_BYTES:
            notes.append(f"{path.name}: cell {number} left out: more code than the grader reads "
                         f"({MAX_CELL_BYTES >> 10} KB a cell, {MAX_CODE_BYTES >> 20} MB a notebook)")
            continue
        parsed += size
        lines = source.splitlines()
        if lines and lines[0].lstrip().startswith("%%"):
            magics += 1
            continue  # a cell magic (%%timeit, %%bash): the whole cell is not Python
        kept = [("" if MAGIC.match(line) else line) for line in lines]
        magics += sum(1 for line in lines if MAGIC.match(line))
        try:
            tree = ast.parse("\n".join(kept))
        except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:
            notes.append(f"{path.name}: cell {number} left out: it is not valid Python ({type(exc).__name__})")
            continue
        text = "\n".join(kept)
        for statement in tree.body:
            statement.grader_text = _segment(text, statement)  # the student's own text, comments and all
            statement.grader_cell = number
            if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                definitions.append(statement)
            elif isinstance(statement, (ast.Import, ast.ImportFrom)):
                imports.append(statement)
            elif _is_constant(statement):
                constants.append(statement)
            elif not (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant)):
                effects += 1
    # what the definitions need, through each other: names used, to a fixed point
    defined = {d.name for d in definitions}
    needed = set().union(*(_names_used(d) for d in definitions)) if definitions else set()
    kept_constants = [c for c in constants if _bound(c) & needed]
    for constant in kept_constants:
        needed |= _names_used(constant)
    kept_imports = [i for i in imports if _bound(i) & needed]
    dropped = [i for i in imports if not (_bound(i) & needed)]
    if magics:
        notes.append(f"{path.name}: {magics} IPython magic or shell line{'s' if magics > 1 else ''} left out")
    if effects:
        notes.append(f"{path.name}: {effects} top-level statement{'s' if effects > 1 else ''} left out "
                     "(loading data, training, plotting, printing): only definitions are graded")
    if dropped:
        names = sorted({ast.unparse(i) for i in dropped})
        notes.append(f"{path.name}: imports no graded definition uses left out: {'; '.join(names[:6])}"
                     + ("; ..." if len(names) > 6 else ""))
    parts = [f"{WRITTEN} {path.name}: its definitions, and the imports and constants they use."]
    for statement in kept_imports:  # a library the sandbox lacks costs only what uses it
        parts.append(f"try:\n    {ast.unparse(statement)}\nexcept ImportError:\n    pass")
    parts += [ast.unparse(c) for c in kept_constants]
    parts += [f"# {path.name}, cell {d.grader_cell}\n{d.grader_text}" for d in definitions]
    defines = defined | set().union(*(_bound(c) for c in kept_constants)) if kept_constants else defined
    return Converted("\n\n".join(parts) + "\n", defines, notes)


def notebooks(root: Path) -> list[Path]:
    """The notebooks at the top of a submission and in its package folders (checkpoints aside)."""
    found = [p for p in sorted(root.glob("*.ipynb")) if p.is_file()]
    found += [p for p in sorted(root.glob("*/*.ipynb")) if p.is_file() and ".ipynb_checkpoints" not in p.parts]
    return found


def materialise(root: Path, out: Path, wanted: dict[str, set[str]]) -> list[str]:
    """Copy the submission in ``root`` to ``out`` and write each notebook's module as the
    file a layout looks for: ``wanted`` maps a file name (``layers.py``, ``conv.py``) to the
    functions that make a module that file.  Returns the notices."""
    shutil.copytree(root, out, symlinks=True, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    notes: list[str] = []
    for notebook in notebooks(root):
        try:
            converted = convert(notebook)
        except (OSError, ValueError) as exc:
            notes.append(f"{notebook.name}: not read: {exc}")
            continue
        notes += converted.notes
        written = False
        for file, functions in wanted.items():
            target = out / notebook.parent.relative_to(root) / file
            if functions & converted.defines and not target.exists():
                target.write_text(converted.source, encoding="utf-8")
                notes.append(f"{notebook.relative_to(root)}: graded as {target.relative_to(out)} "
                             f"(it defines {', '.join(sorted(functions & converted.defines))})")
                written = True
        if not written:
            module = out / notebook.parent.relative_to(root) / (re.sub(r"\W", "_", notebook.stem) + ".py")
            if not module.exists():
                module.write_text(converted.source, encoding="utf-8")
    return notes
