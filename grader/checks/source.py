"""What a graded function's source says, read from its syntax tree and never run: facts the
feedback points at by line where numbers alone cannot say which line is wrong.

A misplaced output ("out[0, 0, 0, 0] holds what belongs at out[0, 0, 2, 2]") is placed by the
indices of the statement that writes it; students compute them in ways that hold only on some
cases: a formula of the window's start (right only when 2 * pad == HH - 1), counters reset when a
window overruns the edge, the start itself (which steps by the stride), or loops over the
window's size.  ``Function.stories`` names such an index with the line that makes it.  And a
backward that already adds into dx (``+=``) is never told to add: ``Function.adds`` finds the line.

The file is parsed here only within the bounds of the static scan's inline parsing
(``integrity.INLINE_BYTES``); a larger or unparsable file, a link, or a function defined
elsewhere gives no facts, and the feedback stays what the numbers say.
"""

from __future__ import annotations

import ast
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from grader.checks.integrity import INLINE_BYTES, called

# the keys and shape positions that hold a window's size (pool_param's, the kernel's HH and WW), and
# the names students give them (lowercased), however they are computed
_WINDOW_KEYS = ("pool_height", "pool_width", "pool_h", "pool_w")
# (not HH or hh: some solutions name the output's height so; the kernel's HH is known from ``w.shape``)
_WINDOW_NAMES = {"ph", "pw", "pool_height", "pool_width", "pool_h", "pool_w", "p_h", "p_w", "filter_height",
                 "filter_width", "field_height", "field_width", "kernel_height", "kernel_width", "pool_size_h",
                 "pool_size_w", "window_height", "window_width"}
MAX_EXPRESSION = 90  # characters of a quoted expression


def read(root: Path | str, file: str) -> "Source | None":
    """The parsed file ``root/file``, or None (missing, a link, too large, not Python 3).  The last few
    files read are kept (cs231n's layers.py holds both the conv and the pooling part)."""
    path = os.path.join(root, file)
    try:
        info = os.lstat(path)
        if not stat.S_ISREG(info.st_mode) or info.st_size > INLINE_BYTES:
            return None
        key = (os.path.realpath(path), info.st_ino, info.st_size, info.st_mtime_ns)
        if key in _READ:
            return _READ[key]
        with open(path, "rb") as handle:
            text = handle.read(INLINE_BYTES).decode("utf-8", errors="replace")
        parsed = Source(ast.parse(text))
    except (OSError, SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    _READ[key] = parsed
    while len(_READ) > KEEP:
        del _READ[next(iter(_READ))]
    return parsed


KEEP = 4  # files kept parsed
_READ: dict[tuple, "Source"] = {}


def _short(node: ast.AST) -> str:
    try:
        text = ast.unparse(node)
    except RecursionError:  # a chain of thousands of operators: the parser takes it, unparse does not
        return "(an expression too long to show)"
    return text if len(text) <= MAX_EXPRESSION else text[:MAX_EXPRESSION - 3] + "..."


def _lines(numbers: list[int]) -> str:
    numbers = sorted(set(numbers))
    return ("line " if len(numbers) == 1 else "lines ") + ", ".join(map(str, numbers))


@dataclass
class _Bindings:
    """How one name is bound in a function."""

    loops: list[ast.For] = field(default_factory=list)
    assigned: list[ast.Assign] = field(default_factory=list)  # name = value (alone, not unpacked)
    counted: list[ast.AugAssign] = field(default_factory=list)  # name += / -= ...
    other: int = 0  # unpacked, with, comprehension, argument ...


@dataclass(frozen=True)
class Story:
    """What makes an index suspect: ``text`` (with its line); ``wrong``, whether it is wrong on its own
    (a start that steps by the stride, a loop over the window's size, a formula of a start other than
    start // stride) rather than only suspect (a counter, a formula); the window's ``start`` a formula
    is computed from; whether it is a ``window_loop``."""

    text: str
    wrong: bool
    start: str | None = None
    window_loop: bool = False


class Function:
    """One function's tree and what its names are bound to."""

    def __init__(self, node: ast.FunctionDef):
        self.node = node
        self.bindings: dict[str, _Bindings] = {}
        self.window_names: set[str] = set()
        for arg in node.args.args + node.args.kwonlyargs:
            self._bind(arg.arg).other += 1
        for sub in ast.walk(node):
            if isinstance(sub, ast.For) and isinstance(sub.target, ast.Name):
                self._bind(sub.target.id).loops.append(sub)
            elif isinstance(sub, ast.For):
                for name in _names(sub.target):
                    self._bind(name).other += 1
            elif isinstance(sub, ast.AugAssign) and isinstance(sub.target, ast.Name):
                self._bind(sub.target.id).counted.append(sub)
            elif isinstance(sub, ast.Assign):
                for target in sub.targets:
                    if isinstance(target, ast.Name):
                        self._bind(target.id).assigned.append(sub)
                        if _is_window_size(sub.value):
                            self.window_names.add(target.id)
                    elif isinstance(target, (ast.Tuple, ast.List)):
                        for name in _names(target):
                            self._bind(name).other += 1
                        self._window_unpacking(target, sub.value)
            elif isinstance(sub, (ast.comprehension, ast.withitem, ast.NamedExpr)):
                for name in _names(getattr(sub, "target", None) or getattr(sub, "optional_vars", None)):
                    self._bind(name).other += 1

    def _bind(self, name: str) -> _Bindings:
        return self.bindings.setdefault(name, _Bindings())

    def _window_unpacking(self, target: ast.AST, value: ast.AST) -> None:
        """``F, C, HH, WW = w.shape``: the last two are the kernel's window sizes."""
        elements = getattr(target, "elts", [])
        if (isinstance(value, ast.Attribute) and value.attr == "shape" and isinstance(value.value, ast.Name)
                and value.value.id in ("w", "W", "weights", "kernel", "filters") and len(elements) == 4):
            self.window_names.update(e.id for e in elements[2:] if isinstance(e, ast.Name))

    # -- what the output's (or dout's) indices are

    def returned(self) -> list[str]:
        """The names the function returns, in order (``return out, cache`` -> [out, cache])."""
        for sub in ast.walk(self.node):
            if isinstance(sub, ast.Return) and sub.value is not None:
                values = sub.value.elts if isinstance(sub.value, ast.Tuple) else [sub.value]
                return [v.id if isinstance(v, ast.Name) else "" for v in values]
        return []

    def subscripts(self, array: str, store: bool, line: int | None = None) -> list[ast.Subscript]:
        """Subscripts of ``array`` written (``store``) or read, on ``line`` if given."""
        found = []
        for sub in ast.walk(self.node):
            if not (isinstance(sub, ast.Subscript) and isinstance(sub.value, ast.Name) and sub.value.id == array):
                continue
            if line is not None and sub.lineno != line:
                continue
            if isinstance(sub.ctx, ast.Store) == store:
                found.append(sub)
        return found

    def subscripts_on(self, line: int) -> list[ast.Subscript]:
        """The subscripts of plain names on ``line``, writes first."""
        found = [s for s in ast.walk(self.node) if isinstance(s, ast.Subscript) and isinstance(s.value, ast.Name)
                 and s.lineno == line]
        return sorted(found, key=lambda s: not isinstance(s.ctx, ast.Store))

    def _range(self, name: str) -> tuple[ast.For, ast.Call] | None:
        """The loop that alone binds ``name``, and its ``range(...)``; None where it is bound otherwise."""
        b = self.bindings.get(name)
        if not b or not b.loops or b.assigned or b.counted or b.other:
            return None
        loop = b.loops[0]
        call = loop.iter
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "range" and call.args:
            return loop, call
        return None

    def story(self, name: str, line: int | None = None) -> Story | None:
        """What makes index ``name`` (read at ``line``) suspect, with its line; None where it is a plain
        loop index."""
        b = self.bindings.get(name)
        if b is None or b.other:
            return None
        if b.counted:
            resets = [a.lineno for a in b.assigned]
            return Story(f"{name} is a counter ({name} += ... at {_lines([a.lineno for a in b.counted])}"
                         + (f", set at {_lines(resets)}" if resets else "") + ")", wrong=False)
        ranged = self._range(name)
        if b.loops:
            if ranged is None:
                return None
            loop, call = ranged
            if len(call.args) == 3 and not (isinstance(call.args[2], ast.Constant) and call.args[2].value == 1):
                return Story(f"{name} steps by the stride (line {loop.lineno}: for {name} in {_short(call)}) and places "
                             f"the output by itself: output positions go one by one, and the window of output position "
                             f"k starts at k * stride (a window starting at {name} is output {name} // stride)", True)
            bound = call.args[-1] if len(call.args) == 1 else None
            if isinstance(bound, ast.Name) and self._is_window(bound.id):
                return Story(f"{name} runs over {_short(call)} (line {loop.lineno}), the window's size, not over the "
                             "output positions", True, window_loop=True)
            return None
        before = [a for a in b.assigned if line is None or a.lineno < line]
        if before and not isinstance(before[-1].value, ast.Constant):
            assign = before[-1]  # the assignment the index reads (a size's name may be reused as an index)
            starts = [n for n in _names(assign.value) if self._stepped(n)]
            if starts and _divided(assign.value, starts[0]):
                return None  # start // stride: right
            return Story(f"{name} = {_short(assign.value)} (line {assign.lineno})"
                         + (f", computed from the window's start {starts[0]}" if starts else ""), bool(starts),
                         start=starts[0] if starts else None)
        return None

    def _stepped(self, name: str) -> bool:
        """Whether ``name`` is a loop's variable over ``range(start, stop, step)``: a window's start."""
        ranged = self._range(name)
        return ranged is not None and len(ranged[1].args) == 3

    def stories(self, array: str, store: bool, line: int | None = None) -> list[tuple[Story, int]]:
        """Each suspect name that ``array``'s writes (reads) on ``line`` (anywhere) are indexed by: its
        story, with the line of the statement."""
        told: list[tuple[Story, int]] = []
        for sub in self.subscripts(array, store, line):
            elements = sub.slice.elts if isinstance(sub.slice, ast.Tuple) else [sub.slice]
            for element in elements:
                if isinstance(element, ast.Slice) and isinstance(element.lower, ast.Name):
                    element = element.lower  # out[:, :, i:i + 1, ...]: placed at i
                if isinstance(element, ast.Name):
                    story = self.story(element.id, sub.lineno)
                    if story and story not in (t for t, _ in told):
                        told.append((story, sub.lineno))
        return told

    @staticmethod
    def describe(array: str, store: bool, told: list[tuple[Story, int]]) -> str | None:
        """``stories`` said as one sentence (None for none)."""
        if not told:
            return None
        verb = "written" if store else "read"
        starts = [t.start for t, _ in told if t.start]
        where = ("; a window starting at " + " and ".join(starts) + " is at output position " + ", ".join(
            f"{s} // stride" for s in starts) if starts else "")
        where += ("; the output positions are range(H') for the rows, range(W') for the columns"
                  if any(t.window_loop for t, _ in told) else "")
        return (f"{array} is {verb} at {_lines([n for _, n in told])} at an index where "
                + "; and ".join(t.text for t, _ in told) + where)

    def indices(self, array: str, store: bool, line: int | None = None, wrong_only: bool = False) -> str | None:
        """``describe`` of ``stories`` (with ``wrong_only``, only the names wrong on their own)."""
        return self.describe(array, store, [(t, n) for t, n in self.stories(array, store, line)
                                            if t.wrong or not wrong_only])

    def output(self) -> str | None:
        """The name of the array the function returns first (``return out, cache`` -> out), or None."""
        returned = self.returned()
        return returned[0] if returned and returned[0] else None

    # -- adding

    def adds(self, arrays: set[str]) -> int | None:
        """The line of the first statement that adds into a subscript of one of ``arrays``
        (``a[...] += v``, ``a[...] = a[...] + v``, ``np.add.at(a, ...)``), or None."""
        for sub in ast.walk(self.node):
            if (isinstance(sub, ast.AugAssign) and isinstance(sub.op, ast.Add) and isinstance(sub.target, ast.Subscript)
                    and _base(sub.target) in arrays):
                return sub.lineno
            if isinstance(sub, ast.Assign) and len(sub.targets) == 1 and isinstance(sub.targets[0], ast.Subscript):
                name = _base(sub.targets[0])
                if (name in arrays and isinstance(sub.value, ast.BinOp) and isinstance(sub.value.op, ast.Add)
                        and name in {_base(s) for s in ast.walk(sub.value) if isinstance(s, ast.Subscript)}):
                    return sub.lineno
            if (isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute) and sub.func.attr == "at"
                    and isinstance(sub.func.value, ast.Attribute) and sub.func.value.attr == "add" and sub.args
                    and _base(sub.args[0]) in arrays):
                return sub.lineno
        return None

    # -- code that is wrong whatever the case (said with the function's failing tests)

    def certain(self) -> list[str]:
        """Lines that are wrong on their own, each with what is wrong: a window count as if windows tiled
        the input (``H // pool_height``, ``H / stride``), a shape unpacked with height and width swapped,
        an array allocated with one side for both, dout read at an element's position divided by the
        window's size.  Code under an ``if`` is left out (a guarded fast path may be right)."""
        guarded = {id(n) for sub in ast.walk(self.node) if isinstance(sub, ast.If)
                   for n in ast.walk(sub) if n is not sub}
        told: list[str] = []

        def say(text: str) -> None:
            if text not in told:
                told.append(text)

        tiling: list[ast.BinOp] = []
        for sub in ast.walk(self.node):
            if isinstance(sub, ast.BinOp) and id(sub) not in guarded and self._tiling(sub):
                tiling.append(sub)
            elif isinstance(sub, ast.Assign) and isinstance(sub.targets[0], (ast.Tuple, ast.List)):
                names = [e.id if isinstance(e, ast.Name) else "" for e in sub.targets[0].elts]
                shape = isinstance(sub.value, ast.Attribute) and sub.value.attr == "shape"
                if shape and len(names) == 4 and names[2][:1].lower() == "w" and names[3][:1].lower() == "h":
                    say(f"line {sub.lineno}: {', '.join(names)} = {_short(sub.value)} takes the height as "
                        f"{names[2]} and the width as {names[3]}: an array is (N, C, H, W), height before width")
                twice = [n for n in dict.fromkeys(names) if n and n != "_" and names.count(n) > 1]
                if shape and twice:
                    say(f"line {sub.lineno}: {', '.join(names)} = {_short(sub.value)} gives two sizes one name, "
                        f"{twice[0]}: the second overwrites the first, so both are taken as equal (right only for "
                        "square kernels or windows)")
            elif isinstance(sub, ast.Call) and called(sub) in ("zeros", "empty", "ones") and sub.args and \
                    id(sub) not in guarded:
                shape = sub.args[0]
                sides = shape.elts if isinstance(shape, (ast.Tuple, ast.List)) else []
                square = [f"{_short(e)}" for e in sides if isinstance(e, ast.BinOp) and isinstance(e.op, ast.Mult)
                          and isinstance(e.left, ast.Name) and isinstance(e.right, ast.Name)
                          and e.left.id == e.right.id]
                if len(sides) >= 2 and all(isinstance(e, ast.Name) for e in sides[-2:]) and \
                        sides[-1].id == sides[-2].id and sides[-1].id not in ("C", "N", "F"):
                    square.append(f"({sides[-2].id}, {sides[-1].id})")
                for what in square:
                    say(f"line {sub.lineno}: {_short(sub)} allocates {what}, one side for both the height and the "
                        "width: right only for square outputs (H' x W')")
            elif isinstance(sub, ast.Call) and called(sub) == "pad" and len(sub.args) >= 2 and self._axes(
                    sub.args[0]) > 2 and self._one_width(sub.args[1]):
                axes = self._axes(sub.args[0])
                say(f"line {sub.lineno}: {_short(sub)} pads every axis of a {axes}-axis array, the "
                    f"{'batch and channels' if axes == 4 else 'channels'} too: pad only the height and width, "
                    "np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))")
            elif isinstance(sub, ast.Call) and called(sub) == "reshape" and _fixed_square(sub):
                say(f"line {sub.lineno}: {_short(sub)} fixes a {_fixed_square(sub)} x {_fixed_square(sub)} shape: "
                    "right only for that kernel (or window) size; take the sizes from w.shape (HH, WW) or pool_param")
            elif isinstance(sub, ast.Compare) and len(sub.comparators) == 1 and self._whole_x_against_max(sub):
                say(f"line {sub.lineno}: {_short(sub)} compares the window's maximum with all of x (or a whole "
                    "channel), not with the window: an element equal to it elsewhere gets that window's dout too; "
                    "compare within the window, x[n, c, i * stride:i * stride + pool_height, ...]")
            elif isinstance(sub, ast.Subscript) and isinstance(sub.value, ast.Name) and sub.value.id == "dout":
                elements = sub.slice.elts if isinstance(sub.slice, ast.Tuple) else [sub.slice]
                divided = [_short(e) for e in elements if isinstance(e, ast.BinOp) and isinstance(e.op, ast.FloorDiv)
                           and isinstance(e.right, ast.Name) and self._is_window(e.right.id)
                           and not self._stepped(_base(e.left) or "")]
                if divided:
                    say(f"line {sub.lineno}: dout is read at {' and '.join(divided)}: an element's window is not found "
                        "by dividing its position by the window's size: windows start every stride rows and may "
                        "overlap (an element may lie in several, or none); loop over the windows and send each "
                        "one's dout to its own maximum")
        if tiling:
            told.insert(0, f"{_lines([t.lineno for t in tiling])}: " + " and ".join(dict.fromkeys(
                _short(t) for t in tiling)) + " count the windows as if they tiled the input, one every window (or "
                "stride) from the edge; there are H' = (H - pool_height) // stride + 1 of them down (in a conv, 1 + (H "
                "+ 2 * pad - HH) // stride): right only when the stride equals the window and fits exactly")
        return told

    def overwrites(self) -> str | None:
        """For a backward that never adds into dx: the first line that assigns (=) into a window of dx (or
        of what dx is cut from) inside a loop, a slice or a computed position: where windows overlap, a
        later window's share overwrites an earlier one's; None where there is no such line."""
        output = self.output()
        if output is None or self.adds(self.sources_of(output)) is not None:
            return None
        b = self.bindings.get(output)
        arrays = {output} | {_base(a.value) for a in (b.assigned if b else [])
                                  if isinstance(a.value, ast.Subscript)}  # dx = dx_pad[..., p:-p, p:-p]
        loops = [sub for sub in ast.walk(self.node) if isinstance(sub, (ast.For, ast.While))]
        inside = {id(n) for loop in loops for statement in loop.body for n in ast.walk(statement)}
        for sub in ast.walk(self.node):
            if not (isinstance(sub, ast.Assign) and id(sub) in inside and len(sub.targets) == 1
                    and isinstance(sub.targets[0], ast.Subscript) and _base(sub.targets[0]) in arrays):
                continue
            target = sub.targets[0]
            while isinstance(target.value, ast.Subscript):  # dx[n][window]: the innermost index holds the window
                target = target.value
            elements = [e for t in (sub.targets[0], target) for e in (
                t.slice.elts if isinstance(t.slice, ast.Tuple) else [t.slice])]
            if any(isinstance(e, (ast.Slice, ast.BinOp)) and _names(e) for e in elements):
                return (f"line {sub.lineno}: {_short(sub.targets[0])} = ... assigns each window's share of the "
                        "gradient: where windows overlap (stride < window), a later window overwrites what an earlier "
                        "one gave a shared element; add it (+=)")
        return None

    def _whole_x_against_max(self, node: ast.Compare) -> bool:
        """``x[n, c] == window_max``, ``np.abs(x - np.max(window)) < eps``: all of x, or a whole image or
        channel of it (no slice with a bound), held against a maximum."""
        sides = [node.left, node.comparators[0]]
        if isinstance(sides[0], ast.Call) and called(sides[0]) in ("abs", "absolute") and sides[0].args and \
                isinstance(sides[0].args[0], ast.BinOp) and isinstance(sides[0].args[0].op, ast.Sub):
            sides = [sides[0].args[0].left, sides[0].args[0].right]  # |x - m| < eps: x against m
        whole = [side for side in sides if self._whole_x(side)]
        other = [side for side in sides if side not in whole]
        return bool(whole) and bool(other) and self._a_maximum(other[0])

    def _x_is_input(self) -> bool:
        """Whether ``x`` here is the layer's whole input: the first parameter of a function that also takes
        conv_param or pool_param, or unpacked from ``cache`` (a helper's own x may be a window)."""
        params = [a.arg for a in self.node.args.args]
        if params[:1] == ["x"] and ({"conv_param", "pool_param"} & set(params)):
            return True
        return any(isinstance(a.value, ast.Name) and a.value.id == "cache" and isinstance(a.targets[0], (ast.Tuple,
                   ast.List)) and any(isinstance(e, ast.Name) and e.id == "x" for e in a.targets[0].elts)
                   for a in ast.walk(self.node) if isinstance(a, ast.Assign))

    def _one_width(self, node: ast.AST) -> bool:
        """A pad width that is one number (``p``, ``1``), not a width per axis (a tuple, or a name bound to one)."""
        if isinstance(node, ast.Constant):
            return isinstance(node.value, int)
        b = self.bindings.get(node.id) if isinstance(node, ast.Name) else None
        number = lambda v: isinstance(v, (ast.Subscript, ast.BinOp)) or (  # noqa: E731 - conv_param['pad'], p + 1
            isinstance(v, ast.Constant) and isinstance(v.value, int))
        return bool(b and b.assigned and not b.other and not b.loops and all(number(a.value) for a in b.assigned))

    def _whole_x(self, node: ast.AST) -> bool:
        if not self._x_is_input():
            return False
        if isinstance(node, ast.Name):
            return node.id == "x"
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == "x":
            elements = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
            return len(elements) <= 2 and not any(isinstance(e, ast.Slice) and _names(e) for e in elements)
        return False

    def _a_maximum(self, node: ast.AST, seen: frozenset = frozenset()) -> bool:
        """A max of something (``np.max(window)``, ``window.max()``), or a name assigned only from one
        (``m = n; n = m`` is neither: ``seen`` stops the cycle)."""
        if isinstance(node, ast.Call):
            return called(node) in ("max", "amax")
        if not isinstance(node, ast.Name) or node.id in seen or len(seen) > 16:
            return False
        b = self.bindings.get(node.id)
        return bool(b and b.assigned and not b.loops and all(
            self._a_maximum(a.value, seen | {node.id}) for a in b.assigned))

    def _axes(self, node: ast.AST) -> int:
        """How many axes ``node`` has where the code says so: the function's first argument (x, 4) less one
        per integer index (``x[n]``: 3; ``x[n, c]``: 2); 0 where unknown."""
        if not self._x_is_input():
            return 0
        if isinstance(node, ast.Name):
            return 4 if node.id == "x" else 0
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == "x":
            elements = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
            if any(isinstance(e, ast.Constant) and e.value is Ellipsis for e in elements):
                return 0
            return 4 - sum(not isinstance(e, ast.Slice) for e in elements)
        return 0

    def _is_window(self, name: str) -> bool:
        return name in self.window_names or name.lower() in _WINDOW_NAMES

    def _is_stride(self, name: str) -> bool:
        b = self.bindings.get(name)
        from_param = bool(b and b.assigned and all(
            isinstance(a.value, ast.Subscript) and isinstance(a.value.slice, ast.Constant)
            and a.value.slice.value == "stride" for a in b.assigned))
        return from_param or name.lower() in ("stride", "pool_stride")

    def _tiling(self, node: ast.BinOp) -> bool:
        """``H // pool_height``, ``W / stride``, ``x.shape[2] // ph``: a size over a window or a stride, with
        nothing taken off first (``(H - ph) // stride`` is the right count's start)."""
        if not isinstance(node.op, (ast.FloorDiv, ast.Div)) or not isinstance(node.right, ast.Name):
            return False
        left = node.left
        size = (isinstance(left, ast.Name) and left.id in ("H", "W")) or (
            isinstance(left, ast.Subscript) and isinstance(left.value, ast.Attribute) and left.value.attr == "shape")
        return size and (self._is_window(node.right.id) or self._is_stride(node.right.id))

    def caches_padded(self) -> bool:
        """Whether the cache this forward returns holds x padded: ``x = np.pad(x, ...)`` (or
        ``np.lib.pad``), then ``cache = (x, w, b, conv_param)`` (or the tuple returned as it is)."""
        returned = None
        for sub in ast.walk(self.node):
            if isinstance(sub, ast.Return) and isinstance(sub.value, ast.Tuple) and len(sub.value.elts) == 2:
                returned = sub.value.elts[1]
                break
        if isinstance(returned, ast.Name):
            b = self.bindings.get(returned.id)
            returned = b.assigned[-1].value if b and len(b.assigned) == 1 else None
        if not (isinstance(returned, ast.Tuple) and returned.elts and isinstance(returned.elts[0], ast.Name)):
            return False
        b = self.bindings.get(returned.elts[0].id)
        return bool(b and b.assigned and not b.loops and not b.counted and all(
            isinstance(a.value, ast.Call) and called(a.value) == "pad" for a in b.assigned))

    def sources_of(self, name: str) -> set[str]:
        """``name`` and the arrays it is cut from or built of (``dx = dx_pad[:, :, p:-p, p:-p]``)."""
        found = {name}
        b = self.bindings.get(name)
        for assign in (b.assigned if b else []):
            found |= {_base(s) for s in ast.walk(assign.value) if isinstance(s, (ast.Subscript, ast.Name))} - {None}
        return found


def _fixed_square(call: ast.Call) -> int:
    """k where a reshape's last two sizes are the same literal k >= 2 (``.reshape(-1, 3, 3)``), else 0."""
    sizes = call.args[0].elts if len(call.args) == 1 and isinstance(call.args[0], (ast.Tuple, ast.List)) else call.args
    last = [e.value for e in sizes[-2:] if isinstance(e, ast.Constant) and isinstance(e.value, int)]
    return last[0] if len(sizes) >= 3 and len(last) == 2 and last[0] == last[1] >= 2 else 0


def _base(node: ast.AST) -> str | None:
    while isinstance(node, (ast.Subscript, ast.Attribute)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _names(node: ast.AST | None) -> list[str]:
    return [] if node is None else [n.id for n in ast.walk(node) if isinstance(n, ast.Name)]


def _divided(value: ast.AST, start: str) -> bool:
    """``start // s`` or ``int(start / s)``: a window start turned into its output position."""
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "int" and value.args:
        value = value.args[0]
        return (isinstance(value, ast.BinOp) and isinstance(value.op, (ast.Div, ast.FloorDiv))
                and isinstance(value.left, ast.Name) and value.left.id == start)
    return (isinstance(value, ast.BinOp) and isinstance(value.op, ast.FloorDiv) and isinstance(value.left, ast.Name)
            and value.left.id == start)


def _is_window_size(value: ast.AST) -> bool:
    """``pool_param['pool_height']``, ``pool_param.get('pool_width', 2)``, ``w.shape[2]``."""
    if isinstance(value, ast.Subscript):
        key = value.slice
        if isinstance(key, ast.Constant) and key.value in _WINDOW_KEYS:
            return True
        return (isinstance(value.value, ast.Attribute) and value.value.attr == "shape"
                and isinstance(value.value.value, ast.Name) and value.value.value.id in ("w", "W", "weights")
                and isinstance(key, ast.Constant) and key.value in (2, 3, -1, -2))
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and value.func.attr == "get":
        return bool(value.args) and isinstance(value.args[0], ast.Constant) and value.args[0].value in _WINDOW_KEYS
    return False


class Source:
    """A parsed submission file: its top-level functions by name (the last definition wins, as
    when Python runs the file)."""

    def __init__(self, tree: ast.Module):
        self.functions: dict[str, ast.FunctionDef] = {}
        for node in tree.body:
            if isinstance(node, ast.FunctionDef):
                self.functions[node.name] = node
        self._seen: dict[str, Function] = {}

    def reached(self, name: str) -> list[Function]:
        """The function ``name`` and the file's functions it calls, directly or through each other."""
        found, todo = [], [name]
        while todo and len(found) < 16:
            fn = self.function(todo.pop(0))
            if fn is None or fn in found:
                continue
            found.append(fn)
            todo += [c.func.id for c in ast.walk(fn.node) if isinstance(c, ast.Call) and isinstance(c.func, ast.Name)
                     and c.func.id in self.functions]
        return found

    def function(self, name: str) -> Function | None:
        if name not in self.functions:
            return None
        if name not in self._seen:
            try:
                self._seen[name] = Function(self.functions[name])
            except RecursionError:
                return None
        return self._seen[name]
