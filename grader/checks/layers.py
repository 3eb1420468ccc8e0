"""Checks of the numpy layer parts: conv, max_pool, avg_pool and every part an assignment declares.

What a part is (its gradients, reference, cases, wrong variants and hints) comes from its
declaration (``grader.parts.LayerPart``); nothing here knows one part from another.
For one part, in one sandbox session, each case gives:

- forward: the student's output against the reference's (shape, dtype and
  NaN first, then the relative error), and on a mismatch the known wrong
  variant it matches ("the kernel looks flipped ...");
- backward: each gradient against the reference's for a random upstream
  gradient, with the same diagnosis for gradients;
- numeric-gradient (some cases): the student's backward against directional
  derivatives of the student's own forward, which tells "forward right,
  backward wrong" from "both wrong".

The reference runs here, in the parent; student code only in the session.
"""

from __future__ import annotations

import ast
import copy
import functools
from dataclasses import dataclass, field, replace
from itertools import combinations
import re
from typing import Any, Callable

import numpy as np

from grader.layouts import PartSpec
from grader.parts import LayerPart, registry
from grader.results import TestResult
from grader.sandbox import CallResult, Session
from grader.seeding import rng

from .cases import ConvCase, Inputs, PoolCase, upstream
from .compare import check_array, heatmap, rel_error, shape_hint
from .hints import FEATURES, OVERLAP_ADDS
from .numeric import directional, probe_points
from .source import Function, Source
from .truth import ReferenceTruth

Truth = ReferenceTruth  # the instructor's truth; student mode passes a grader.student.public.PublicTruth

FATAL = ("timeout", "exit", "crash", "memory", "cpu", "channel", "dead")


@dataclass
class CaseRun:
    """What the student's code did on one case (kept for the later kinds)."""

    case: ConvCase | PoolCase
    inputs: Inputs
    expected_out: np.ndarray
    expected_cache: Any
    forward: CallResult | None = None
    out: np.ndarray | None = None
    cache: Any = None
    forward_problem: str | None = None
    forward_passed: bool = False
    notes: list[str] = field(default_factory=list)
    # kind -> {symptom: seen?} on this case ("fails", "raises", "wrong", a gradient's name); a symptom
    # that could not be told (the call was not made) is absent; read across cases by ``across``
    symptoms: dict[str, dict[str, bool]] = field(default_factory=dict)
    # a backward failure on the documented cache held back as "not run" until a pass shows the backward
    # takes that cache: (the failing test, its symptoms, the cache)
    pending: tuple | None = None
    given: str = ""  # where the forward failed: the cache the backward was given instead, in words


def sentence(text: str) -> str:
    """``text`` with a capital first letter, to follow a full stop."""
    return text[:1].upper() + text[1:]


def _call_note(result: CallResult) -> str:
    """Student output worth showing with a failure."""
    printed = (result.stdout + result.stderr).strip()
    if not printed:
        return ""
    return f" (your code printed: {printed[:200]!r}{'...' if len(printed) > 200 else ''})"


# Errors whose cause students misread, and what it is (matched in the error's text).
ERROR_HINTS = (
    (re.compile(r"'float' object cannot be interpreted as an integer|slice indices must be integers|"
                r"must be int, not float|expected int, got float|only integers, slices \(`:`\), ellipsis"),
     "a size or an index is a float: in Python 3, / always gives a float (Python 2 floored it); compute "
     "output sizes with //, e.g. H_out = 1 + (H + 2 * pad - HH) // stride"),
    (re.compile(r"from shape \([\d, ]*\b0, ?0\)|shape \([\d, ]*\b0, ?0\) into|into shape \([\d, ]*\b0, ?0\)"
                r"|broadcast together with shapes .*\(\d+(?:, ?\d+)*, ?0, ?0\)"),
     "an array is empty: a slice like x_pad[..., pad:-pad, pad:-pad] or dx_pad[..., pad:-pad, pad:-pad] is empty "
     "when pad is 0 (-0 is 0); write pad:pad + H and pad:pad + W"),
    (re.compile(r"cannot access local variable '\w+' where it is not associated with a value"),
     "a variable is assigned only on some paths (inside `if pad > 0:` or the like) and this case took another: "
     "assign it on every path (np.pad with pad 0 returns x as it is)"),
    (re.compile(r"name 'xrange' is not defined|xrange is not installed in the grader's sandbox"),
     "xrange is Python 2's range: use range (this code was written for Python 2: check that sizes use // too)"),
    (re.compile(r"module 'numpy.lib' has no attribute 'pad'"),
     "np.lib.pad is gone from NumPy 2: call np.pad (the same arguments)"),
    (re.compile(r"unexpected keyword argument '(newshape|dims)'"),
     "a NumPy keyword this code uses is gone (reshape's newshape= from NumPy 2.4 on, unravel_index's dims= long "
     "before): pass the shape positionally"),
    (re.compile(r"can only convert an array of size 1 to a Python scalar|only length-1 arrays can be converted"),
     "a number was taken (.item(), int(), float()) from an array of several values: at a tie, np.where(window == "
     "window.max()) finds every maximum; take one with k = np.argmax(window) and its row and column with "
     "np.unravel_index(k, window.shape)"),
    (re.compile(r"only 0-dimensional arrays can be converted"),  # NumPy 2.4 on: one value or several, the same words
     "int() or float() of an array with axes, which NumPy 2.4 and later refuse even when it holds one value (earlier "
     "versions only warn, so it may run on your machine): index it, a[0], or take a.item(); if it holds several "
     "(at a tie, np.where(window == window.max()) finds every maximum), take one: k = np.argmax(window), and its "
     "row and column with np.unravel_index(k, window.shape)"),
    (re.compile(r"setting an array element with a sequence"),
     "an array is assigned into a single element (out[n, c, i, j] = ...): the right side must be one number, but "
     "it is an array: a reduction that keeps its axes (np.max(window, keepdims=True) is a (1, 1) array, which NumPy "
     "2.4 and later refuse here; earlier versions only warn), one over too few axes, a row times a column "
     "((1, K) @ (K, 1) is a (1, 1) array), or the whole bias b added where b[f] belongs; drop keepdims=True, reduce "
     "over the whole window (np.sum(window * w[f])), or add b[f]"),
    # (NumPy 2.0 to 2.3 say "`itemset` was removed from the ndarray class in NumPy 2.0"; 2.4, no such attribute)
    (re.compile(r"'numpy.ndarray' object has no attribute 'itemset'|`itemset` was removed from the ndarray class"),
     "ndarray.itemset is gone from NumPy 2: write a[i, j] = value (or a[i, j] += value)"),
    (re.compile(r"module 'numpy' has no attribute '(int|float|bool|object)'"),
     "np.int, np.float and the like are gone from numpy (since 1.24): use int, float, or np.int64 / np.float64"),
    (re.compile(r"index \d+ is out of bounds for axis [23]"),
     "an index runs past the edge of the input: if the loops go over every stride step of the input, loop "
     "over the H' x W' output positions instead, not over every stride step of the input (pooling: "
     "H' = (H - pool_height) // stride + 1; conv: H' = (H + 2 * pad - HH) // stride + 1); if an index is "
     "computed inside a window, check it (in a pool_height x pool_width window, flat index k is row "
     "k // pool_width, column k % pool_width)"),
)


def either(found: list[tuple[str, str]]) -> tuple[str, str] | None:
    """The diagnosis from the wrong variants a result matched: one names the bug; on a case where two
    bugs give the same result (2x4 windows with stride 2: stride-sized and height-sized windows
    coincide), both are said, so as not to send the student to the wrong line."""
    if len(found) < 2:
        return found[0] if found else None
    return found[0][0], "either " + "; or ".join(message for _, message in found[:3])


def error_hint(text: str) -> str:
    """``": <what it means>"`` for an error text in ERROR_HINTS, else ""."""
    for pattern, hint in ERROR_HINTS:
        if pattern.search(text):
            return f": {hint}"
    return ""


def failure(fn: str, result: CallResult, why: str | None = None) -> str:
    """``conv_forward failed: ZeroDivisionError ...`` or, for a call that was
    not made, ``conv_backward not run: it timed out after 3 s on an earlier case``;
    ``why``: what the error means on this case, said instead of the generic hint."""
    if result.kind == "dead":
        return f"{fn} not run: {result.error}"
    return f"{fn} failed: {result.error}" + (f": {why}" if why else error_hint(result.error or ""))


def _unpack_forward(result: CallResult, fn: str, failed: str | None = None) -> tuple[Any, Any, str | None]:
    if not result.ok:
        return None, None, failed or failure(fn, result)
    value = result.value
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        kind = type(value).__name__ if value is not None else "None"
        return None, None, f"{fn} must return (out, cache), got {kind}"
    return value[0], value[1], None


def _facts(nothing=lambda: None, once: bool = False):
    """For a ``LayerChecker`` method that reads the student's syntax tree: where that fails on code made
    to defeat it (nesting deep enough to exhaust the recursion limit, a tree too large for memory), the
    answer is ``nothing()``, nothing known, never an error in the grader.  ``once``: the answer depends
    on the source alone (not on the cases run so far), so it is worked out once per arguments (a list
    answer is copied for each caller): every failing case asks again, each a walk of the tree."""
    def wrap(method):
        @functools.wraps(method)
        def guarded(self, *args, **kwargs):
            try:
                return method(self, *args, **kwargs)
            except (RecursionError, MemoryError):
                return nothing()

        @functools.wraps(method)
        def remembered(self, *args):
            memo = self.__dict__.setdefault("_facts_once", {})
            key = (method.__name__, args)
            if key not in memo:
                memo[key] = guarded(self, *args)
            found = memo[key]
            return list(found) if isinstance(found, list) else found
        return remembered if once else guarded
    return wrap


class LayerChecker:
    """Runs the checks of one layer part against one session."""

    def __init__(self, part: str, spec: PartSpec, session: Session, seed: int, truth,
                 tolerance: dict[str, float], layer: LayerPart | None = None,
                 source: Callable[[], Source | None] | None = None):
        self.part, self.spec, self.session, self.seed, self.truth = part, spec, session, seed, truth
        self._source = source  # reads the part's file (parsed, never run) when feedback first needs a line
        self.layer = layer or registry()[part]
        self.tol = {**tolerance, **self.layer.tolerance}
        self.runs: list[CaseRun] = []
        self.blocked: dict[str, str] = {}
        self.notes: list[str] = []  # what the child said about the student's code worth a line in the report
        self.pinned: set[str] = set()  # error hints the source pins to a wrong index (see ``case_error``)

    # -- plumbing

    def cases(self) -> tuple[ConvCase | PoolCase, ...]:
        return self.truth.cases(self.layer, self.spec)

    def inputs(self, case) -> Inputs:
        return self.truth.inputs(self.layer, case, self.seed, self.spec)

    def call_forward(self, args: tuple, made: CallResult | None = None) -> CallResult:
        return self._call(self.spec.forward, args, made)

    def call_backward(self, dout: np.ndarray, cache: Any, made: CallResult | None = None) -> CallResult:
        return self._call(self.spec.backward, (dout, cache), made)

    def _call(self, function: str, args: tuple, made: CallResult | None = None) -> CallResult:
        """One call into the session (``made``: its result, from a request that made it with others).
        A function that hung, exited or blew its memory once is not called again (its later tests fail
        with the reason, at no cost in time); the session is restarted for the other function."""
        if function in self.blocked:
            return CallResult(ok=False, error=f"it {self.blocked[function]} on an earlier case", kind="dead")
        try:
            result = made if made is not None else self.session.call(self.spec.module, function, args)
            self.notes += [n for n in result.notes if "stand-in" in n and n not in self.notes]
        except (ValueError, TypeError) as exc:  # e.g. a cache that lived in a child that has ended
            return CallResult(ok=False, error=str(exc), kind="dead")
        if not result.ok and result.kind in FATAL:
            self.blocked[function] = result.error or result.kind
        if not self.session.alive:
            self.session.restart()
        return result

    def keeps_documented_cache(self) -> bool | None:
        """Whether the student's forward returns the cache the layout documents, ``(x, w, b, conv_param)``,
        wherever it returns one: True, and its backward is tested on that cache where the forward
        failed; False (it caches something else, the padded x, im2col columns: its backward expects
        that, and would fail on the documented one through no bug of its own); None when the forward
        never returns a cache (nothing is known: a pass on the documented cache on some case shows the
        backward takes it, and only then do its failures on it count; until then they are "not run",
        with what happened)."""
        documented = self.layer.hints.cache
        if documented is None:
            return False
        if not hasattr(self, "_keeps_documented"):
            own = [run for run in self.runs if run.out is not None]
            self._keeps_documented = None if not own else all(
                _same(run.cache, documented(run.inputs.args)) for run in own)
        return self._keeps_documented

    @_facts()
    def source_cache_form(self) -> tuple[type, tuple[str, ...]] | None:
        """Where the forward never returned a cache, but its code pads x and caches the padded x in the
        documented tuple (``x = np.pad(x, ...)``, ``cache = (x, w, b, conv_param)``): that form, built
        for each case, is what its backward takes."""
        fn = self.function("forward")
        items = self.layer.hints.cache_items
        if fn is None or items is None or self.layer.hints.cache is None or not fn.caches_padded():
            return None
        known = items(self.runs[0].inputs.args) if self.runs else {}
        if "x_pad" not in known:
            return None
        documented = self.layer.hints.cache(self.runs[0].inputs.args)
        form = [next((k for k, v in known.items() if k != "x_pad" and _same(item, v)), None) for item in documented]
        if not form or form[0] != "x" or None in form:
            return None
        return type(documented), ("x_pad", *form[1:])

    def own_cache_form(self) -> tuple[type, tuple[str, ...]] | None:
        """Where the forward returns a cache of its own making on every case it passed (the padded x in
        place of x ...), the form of that cache in the part's cache items, (tuple, ("x_pad", "w", "b",
        "conv_param")): built from a failed case's inputs, it is the cache the backward takes; None
        when some item is not one of them (im2col columns, an object)."""
        items = self.layer.hints.cache_items
        if items is None:
            return None
        if not hasattr(self, "_own_cache_form"):
            kind, fits = None, None  # fits: per item, the names it equals on every case so far
            for run in (run for run in self.runs if run.out is not None and run.forward_passed):
                cache, known = run.cache, items(run.inputs.args)
                if not isinstance(cache, (tuple, list)) or not cache or (fits and len(cache) != len(fits)):
                    fits = None
                    break
                here = [[k for k, v in known.items() if _same(item, v)] for item in cache]
                fits = here if fits is None else [[k for k in a if k in b] for a, b in zip(fits, here)]
                kind = type(cache)
            # (where x and the padded x coincide on every case, pad 0, the first name, x, is taken)
            self._own_cache_form = (kind, tuple(f[0] for f in fits)) if fits and all(fits) else None
        return self._own_cache_form

    def case_error(self, args: tuple, result: CallResult) -> str | None:
        """What an error means on this case, where the part's hints know it (an index error at H' where
        the loops step through the whole input ...): said instead of the generic hint."""
        if result.ok or result.kind == "dead":
            return None
        undefined = _UNDEFINED.search(result.error or "")
        relative = next((n for n in self.notes if "implicit relative import" in n), None)
        if undefined and relative and undefined.group(1) not in _PYTHON2_NAMES:
            return f"is {undefined.group(1)} meant to come from a module of your own? {relative.split(' (')[0]}"
        hint = self.layer.hints.error
        why = hint(args, result.error or "") if hint else None
        told = self.error_lines(result.error or "")
        if told and told[1]:  # an index wrong on its own, at the line that raised: that is the bug
            self.pinned.add(told[0] if not why else f"{why}; {told[0]}")  # (no split across cases needed)
            return told[0] if not why else f"{why}; {told[0]}"  # (said instead of the generic hint only)
        generic = error_hint(result.error or "")[2:]
        if told and (why or generic):  # the line's suspect index, beside what the error means
            return f"{why or generic}; {told[0]}"
        return why or (told[0] if told else None)

    # -- what the source says (read, never run; a fact that cannot be had, from code made to defeat the
    # syntax tree's walks, is no fact: see ``_facts``)

    @property
    def source(self) -> Source | None:
        """The part's parsed file, read on first use: only failing code needs it (a right submission
        pays nothing for it)."""
        if callable(self._source):
            self._source = self._source()
        return self._source

    def _named(self, kind: str) -> str:
        return self.spec.forward if kind == "forward" else self.spec.backward

    def function(self, kind: str) -> Function | None:
        return self.source.function(self._named(kind)) if self.source else None

    @_facts(once=True)
    def placed_by(self) -> tuple[str, bool] | None:
        """Where the forward writes its output at an index that is suspect (a counter, a formula of a
        window's start ...), said with a misplaced output instead of the list of usual suspects; and
        whether one such index is wrong on its own (then it names the bug)."""
        fn = self.function("forward")
        output = fn.output() if fn else None
        told = fn.stories(output, store=True) if output else []
        return (fn.describe(output, True, told), any(t.wrong for t, _ in told)) if told else None

    @_facts(once=True)
    def read_by(self) -> str | None:
        """Where the backward reads dout at an index wrong on its own (a window's start, a loop over the
        window's size): said with a wrong gradient no known variant explains."""
        fn = self.function("backward")
        return fn.indices("dout", store=False, wrong_only=True) if fn else None  # (counters may be right)

    @_facts()
    def error_lines(self, text: str) -> tuple[str, bool] | None:
        """For an index error raised at a line of the part's file: that line's suspect indices, and
        whether one is wrong on its own (see ``Function.story``)."""
        found = _AT_LINE.findall(text)
        if not self.source or not found or found[-1][0] != self.spec.file or "out of bounds" not in text:
            return None
        line = int(found[-1][1])
        for name, node in self.source.functions.items():
            if node.lineno <= line <= (node.end_lineno or node.lineno):
                fn = self.source.function(name)
                output = fn.output() if fn else None
                made = fn.sources_of(output) if output else set()
                for sub in (fn.subscripts_on(line) if fn else []):  # the written array first
                    store = isinstance(sub.ctx, ast.Store)
                    if not (store and sub.value.id in made) and not (not store and sub.value.id == "dout"):
                        continue  # only where the output (dx) is written or dout read: x is indexed by starts
                    told = fn.stories(sub.value.id, store=store, line=line)
                    if told:
                        return fn.describe(sub.value.id, store, told), all(t.wrong for t, _ in told)
        return None

    @_facts(list, once=True)
    def certain(self, kind: str) -> list[str]:
        """The lines of the forward's (backward's) code that are wrong whatever the case (``Function.certain``)."""
        if not self.source:
            return []
        told = [text for fn in self.source.reached(self._named(kind)) for text in fn.certain()]
        own = self.function(kind)
        overwrites = own.overwrites() if own and kind == "backward" else None
        return list(dict.fromkeys(told + ([overwrites] if overwrites else [])))

    @_facts(once=True)
    def adds_line(self) -> int | None:
        """The line where the backward adds into dx (or what dx is cut from), or None."""
        fn = self.function("backward")
        output = fn.output() if fn else None
        return fn.adds(fn.sources_of(output)) if output else None

    def _test(self, kind: str, case_name: str, passed: bool, feedback: str, fraction: float | None = None,
              **details: Any) -> TestResult:
        label = {"numeric-gradient": "numeric gradient"}.get(kind, kind)
        score = 1.0 if passed else (fraction or 0.0)
        return TestResult(f"{self.part} {label}: {case_name}", self.part, kind, 1.0, score, feedback,
                          {"passed": passed, **details})

    # -- forward

    def run_forward(self, case, made: CallResult | None = None) -> TestResult:
        inputs = self.inputs(case)
        expected, expected_cache = self.truth.forward(self.layer, case, inputs.args)
        run = CaseRun(case, inputs, np.asarray(expected), expected_cache)
        self.runs.append(run)
        result = self.call_forward(inputs.args, made)
        run.forward = result
        why = self.case_error(inputs.args, result)
        out, cache, problem = _unpack_forward(result, self.spec.forward, failure(self.spec.forward, result, why))
        run.out, run.cache = out, cache
        if problem:
            run.forward_problem = problem
            return self._test("forward", case.name, False, problem + _call_note(result), error_kind=result.kind,
                              **({"diagnosis": "source-index"} if why in self.pinned else {}))
        # (a layer without a "pad" among its parameters, pooling, is never told "padding ignored?")
        padded = any(isinstance(a, dict) and "pad" in a for a in inputs.args)
        problem = check_array(out, run.expected_out, "the output", padded)
        hint = self.layer.hints.output
        sized = hint(inputs.args, out, run.expected_out.shape) if problem and hint else None
        if sized:
            square = shape_hint(tuple(out.shape), tuple(run.expected_out.shape))
            if "square outputs" in square:  # on this case a square-output bug gives the same size: say both
                sized = f"either {sized}; or {square[2:]}"
            problem = f"the output has shape {tuple(out.shape)}, expected {tuple(run.expected_out.shape)}: {sized}"
        if problem:
            run.forward_problem = problem
            wrong_values = (isinstance(out, np.ndarray) and out.shape == run.expected_out.shape
                            and rel_error(np.nan_to_num(out.astype(np.float64)), run.expected_out) > 1e-4)
            diagnosis = self.diagnose_forward(case, inputs, out, run.expected_out) if (
                isinstance(out, np.ndarray) and (out.shape != run.expected_out.shape or wrong_values)) else None
            feedback = problem + (f". {sentence(diagnosis[1])}" if diagnosis else "")
            return self._test("forward", case.name, False, feedback, diagnosis=diagnosis and diagnosis[0])
        err = rel_error(out, run.expected_out)
        if err <= self.tol["forward"]:
            run.forward_passed = True
            return self._test("forward", case.name, True, f"correct (relative error {err:.1e})", rel_error=err)
        diagnosis = self.diagnose_forward(case, inputs, out, run.expected_out)
        if not diagnosis:
            placed = self.placed_by()
            moved = misplaced(out, run.expected_out, placed[0] if placed else None)
            # an index wrong on its own names the bug: no split across cases needed
            diagnosis = ("misplaced-index" if placed and placed[1] else "misplaced", moved) if moved else None
        feedback = f"wrong values: relative error {err:.2g} (at most {self.tol['forward']:g} passes)"
        if diagnosis:
            feedback += f". {sentence(diagnosis[1])}"
        run.forward_problem = feedback
        return self._test("forward", case.name, False, feedback, rel_error=err,
                          diagnosis=diagnosis and diagnosis[0], heatmap=heatmap(out, run.expected_out))

    def diagnose_forward(self, case, inputs: Inputs, out: np.ndarray, expected: np.ndarray) -> tuple[str, str] | None:
        """The known wrong variant the output matches (one that differs from the
        right answer on these inputs: with pad 0, "forgot the padding" is right)."""
        found = []
        for key, message, result in self.truth.wrong(self.layer, "forward", case, inputs.args):
            candidate = np.asarray(result)
            if candidate.shape == expected.shape and rel_error(candidate, expected) <= self.tol["forward"]:
                continue
            if candidate.shape == out.shape and rel_error(out, candidate) <= self.tol["forward"]:
                found.append((key, message))
        return either(found)

    # -- backward

    def plan_backward(self, run: CaseRun) -> TestResult | tuple:
        """Everything before the backward's call on one case: the test itself where no call is made,
        else (dout, expected, via, keeps, not_run), with ``run.cache`` the cache to give it.  Reads the
        forwards' results only (no backward's): every case is planned before any backward is called."""
        case = run.case
        dout = self.truth.upstream(self.layer, case, self.seed, run.expected_out.shape)
        run.inputs.dout = dout
        not_run = f"not run: {self.spec.forward} gave no cache for this case ({run.forward_problem})"
        keeps = self.keeps_documented_cache() if run.out is None else True
        form = self.own_cache_form() if keeps is False else self.source_cache_form() if keeps is None else None
        if run.out is None and keeps is False and form is None:
            return self._test("backward", case.name, False, not_run)
        expected = self.truth.backward(self.layer, case, dout, run.expected_cache)
        via = ""
        if run.out is None and form:
            # the forward failed here, and elsewhere returns a cache of its own making from the inputs alone
            # (the padded x ...): the backward is tested on that cache, built for this case
            kind, names = form
            built = self.layer.hints.cache_items(run.inputs.args)
            run.cache = kind(built[name] for name in names)
            run.given = (f"the cache your {self.spec.forward} returns on the cases it passes, ({', '.join(names)})"
                         if keeps is False else f"the cache your {self.spec.forward}'s code builds, ({', '.join(names)}) "
                         "(it pads x before caching it)")
            via = f" (with {run.given}, built for this case, since it failed here)"
            keeps = True
        elif run.out is None:
            # the forward failed here: the backward is still tested, on the cache the layout documents
            # (built from the inputs alone), where the forward returns that cache elsewhere; where it never
            # returns one, see keeps_documented_cache
            run.cache = self.layer.hints.cache(run.inputs.args)
            run.given = f"the cache it is documented to get, {self.layer.hints.cache_text}"
            via = (f" (with the cache {self.spec.forward} is documented to return, "
                   f"{self.layer.hints.cache_text}, since it failed on this case)")
        return dout, expected, via, keeps, not_run

    def judge_call(self, run: CaseRun, planned: tuple, made: CallResult | None = None) -> TestResult:
        """The backward's call on one case (``made``: its result, made with the other cases'), judged."""
        dout, expected, via, keeps, not_run = planned
        result = self.call_backward(dout, run.cache, made)
        if via and not result.ok and (result.kind != "exception" or _CACHE_MISMATCH.search(result.error or "")):
            return self._untested(run, not_run)  # it wants a cache of its own making
        test = self.judge_backward(run, dout, expected, result, via)
        if via and keeps is None and not test.details.get("passed") and not _CODE_BUG.search(result.error or ""):
            # unknown whether it takes this cache: "not run" for now, a failure once a pass shows it does (``run``)
            run.pending = (test, run.symptoms.pop("backward", None), run.cache)
            return self._untested(run, not_run, test.feedback.replace(via, "", 1))
        return test

    def judge_backward(self, run: CaseRun, dout: np.ndarray, expected: tuple, result: CallResult,
                       via: str) -> TestResult:
        """The backward's result on one case against the reference's gradients."""
        case = run.case
        run.symptoms["backward"] = _call_symptoms(result)
        if not result.ok:
            why = self.case_error(run.inputs.args, result)
            return self._test("backward", case.name, False, failure(self.spec.backward, result, why)
                              + via + _call_note(result), error_kind=result.kind,
                              **({"diagnosis": "source-index"} if why in self.pinned else {}))
        names = self.layer.gradients
        value = result.value
        if len(names) > 1:
            if not isinstance(value, (tuple, list)) or len(value) != len(names):
                run.symptoms["backward"] = {"fails": True, "raises": False}
                return self._test("backward", case.name, False,
                                  f"{self.spec.backward} must return ({', '.join(names)}), got "
                                  f"{type(value).__name__ if value is not None else 'None'}")
            grads = tuple(value)
        else:
            grads = (value,)
        problems, errors, diagnoses, maps, accepted, bad = [], {}, [], {}, [], []
        # a backward that wrote into its cache reads, in later windows, an x it changed: that explains
        # wrong values better than any property of them
        mutated = any(e.code == "mutated-input" for e in result.events)
        for name, got, want in zip(names, grads, expected):
            want = np.asarray(want)
            issue = check_array(got, want, name)
            hint = self.layer.hints.gradient
            cropped = hint(name, got, want.shape, run.inputs.args) if issue and hint else None
            if cropped:
                blank = " (and it is all zeros: nothing is ever written into it)" if (
                    isinstance(got, np.ndarray) and got.size and not np.any(got)) else ""
                problems.append(f"{name} has shape {tuple(got.shape)}, expected {tuple(want.shape)}: {cropped[1]}"
                                + blank)
                diagnoses.append(cropped[0])
                bad.append(name)
                continue
            if issue:
                wrong_values = (isinstance(got, np.ndarray) and (got.shape != want.shape or rel_error(
                    np.nan_to_num(got.astype(np.float64)), want) > 1e-4))
                found = self.diagnose_backward(run, dout, names.index(name), got, want) if wrong_values else None
                if found:
                    issue += f": {found[1]}"
                    diagnoses.append(found[0])
                elif isinstance(got, np.ndarray) and got.size and got.dtype.kind in "fiub" and not np.any(got):
                    issue += " (and it is all zeros: nothing is ever written into it)"
                problems.append(issue)
                bad.append(name)
                continue
            err = rel_error(got, want)
            errors[name] = err
            accept = self.layer.hints.accept
            if err > self.tol["backward"] and accept and accept(run.case, run.inputs.args, dout, got,
                                                                 self.tol["backward"]):
                accepted.append(f"{name} {self.layer.hints.accepted}")
                continue
            if err > self.tol["backward"]:
                found = self.diagnose_backward(run, dout, names.index(name), got, want)
                text = f"{name} is wrong (relative error {err:.2g})"
                blank = _blank(name, got, want) if not found else None
                if blank:  # names the bug: no split across cases needed
                    text += f": {blank}"
                    diagnoses.append(f"{self.part}-{name}-unwritten")
                values = self.layer.hints.values
                why = values(name, got, run.inputs.args, dout) if values and not found and not mutated else None
                if found:
                    text += f": {found[1]}"
                    diagnoses.append(found[0])
                elif why and not blank:
                    text += f": {why}"
                    diagnoses.append(f"{self.part}-{name}-values")
                problems.append(text)
                bad.append(name)
                maps[name] = heatmap(got, want)
        run.symptoms["backward"] = {"fails": bool(problems), "raises": False, **{n: n in bad for n in names}}
        right = len(names) - len(problems)
        if not problems:
            if accepted:
                return self._test("backward", case.name, True, "correct: " + "; ".join(accepted) + via,
                                  rel_errors=errors, tie_rule=True, note=True,
                                  **({"given_cache": True} if via else {}))
            detail = ", ".join(f"{n} {e:.1e}" for n, e in errors.items())
            return self._test("backward", case.name, True, f"correct (relative errors {detail}){via}",
                              rel_errors=errors, **({"given_cache": True} if via else {}))
        feedback = "; ".join(problems) + via
        told = self.read_by() if all(_generic(d) for d in diagnoses) and not mutated else None
        if told:  # the line that reads dout at the wrong place
            diagnoses.insert(0, "dout-index")
            feedback += f". Look at where dout is read: {told}"
        if mutated:  # and a gradient is wrong: likely the cause (said instead of a split across cases)
            diagnoses.insert(0, "mutated-cache")
            feedback += (f". {self.spec.backward} changed its input cache in place during this call: windows read "
                         "after the change see the changed x (a slice such as x[..., i:i + h, j:j + w] is a view: "
                         "writing into it writes into x); work on a copy (window.copy()) or build a separate mask")
        if run.forward_problem and not via:
            feedback += f" (your {self.spec.forward} is also wrong on this case)"
        return self._test("backward", case.name, False, feedback, fraction=right / len(names), rel_errors=errors,
                          diagnosis=diagnoses[0] if diagnoses else None, heatmap=next(iter(maps.values()), None))

    def _untested(self, run: CaseRun, not_run: str, on_documented: str | None = None) -> TestResult:
        """A backward test left not run where the forward gave no cache; ``on_documented``: what the
        backward did on the documented cache, said (it may be its own bug) but not scored as one."""
        run.cache = None
        if on_documented:
            not_run += (f"; given the cache it is documented to get, {self.layer.hints.cache_text}, {on_documented}: "
                        f"if {self.spec.backward} takes that cache, this is a bug of its own")
        return self._test("backward", run.case.name, False, not_run)

    def diagnose_backward(self, run: CaseRun, dout: np.ndarray, index: int, got: np.ndarray,
                          expected: np.ndarray) -> tuple[str, str] | None:
        found = []
        for key, message, result in self.truth.wrong(self.layer, "backward", run.case, run.inputs.args, dout):
            candidate = np.asarray(result[index])
            if candidate.shape == expected.shape and rel_error(candidate, expected) <= self.tol["backward"]:
                continue
            if candidate.shape == got.shape and rel_error(got, candidate) <= self.tol["backward"]:
                found.append((key, self.overwritten(message) if key in _OVERWRITE else message))
        return either(found)

    def overwritten(self, message: str) -> str:
        """The overwrite diagnosis, for a backward that already adds into dx: what it adds is the wrong part."""
        line = self.adds_line()
        if line is None:
            return message
        return (f"overlapping windows overwrite each other's share of dx, though dx is added into (+=, line {line}): "
                f"what is added must be overwritten before that, e.g. a mask or an argmax your {self.spec.forward} "
                "keeps for the whole input, where overlapping windows overwrite each other's part: compute each "
                "window's own mask (or argmax) in the backward")

    # -- numeric gradient

    def run_numeric(self, run: CaseRun) -> TestResult:
        """The student's backward against the numerical gradient of the student's own forward where
        that forward is right; where it is wrong, of either that forward or the right one (the
        reference's, instructor side: a right backward is not marked down for its forward's bug);
        where it failed, of the right one, with the documented cache."""
        case = run.case
        public = getattr(self.truth, "public", False)
        own = run.out is not None  # the student's forward gave an output and a cache here
        if own and not (isinstance(run.out, np.ndarray) and np.isrealobj(run.out) and run.out.dtype.kind in "fiu"
                        and run.out.shape == run.expected_out.shape):
            # no derivative of that output to compare with (not numeric, or shaped unlike the right one): the
            # right forward's is the yardstick, with the cache the forward returned
            own = False
            run.given = "the cache it returned there, beside an output that is not a numeric array of the right shape"
        if not own and run.cache is None:
            return self._test("numeric-gradient", case.name, False,
                              f"not run: {self.spec.forward} failed on this case ({run.forward_problem})")
        shape = run.out.shape if own else run.expected_out.shape
        dout = run.inputs.dout if run.inputs.dout is not None else upstream(shape, self.seed, self.part, case.name)
        if shape != dout.shape:
            dout = rng(self.seed, self.part, case.name, "numeric").standard_normal(shape)
        back = self.call_backward(dout, run.cache)
        if not back.ok:
            return self._test("numeric-gradient", case.name, False, f"not run: {failure(self.spec.backward, back)}")
        names = self.layer.gradients
        grads = tuple(back.value) if len(names) > 1 and isinstance(back.value, (tuple, list)) else (back.value,)
        if len(names) > 1 and len(grads) > len(names):  # (more values than gradients: as the backward test says)
            return self._test("numeric-gradient", case.name, False,
                              f"{self.spec.backward} must return ({', '.join(names)}), got {len(grads)} values")
        args = list(run.inputs.args)
        g = rng(self.seed, self.part, case.name, "directions")
        # the reference's forward at the probes too, where it can run there (not in student mode) and
        # the student's forward was right on these inputs: see grader.checks.numeric
        compare = run.forward_passed and not public
        # where the student's forward is wrong (or failed), the right forward's derivative is the other
        # yardstick a right backward meets: the right gradient for this dout, known in both modes
        right_grads = None
        if not run.forward_passed and dout is run.inputs.dout and shape == run.expected_out.shape:
            try:
                right_grads = tuple(np.asarray(r, dtype=np.float64) for r in
                                    self.truth.backward(self.layer, case, dout, run.expected_cache))
            except Exception:  # noqa: BLE001 - a public install without this case's gradient: no yardstick
                right_grads = None
        if not own and right_grads is None:
            return self._test("numeric-gradient", case.name, False,
                              f"not run: {self.spec.forward} failed on this case ({run.forward_problem})")
        yardstick = right_grads is not None
        worst: dict[str, float] = {}
        by_right: dict[str, bool] = {}  # gradients checked against the right forward's gradient
        stale: list[str] = []  # the forward's output did not move between the probes
        unfaithful: dict[str, tuple[float, float]] = {}  # name -> (the forward's derivative, the reference's)
        calls = 0
        misshapen = []
        shaped = [k for k, name in enumerate(names) if k < len(grads) and isinstance(grads[k], np.ndarray)
                  and grads[k].shape == np.shape(args[self.layer.wrt[k]])]
        probed = self.probe(args, [self.layer.wrt[k] for k in shaped], g) if own else {}
        for k, name in enumerate(names):
            i = self.layer.wrt[k]  # the forward argument this gradient belongs to
            if k not in shaped:
                misshapen.append(name)
                continue

            def forward(point: np.ndarray, i: int = i) -> np.ndarray | None:
                nonlocal calls
                trial = list(args)
                trial[i] = point
                calls += 1
                made = probed.pop((i, calls), None)  # made in one request with the others (``probe``)
                result = made[1] if made is not None and np.array_equal(made[0], point) else \
                    self.call_forward(tuple(trial))
                out, _, problem = _unpack_forward(result, self.spec.forward)
                if problem or not isinstance(out, np.ndarray) or out.shape != dout.shape or out.dtype.kind not in "fiu":
                    return None
                return out

            def reference(point: np.ndarray, i: int = i) -> np.ndarray:
                trial = list(args)
                trial[i] = point
                return np.asarray(self.truth.forward(self.layer, case, tuple(trial))[0], dtype=np.float64)

            checks = directional(forward if own else None, np.asarray(args[i], dtype=np.float64), grads[k], g,
                                 name, dout, reference if compare else None,
                                 right=right_grads[k] if yardstick else None)
            if checks is None:
                return self._test("numeric-gradient", case.name, False,
                                  f"not run: {self.spec.forward} failed on a perturbed input")
            worst[name] = max(c.error for c in checks)
            if yardstick and own:
                right = max(c.right_error for c in checks)
                if right < worst[name]:
                    worst[name], by_right[name] = right, right <= self.tol["numeric-gradient"]
                if by_right.get(name):
                    continue  # it agrees with the right forward: its own forward's behaviour is beside the point
            off = max(checks, key=lambda c: c.reference_error)
            if any(c.stale for c in checks):
                stale.append(name)
            elif compare and off.reference_error > self.tol["numeric-gradient"]:
                unfaithful[name] = (off.numeric, off.reference)
        unchecked = stale + list(unfaithful)  # an agreement with such a forward proves nothing
        bad = {n: e for n, e in worst.items() if e > self.tol["numeric-gradient"] and n not in unchecked}
        failed = len(bad) + len(unchecked)
        detail = {"errors": worst, "forward_calls": calls, **({"stale": stale} if stale else {}),
                  **({"unfaithful": {n: list(d) for n, d in unfaithful.items()}} if unfaithful else {})}
        if misshapen:
            checked = ", ".join(f"{n} {'agrees' if n not in bad and n not in unchecked else 'disagrees'}"
                                for n in worst)
            return self._test("numeric-gradient", case.name, False,
                              f"{', '.join(misshapen)} from {self.spec.backward} is not shaped like its input"
                              + (f" ({checked} with the numerical gradient of your own forward)" if worst else ""),
                              fraction=(len(worst) - failed) / len(names), **detail)
        if not own:
            detail["yardstick"] = "right forward"
            if not failed:
                return self._test("numeric-gradient", case.name, True,
                                  "your backward matches the gradient of the right forward "
                                  f"({self.spec.forward} failed on this case, so {self.spec.backward} was given "
                                  f"{run.given})", **detail)
            names_bad = ", ".join(f"{n} (relative error {e:.2g})" for n, e in bad.items())
            return self._test("numeric-gradient", case.name, False,
                              f"{names_bad} {'disagrees' if len(bad) == 1 else 'disagree'} with the gradient "
                              f"of the right forward along random directions ({self.spec.forward} failed on this case, so "
                              f"{self.spec.backward} was given {run.given}): the bug is in {self.spec.backward} too",
                              fraction=(len(names) - failed) / len(names), **detail)
        if not failed:
            if by_right and all(by_right.values()) and len(by_right) == len(worst):
                detail["yardstick"] = "right forward"
                return self._test("numeric-gradient", case.name, True,
                                  "your backward matches the gradient of the right forward (not the numerical gradient "
                                  f"of your own {self.spec.forward}, which is wrong on this case: fix it)", **detail)
            note = "" if run.forward_passed else f" (but {self.spec.forward} itself is wrong: fix it first)"
            return self._test("numeric-gradient", case.name, True,
                              "your backward matches the numerical gradient of your own forward" + note, **detail)
        problems = []
        if bad:
            names_bad = ", ".join(f"{n} (relative error {e:.2g})" for n, e in bad.items())
            where = (f"your {self.spec.forward} is right, so the bug is in {self.spec.backward}" if run.forward_passed
                     else f"your {self.spec.forward} is wrong too: fix it first, then check {self.spec.backward} again")
            either = " or with the right forward's gradient" if yardstick else ""
            problems.append(f"{names_bad} {'disagrees' if len(bad) == 1 else 'disagree'} with the numerical "
                            f"gradient of your own forward{either}: {where}")
        if stale:
            inputs = ", ".join(n[1:] for n in stale)
            problems.append(f"{self.spec.forward} returned exactly the same output when {inputs} moved by +h·v and "
                            f"by -h·v (it ignores {'it' if len(stale) == 1 else 'them'}, or hands back outputs it "
                            f"remembered), so {', '.join(stale)} from {self.spec.backward} cannot be checked "
                            "against it")
        for n, (got, want) in unfaithful.items():
            problems.append(f"{self.spec.forward} is right on this case's inputs but not next to them: as {n[1:]} "
                            f"moves along a random direction its output changes at a rate of {got:.4g}, the "
                            f"reference's at {want:.4g} (a forward must compute its output from its inputs on every "
                            f"call; remembered or approximate outputs leave {n} unchecked)")
        return self._test("numeric-gradient", case.name, False, "; ".join(problems),
                          fraction=(len(names) - failed) / len(names), **detail)

    def probe(self, args: list, wrt: list[int], g: np.random.Generator) -> dict[tuple[int, int], tuple]:
        """The student's forward at every probe point of a numerical-gradient test, in one request: the
        points ``directional`` asks for, in its order, for each forward argument in ``wrt`` (drawn from a
        copy of ``g``, which is left as it was).  {(argument, the probe's number in the test): (point,
        the call's result)} for the probes the request made (``together``: all, or the first ones); the
        others are made one by one as ``directional`` asks for them.  Where a probe fails, ``directional``
        stops there, as it does with probes made one by one; the later probes of that test were made
        all the same (only code that keeps state between calls could tell)."""
        if self.spec.forward in self.blocked or not wrt:
            return {}
        draws = copy.deepcopy(g)
        plan = [(i, point) for i in wrt for point in probe_points(np.asarray(args[i], dtype=np.float64), draws)]
        made = self.together(self.spec.forward, [tuple(point if j == i else a for j, a in enumerate(args))
                                                 for i, point in plan])
        return {(i, n): (point, result) for n, ((i, point), result) in enumerate(zip(plan, made), start=1)}

    def together(self, function: str, calls: list[tuple]) -> list[CallResult]:
        """``function`` on each of ``calls`` in one request (``Session.call_each``): the results of the
        first calls, in order; the rest are made alone, as each is asked for (``_call``), which tells
        every failure as it is."""
        if function in self.blocked or len(calls) < 2:
            return []
        try:
            made = self.session.call_each(self.spec.module, function, calls)
        except (ValueError, TypeError):  # e.g. a Ref of a child that has ended
            return []
        if not self.session.alive:
            self.session.restart()
        return made

    # -- all of it

    def run(self) -> list[TestResult]:
        tests: list[TestResult] = []
        seen: list[tuple[str, CaseRun, int]] = []  # (kind, run, index in tests)
        cases = self.cases()
        # every case's forward in one request, in the order the cases make them (nothing else is asked of
        # the child between them); where that cannot be, each is made alone, as before
        made = self.together(self.spec.forward, [self.inputs(case).args for case in cases])
        for n, case in enumerate(cases):
            tests.append(self.run_forward(case, made[n] if n < len(made) else None))
            run = self.runs[-1]
            if tests[-1].details.get("passed"):
                run.symptoms["forward"] = {"fails": False, "raises": False, "wrong": False}
            elif run.forward.ok:  # it returned, something wrong
                run.symptoms["forward"] = {"fails": True, "raises": False, "wrong": True}
            else:
                run.symptoms["forward"] = _call_symptoms(run.forward)
            seen.append(("forward", run, len(tests) - 1))
        # every case's backward planned, then called in one request (in the cases' order, as made alone)
        planned = [(run, self.plan_backward(run)) for run in self.runs if "backward" in run.case.kinds]
        calls = [(plan[0], run.cache) for run, plan in planned if not isinstance(plan, TestResult)]
        made = iter(self.together(self.spec.backward, calls))
        for run, plan in planned:
            tests.append(plan if isinstance(plan, TestResult) else self.judge_call(run, plan, next(made, None)))
            seen.append(("backward", run, len(tests) - 1))
        if any(tests[i].details.get("given_cache") for kind, _, i in seen if kind == "backward"):
            # the backward passed on the documented cache somewhere: it takes that cache, so where it
            # failed on it, that is its own bug (said and scored), not a cache it could not read
            for kind, run, i in seen:
                if kind == "backward" and run.pending:
                    tests[i], symptoms, run.cache = run.pending
                    if symptoms is not None:
                        run.symptoms["backward"] = symptoms
                    run.pending = None
        for run in self.runs:
            if "numeric-gradient" in run.case.kinds:
                tests.append(self.run_numeric(run))
        self.across(tests, seen)
        return tests

    # -- across cases

    def across(self, tests: list[TestResult], seen: list[tuple[str, CaseRun, int]]) -> None:
        """A symptom seen on exactly the cases that share a feature (no padding, a non-square output,
        overlapping windows ...) says where the bug is better than any one case: each failing test
        with no diagnosis of its own gets the split and the feature's likely cause."""
        features = self.layer.hints.features
        if features is None:
            return
        table = {id(run): dict(features(run.case, run.inputs.args)) for _, run, _ in seen}
        order = [key for key, _ in features(seen[0][1].case, seen[0][1].inputs.args)] if seen else []
        for kind in ("forward", "backward"):
            rows = [(run, i) for k, run, i in seen if k == kind and kind in run.symptoms]
            fn = self.spec.forward if kind == "forward" else self.spec.backward
            subjects = {"raises": f"{fn} raises an error", "wrong": f"{fn} gives wrong values",
                        **{n: f"{n} is wrong" for n in self.layer.gradients}, "fails": f"{fn} fails"}
            said: dict[str, str] = {}
            for symptom, subject in subjects.items():
                hit = [table[id(r)] for r, _ in rows if r.symptoms[kind].get(symptom) is True]
                clear = [table[id(r)] for r, _ in rows if r.symptoms[kind].get(symptom) is False]
                # an error raised is about sizes and indices, never about adding (+=) or assigning: the
                # forward's reading of a feature fits it in a backward too
                reading = "forward" if symptom == "raises" else kind
                split = _split(order, hit, clear)
                raising = [tests[i].feedback for r, i in rows if r.symptoms[kind].get("raises")]
                if split and split[-1] == "or" and symptom in ("raises", "fails") and raising and all(
                        _STEPPING.search(text) for text in raising):
                    # every error already says the loops step through the whole input: that one cause breaks
                    # cases of several kinds at once, so a split into "two bugs" would mislead
                    continue
                if split:
                    said[symptom] = _splitting(subject, split, len(hit), len(hit) + len(clear), reading)
                    if reading == "backward" and "overlap" in split and self.adds_line() is not None:
                        said[symptom] = said[symptom].replace(FEATURES["overlap"][1], OVERLAP_ADDS.format(
                            line=self.adds_line()))
                    continue
                # several bugs: the failures another diagnosis explains (ties, "+=") left aside, the rest
                # may still share a feature
                unexplained = [table[id(r)] for r, i in rows if r.symptoms[kind].get(symptom) is True
                               and _generic(tests[i].details.get("diagnosis"))]
                split = _split(order, unexplained, clear) if 0 < len(unexplained) < len(hit) else None
                if split:
                    said[symptom] = _splitting(subject, split, len(unexplained), len(unexplained) + len(clear),
                                               reading, aside=len(hit) - len(unexplained))
            failing = any(not tests[i].details.get("passed") and tests[i].status != "not run" for _, i in rows)
            certain = self.certain(kind) if failing else []
            for run, i in rows:
                test, symptoms = tests[i], run.symptoms[kind]
                if certain and not test.details.get("passed") and test.status != "not run":
                    # lines of the code wrong whatever the case: said instead of a guess from the cases
                    tests[i] = replace(test, feedback=test.feedback.rstrip(".") + ". From the code: "
                                       + "; ".join(certain) + ".", details={**test.details, "source": True})
                    continue
                if test.details.get("passed") or not _generic(test.details.get("diagnosis")):
                    continue
                lines = [line for symptom, line in said.items() if symptom != "fails" and symptoms.get(symptom)]
                if not lines and symptoms.get("fails") and "fails" in said:
                    lines = [said["fails"]]
                if lines:
                    tests[i] = replace(test, feedback=test.feedback.rstrip(".") + ". " + " ".join(lines),
                                       details={**test.details, "across": True})
        self.same_cases(tests, seen)

    def same_cases(self, tests: list[TestResult], seen: list[tuple[str, CaseRun, int]]) -> None:
        """A backward that fails on exactly the cases its forward fails on, some but not all (its failures
        that another diagnosis explains aside): most likely one bug in both (a size or a window computed
        the same wrong way), said beside the backward's."""
        # (a backward failure another diagnosis explains, ties or "+=", is left out of the comparison)
        rows = [(run, i) for k, run, i in seen if k == "backward" and "fails" in run.symptoms.get("backward", {})
                and "fails" in run.symptoms.get("forward", {}) and _generic(tests[i].details.get("diagnosis"))]
        if not rows or any(run.symptoms["backward"]["fails"] != run.symptoms["forward"]["fails"] for run, _ in rows):
            return
        failing = [i for run, i in rows if run.symptoms["backward"]["fails"]]
        if not failing or len(failing) == len(rows):
            return
        line = (f"{self.spec.forward} fails on exactly the cases {self.spec.backward} fails on ({len(failing)} of "
                f"{len(rows)}): if {self.spec.backward} computes the output size or the windows as "
                f"{self.spec.forward} does, the same bug is in both.")
        for i in failing:
            tests[i] = replace(tests[i], feedback=tests[i].feedback.rstrip(".") + ". " + line)


# An error hint that says the loops step through the whole input (one cause that breaks cases of
# several kinds: no padding, a non-square kernel, overlapping windows ...).
_STEPPING = re.compile(r"the loops run past the last window|cut short by the edge of the padded input, so there are "
                       r"too many of them")

# wrong variants that mean "assigned where overlapping windows must add": said otherwise to code that adds
_OVERWRITE = ("max-pool-overlap-overwrite", "conv-dx-overwrite")

_AT_LINE = re.compile(r"\(([^(),]+), line (\d+)\)")  # where an error was raised, as failures.py says it

_UNDEFINED = re.compile(r"NameError: name '(\w+)' is not defined")
_PYTHON2_NAMES = {"xrange", "unicode", "basestring", "raw_input", "long", "reduce", "unichr", "file", "cmp",
                  "execfile"}

# An error in a backward that no cache could cause: Python 2 and removed NumPy names, float sizes.  Given
# the documented cache, it is the backward's own bug whatever cache it takes.
_CODE_BUG = re.compile(r"NameError|module '[\w.]+' has no attribute|'float' object cannot be interpreted as an "
                       r"integer|slice indices must be integers|only integers, slices \(`:`\), ellipsis|"
                       r"has no attribute 'itemset'|` was removed (?:from the ndarray class )?in (?:the )?NumPy 2\.0|"
                       r"unexpected keyword argument '(?:newshape|dims)'")

# A backward that cannot use the documented cache (it unpacks or indexes one of its own making).
_CACHE_MISMATCH = re.compile(r"values to unpack|tuple index out of range|not subscriptable|"
                             r"'(?:tuple|dict|list)' object has no attribute|KeyError|"
                             r"(?:tuple|list) indices must be|unhashable")


def _same(a: Any, b: Any) -> bool:
    """Equal content: arrays element by element, containers item by item (a ``Ref``, a value that
    stayed in the child, is never equal)."""
    if isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=True))
    if isinstance(b, (tuple, list)):
        return isinstance(a, (tuple, list)) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(b, dict):
        return isinstance(a, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in b)
    try:
        return type(a) is type(b) and bool(a == b)
    except Exception:  # noqa: BLE001 - a comparison that does not give one answer
        return False


def _blank(name: str, got: np.ndarray, want: np.ndarray) -> str | None:
    """A gradient never written: all zeros, or zeros for every image but the last (an assignment
    that runs after the loop over the batch, or one the next image overwrites)."""
    if not np.any(got) and np.any(want):
        return (f"{name} is all zeros: nothing reaches it (is a loop body still `pass`, do its loops never run, or is "
                "the result assigned to another name?)")
    if got.ndim == 4 and got.shape[0] > 1 and not np.any(got[:-1]) and np.any(want[:-1]) and np.any(got[-1]):
        return (f"{name} is zero for every image but the last: only the last image's gradient is written (is the "
                f"assignment {name}[n] = ... outside the loop over the images, after it ends?)")
    return None


def _generic(diagnosis: str | None) -> bool:
    """A diagnosis that says what is wrong but not where (none at all, values at the wrong places, a
    gradient breaking a property of every right one): the split across cases may still say where."""
    return diagnosis is None or diagnosis == "misplaced" or diagnosis.endswith("-values")


def _call_symptoms(result: CallResult) -> dict[str, bool]:
    """What a call's failure tells across cases: raised, failed otherwise (a timeout), or nothing
    (not made: an earlier case ended the function)."""
    if result.ok:
        return {"raises": False}
    if result.kind == "dead":
        return {}
    return {"fails": True, "raises": result.kind in ("exception", "import")}


def _split(order: list[str], hit: list[dict[str, bool]], clear: list[dict[str, bool]]) -> tuple[str, ...] | None:
    """The feature (or, failing one, the pair of features) that holds on every case in ``hit`` and
    on none in ``clear``; two features that split the cases alike are both said."""
    if not hit or not clear:
        return None
    single = [k for k in order if all(t[k] for t in hit) and not any(t[k] for t in clear)]
    if single:
        return tuple(single[:2])
    for a, b in combinations(order, 2):
        if (all(t[a] or t[b] for t in hit) and not any(t[a] or t[b] for t in clear)
                and any(t[a] and not t[b] for t in hit) and any(t[b] and not t[a] for t in hit)):
            return (a, b, "or")
    return None


def _cause(key: str, kind: str) -> str:
    """The likely cause of a bug seen on exactly the cases with feature ``key``, in a forward or a backward."""
    feature = FEATURES[key]
    return feature[2] if kind == "forward" and len(feature) > 2 else feature[1]


def _splitting(subject: str, split: tuple[str, ...], hits: int, known: int, kind: str, aside: int = 0) -> str:
    """The sentence for a split; ``aside``: failing cases left out of it, explained by other diagnoses."""
    count = f"{hits} of {known} cases" + (f", leaving aside {aside} that other diagnoses explain" if aside else "")
    if split[-1] == "or":
        a, b = FEATURES[split[0]], FEATURES[split[1]]
        return (f"Across cases: {subject} on every case {a[0]} or {b[0]}, and on no other ({count}): "
                f"two bugs, it seems: {_cause(split[0], kind)}; and {_cause(split[1], kind)}.")
    first = FEATURES[split[0]]
    also = f" (these are also the cases {FEATURES[split[1]][0]})" if len(split) > 1 else ""
    cause = _cause(split[0], kind) + (f"; or {_cause(split[1], kind)}" if len(split) > 1 else "")
    return f"Across cases: {subject} on every case {first[0]}{also}, and on no other ({count}): {cause}."


def misplaced(out: Any, expected: np.ndarray, where: str | None = None) -> str | None:
    """A forward output whose entries are the right values at the wrong positions (and maybe some
    never written): the windows were right, the loops or reshapes that place them were not.
    ``where``: the line and index the source shows placing them, said instead of the usual suspects."""
    if not isinstance(out, np.ndarray) or out.shape != expected.shape or out.ndim < 3 or out.dtype.kind not in "fiu":
        return None
    got = out.astype(np.float64)
    if not np.all(np.isfinite(got)) or expected.size == 0:
        return None
    scale = max(float(np.abs(expected).max()), 1e-12)
    close = lambda a, b: np.abs(a - b) <= 1e-9 * scale  # noqa: E731
    right = close(got, expected)
    blank = (got == 0) & ~right
    moved_at = None
    for lead in np.ndindex(*expected.shape[:2]):
        values = np.sort(expected[lead].ravel())
        for idx in zip(*np.nonzero(~right[lead] & ~blank[lead])):
            v = got[lead + idx]
            k = min(int(np.searchsorted(values, v)), values.size - 1)
            near = min((abs(values[j] - v) for j in (k - 1, k) if 0 <= j < values.size))
            if near > 1e-9 * scale:
                return None  # a value that is no output's: not a placement bug
            if moved_at is None:
                source = tuple(int(n) for n in np.argwhere(close(expected[lead], v))[0])
                moved_at = (lead + tuple(int(n) for n in idx), lead + source)
    unwritten = int(blank.sum())
    if moved_at is None:
        if not unwritten or unwritten == got.size:
            return None
        return (f"the output is right wherever it is written, but {unwritten} of {got.size} entries are never written "
                "(still 0): the loops do not reach every output position; "
                + (where if where else "loop i over range(H') and j over range(W')"))
    at, source = (", ".join(map(str, p)) for p in moved_at)
    return (f"the output holds the right windows' results but not where they belong: out[{at}] holds what "
            f"belongs at out[{source}]"
            + (f", and {unwritten} of {got.size} entries are never written (still 0)" if unwritten else "")
            + ": the result of window (i, j), whose rows start at i * stride and columns at j * stride, goes to "
            "out[:, :, i, j]; "
            + (where if where else "check the loop bounds (i < H', j < W'), any counters, and the order of a reshape "
               "or transpose"))

