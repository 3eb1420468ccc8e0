"""Static integrity checks: which libraries a part's source files use.

The numpy parts must be written in numpy: importing torch (or scipy.signal,
or any module the assignment forbids) to do the convolution is flagged, with
the file and line.  Imports are found in the syntax tree, whatever their
spelling: ``import torch``, ``from torch.nn import functional``,
``__import__("torch")``, ``importlib.import_module("torch")``; a call of
``__import__`` or ``import_module`` whose argument is not a plain string is
flagged as well.  A static scan cannot see everything (``exec`` of a built
string, an aliased ``__import__``): SECURITY.md lists what it misses.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Finding:
    file: str
    line: int
    what: str


def _forbidden(name: str, forbidden: tuple[str, ...]) -> str | None:
    for module in forbidden:
        if name == module or name.startswith(module + "."):
            return module
    return None


def _string(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def scan_source(source: str, filename: str, forbidden: tuple[str, ...]) -> list[Finding]:
    """Forbidden imports in one file's source (a file that does not parse has none:
    the forward tests report its SyntaxError)."""
    try:
        tree = ast.parse(source, filename=filename)
    except (SyntaxError, ValueError):
        return []
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Call):
            func = node.func
            callee = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
            if callee in ("__import__", "import_module") and node.args:
                literal = _string(node.args[0])
                if literal is None:
                    found.append(Finding(filename, node.lineno, f"{callee}() of a computed module name"))
                    continue
                names = [literal]
        for name in names:
            module = _forbidden(name, forbidden)
            if module:
                found.append(Finding(filename, node.lineno, module))
                break
    return found


def scan(root: Path, files: list[str], forbidden: tuple[str, ...], exclude: tuple[str, ...] = ()) -> list[Finding]:
    """Forbidden imports in ``files`` and in every other .py file of the submission
    (a helper module could do the forbidden work), except the files in ``exclude``:
    the other parts' files, each judged with its own part (transfer.py may use torch,
    and torch in conv.py must not cost the pooling part; an import that reaches
    across parts at run time is refused and reported by the sandbox's guard)."""
    skip = {(root / f).resolve() for f in exclude}
    paths = {root / f for f in files} | {p for p in root.rglob("*.py") if p.resolve() not in skip}
    found = []
    for path in sorted(p for p in paths if p.is_file()):
        try:
            source = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        found += scan_source(source, str(path.relative_to(root)), forbidden)
    return found
