"""Static integrity checks: which libraries a part's source files use.

The numpy parts must be written in numpy: importing torch (or scipy.signal,
or any module the assignment forbids) to do the convolution is flagged, with
the file and line.  Imports are found in the syntax tree, whatever their
spelling: ``import torch``, ``from torch.nn import functional``,
``__import__("torch")``, ``importlib.import_module("torch")``; a call of
``__import__`` or ``import_module`` whose argument is not a plain string is
flagged as well.  A static scan cannot see everything (``exec`` of a built
string, an aliased ``__import__``): SECURITY.md lists what it misses.

The files are the student's, so parsing them is bounded like anything else the
parent reads from a submission.  A syntax tree takes some 650 times its file's
size (a 4 MB file of ``a=1`` lines: 2.4 GB and 20 s), so only small files
(``INLINE_BYTES``, ``INLINE_TOTAL`` in all) are parsed in the grader's process;
larger ones are parsed in a child process with a memory and time limit
(``python -I -S`` running this very file), and files over ``MAX_FILE_BYTES``, past
``MAX_FILES``, links and anything the parser gives up on (nesting too deep) are not
scanned at all.  Each of those is a *notice* (``Finding.notice``), never a finding
against the student: the file is named in the integrity test's feedback, and the
sandbox's guard still refuses forbidden imports at run time.
"""

from __future__ import annotations

import ast
import functools
import json
import os
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

INLINE_BYTES = 64 << 10  # a file up to this size is parsed here (its tree: 50 MB at worst)
INLINE_TOTAL = 256 << 10  # bytes parsed here in all (cs231n's whole folder fits); the rest go to the child
MAX_FILE_BYTES = 4 << 20  # larger files are not parsed at all
MAX_FILES = 500  # .py files scanned per call
MAX_ENTRIES = 20_000  # folder entries looked at while finding them
MAX_FINDINGS = 20  # per file
MAX_IMPORTS = 500  # module names kept per file, for the graded code's import closure
CHILD_MEMORY_MB = 768  # address space of the parsing child
CHILD_TIMEOUT_S = 20.0  # for all the files it gets


@dataclass(frozen=True)
class Finding:
    """A forbidden import at ``file``, ``line`` (``what``: the module), or with ``notice``
    a file that was not scanned (``what``: why; ``line`` 0) or an import that does not
    run with the graded code: no finding against it.  ``runs``: whether the import runs
    when its module is imported (not inside a function, not under ``__main__``)."""

    file: str
    line: int
    what: str
    notice: bool = False
    runs: bool = True


def _forbidden(name: str, forbidden: tuple[str, ...]) -> str | None:
    for module in forbidden:
        if name == module or name.startswith(module + "."):
            return module
    return None


def called(call: ast.Call) -> str | None:
    """The name a call calls: ``np.pad(...)`` -> pad, ``pad(...)`` -> pad (None for ``f()(...)``)."""
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None


def _string(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def scan_source(source: str, filename: str, forbidden: tuple[str, ...]) -> list[Finding]:
    """Forbidden imports in one file's source (a file that does not parse has none:
    the forward tests report its SyntaxError, and Python cannot import it either).
    A file too complex for the parser is a notice: nesting too deep (which Python
    cannot compile either), or, in the parsing child, more memory than it has."""
    return analyse_source(source, filename, forbidden)[0]


def _deferred_nodes(tree: ast.AST) -> set[int]:
    """ids of the nodes that do not run when the module is imported: function bodies (and
    lambdas) and ``if __name__ == "__main__":`` blocks."""
    deferred: set[int] = set()
    for node in ast.walk(tree):
        body = None
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            body = node.body if isinstance(node.body, list) else [node.body]
        elif isinstance(node, ast.If) and "__main__" in ast.unparse(node.test) and "__name__" in ast.unparse(node.test):
            body = node.body
        for statement in body or ():
            deferred.update(id(n) for n in ast.walk(statement))
    return deferred


def _module_names(node: ast.AST) -> list[str]:
    """The modules an import statement names: ``a.b`` for ``import a.b``; ``a``, ``a.c`` for
    ``from a import c``; ``.x`` (a dot per level) for relative imports."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        base = "." * node.level + (node.module or "")
        sep = "" if base.endswith(".") or not base else "."
        return [base] + [f"{base}{sep}{a.name}" for a in node.names if a.name != "*"]
    return []


def analyse_source(source: str, filename: str, forbidden: tuple[str, ...]) -> tuple[list[Finding], list[str]]:
    """(``scan_source``'s findings, every module the file imports: see ``_module_names``)."""
    try:
        tree = ast.parse(source, filename=filename)
    except (SyntaxError, ValueError):
        return [], []
    except (RecursionError, MemoryError):  # MemoryError: the parser's own stack too, on deep nesting
        return [Finding(filename, 0, "not scanned: too complex for Python's parser (nested too deeply, "
                                     "or too large)", notice=True)], []
    try:
        deferred = _deferred_nodes(tree)
    except RecursionError:
        deferred = set()
    imports: list[str] = []
    found = []
    for node in ast.walk(tree):
        imports += _module_names(node)
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Call):
            callee = called(node)
            if callee in ("__import__", "import_module") and node.args:
                literal = _string(node.args[0])
                if literal is None:
                    found.append(Finding(filename, node.lineno, f"{callee}() of a computed module name",
                                         runs=id(node) not in deferred))
                    continue
                names = [literal]
        for name in names:
            module = _forbidden(name, forbidden)
            if module:
                found.append(Finding(filename, node.lineno, module, runs=id(node) not in deferred))
                break
        if len(found) >= MAX_FINDINGS:
            break
    return found, imports[:MAX_IMPORTS]


def scan(root: Path, files: list[str], forbidden: tuple[str, ...], exclude: tuple[str, ...] = ()) -> list[Finding]:
    """Forbidden imports in ``files`` (the part's) and the modules of the submission they
    import, directly or through each other: what the graded code runs.  Every other .py file
    is scanned too, but what it imports costs nothing: a forbidden import in a file the graded
    code never imports (cs231n's own ``fast_layers.py``, a student's scratch file), or inside a
    function (which runs only if called: then the sandbox's guard refuses it, and that costs
    the part), comes back as a notice.  ``exclude``: the other parts' files, each judged with
    its own part (transfer.py may use torch).  Files that are not scanned come back as notices
    too (see the module docstring)."""
    root = Path(root)
    skip = {os.path.realpath(root / f) for f in exclude}
    paths, found = _python_files(root, files)
    inline_left, deferred = INLINE_TOTAL, []
    analysed: dict[str, tuple[list[Finding], list[str]]] = {}
    for path, size in sorted(paths.items()):
        name = os.path.relpath(path, root)
        if os.path.realpath(path) in skip:
            continue
        if size > MAX_FILE_BYTES:
            found.append(Finding(name, 0, f"not scanned: {size:,} bytes, more than the {MAX_FILE_BYTES:,} "
                                          "a scanned file may have", notice=True))
        elif size <= INLINE_BYTES and size <= inline_left:
            inline_left -= size
            analysed[name] = _analyse_file(path, name, forbidden)
        else:
            deferred.append((path, name))
    if deferred:
        analysed.update(_scan_in_child(deferred, forbidden))
    graded = import_closure(root, [os.path.normpath(f) for f in files], {n: i for n, (_, i) in analysed.items()})
    for name, (findings, _) in sorted(analysed.items()):
        for finding in findings:
            if finding.notice:
                found.append(finding)
            elif name not in graded:
                found.append(Finding(finding.file, finding.line, f"{finding.what}, in a file the graded code never "
                                     "imports: not held against it", notice=True, runs=False))
            elif not finding.runs:
                found.append(Finding(finding.file, finding.line, f"{finding.what}, inside a function: not held "
                                     "against it unless it runs (then the sandbox refuses it, and that counts)",
                                     notice=True, runs=False))
            else:  # the sandbox gives it a stand-in that reports any use (grader/sandbox/child/calls.py)
                found.append(Finding(finding.file, finding.line, f"{finding.what}, imported when the file loads: the "
                                     "sandbox gives it a stand-in, and only using it costs the part",
                                     notice=True, runs=True))
    return found


def _module_file(root: Path, importer: str, module: str, known: set[str]) -> list[str]:
    """The submission's files that importing ``module`` from file ``importer`` runs: the
    module's file or package ``__init__.py``, and the ``__init__.py`` of each package on the way."""
    level = len(module) - len(module.lstrip("."))
    parts = [p for p in module.lstrip(".").split(".") if p]
    if level:
        base = Path(importer).parent
        for _ in range(level - 1):
            base = base.parent
        prefix = list(base.parts)
    else:
        prefix = []
    out = []
    for depth in range(1, len(parts) + 1):
        stem = Path(*prefix, *parts[:depth]) if prefix or parts[:depth] else Path(".")
        for candidate in (f"{stem}.py", str(stem / "__init__.py")):
            candidate = os.path.normpath(candidate)
            if candidate in known:
                out.append(candidate)
    if level and not parts:  # `from . import x`: the package itself
        candidate = os.path.normpath(str(Path(*prefix) / "__init__.py")) if prefix else "__init__.py"
        if candidate in known:
            out.append(candidate)
    return out


def import_closure(root: Path, files: list[str], imports: dict[str, list[str]]) -> set[str]:
    """The files of ``imports`` ({file: modules it imports}) that importing ``files`` runs,
    with the packages they sit in (``cs231n/layers.py`` runs ``cs231n/__init__.py`` first)."""
    known = set(imports)
    todo = [os.path.normpath(f) for f in files if os.path.normpath(f) in known]
    for f in list(todo):
        parent = Path(f).parent
        while parent != Path("."):
            init = os.path.normpath(str(parent / "__init__.py"))
            if init in known:
                todo.append(init)
            parent = parent.parent
    seen: set[str] = set()
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        for module in imports.get(current, []):
            todo += [m for m in _module_file(root, current, module, known) if m not in seen]
    return seen


def _python_files(root: Path, files: list[str]) -> tuple[dict[str, int], list[Finding]]:
    """{path: size} of the regular .py files under ``root`` (links neither followed nor
    read: a link could name any file of the machine) and ``files``, within the bounds."""
    paths: dict[str, int] = {}
    notices: list[Finding] = []
    candidates = [str(root / f) for f in files]
    entries = 0
    for folder, dirs, names in os.walk(root):
        entries += len(dirs) + len(names)
        if entries > MAX_ENTRIES:
            notices.append(Finding(".", 0, f"not scanned: the submission has more than {MAX_ENTRIES:,} files "
                                           "and folders; the rest were not looked at", notice=True))
            break
        dirs.sort()
        candidates += [os.path.join(folder, n) for n in sorted(names) if n.endswith(".py")]
    for path in dict.fromkeys(candidates):
        try:
            info = os.lstat(path)
        except OSError:
            continue
        if stat.S_ISLNK(info.st_mode):
            notices.append(Finding(os.path.relpath(path, root), 0, "not scanned: a symbolic link", notice=True))
        elif stat.S_ISREG(info.st_mode):
            if len(paths) == MAX_FILES:
                notices.append(Finding(".", 0, f"not scanned: more than {MAX_FILES} .py files; the rest were "
                                               "not scanned", notice=True))
                break
            paths[path] = info.st_size
    return paths, notices


def _read(path: str) -> str | None:
    """The file's text, at most MAX_FILE_BYTES of it (it may have grown since it was measured)."""
    try:
        with open(path, "rb") as handle:
            return handle.read(MAX_FILE_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return None


def _analyse_file(path: str, name: str, forbidden: tuple[str, ...]) -> tuple[list[Finding], list[str]]:
    source = _read(path)
    if source is None:
        return [], []
    findings, imports = _analysed(source, name, forbidden)
    return list(findings), list(imports)


@functools.lru_cache(maxsize=32)
def _analysed(source: str, name: str, forbidden: tuple[str, ...]) -> tuple[tuple[Finding, ...], tuple[str, ...]]:
    """``analyse_source``, once per text: each part of a submission scans every file of it (the same
    two or three files, three times); the answer depends on nothing else, and each caller gets lists
    of its own (a Finding is frozen)."""
    findings, imports = analyse_source(source, name, forbidden)
    return tuple(findings), tuple(imports)


def _scan_in_child(files: list[tuple[str, str]], forbidden: tuple[str, ...]
                   ) -> dict[str, tuple[list[Finding], list[str]]]:
    """``analyse_source`` over ``files`` ([(path, name)]) in a child process limited to
    CHILD_MEMORY_MB and CHILD_TIMEOUT_S.  The child answers one JSON line per file as
    it goes, so a file that takes it down costs only itself and the ones after it."""
    request = json.dumps({"files": files, "forbidden": list(forbidden)})
    command = [sys.executable, "-I", "-S", os.path.abspath(__file__)]
    try:
        with subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              text=True, encoding="utf-8") as child:
            try:
                output, _ = child.communicate(request, timeout=CHILD_TIMEOUT_S)
                why = f"parsing it needed more than {CHILD_MEMORY_MB} MB"
            except subprocess.TimeoutExpired:
                child.kill()
                output, _ = child.communicate()
                why = f"parsing it took more than {CHILD_TIMEOUT_S:g} s"
    except OSError as exc:
        output, why = "", f"the parsing process did not start ({exc})"
    answered: dict[str, tuple[list[Finding], list[str]]] = {}
    for line in output.splitlines():
        try:
            name, rows, imports = json.loads(line)
            answered[name] = ([Finding(name, int(n), str(what), bool(notice), bool(runs))
                               for n, what, notice, runs in rows], [str(m) for m in imports][:MAX_IMPORTS])
        except (ValueError, TypeError):
            break  # a line cut short by a kill: that file and the rest are not scanned
    return {name: answered.get(name, ([Finding(name, 0, f"not scanned: {why}", notice=True)], []))
            for _, name in files}


def _child_main() -> None:
    """The parsing child: limits itself, then answers one line per file (see _scan_in_child)."""
    import resource

    limit = CHILD_MEMORY_MB << 20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CPU, (int(CHILD_TIMEOUT_S) + 1, int(CHILD_TIMEOUT_S) + 1))
    request = json.loads(sys.stdin.read())
    forbidden = tuple(request["forbidden"])
    for path, name in request["files"]:
        source = _read(path)
        found, imports = ([], []) if source is None else analyse_source(source, name, forbidden)
        del source
        print(json.dumps([name, [[f.line, f.what, f.notice, f.runs] for f in found], imports]), flush=True)


if __name__ == "__main__":
    _child_main()
