"""Checks of the numpy layer parts: conv, max_pool and avg_pool.

For one part, in one sandbox session, each case of ``cases`` gives:

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

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from grader.layouts import PartSpec
from grader.reference import wrong
from grader.results import TestResult
from grader.sandbox import CallResult, Session
from grader.seeding import rng

from .cases import CONV_CASES, POOL_CASES, ConvCase, Inputs, PoolCase, conv_inputs, pool_inputs, upstream
from .compare import check_array, heatmap, rel_error
from .numeric import directional

FATAL = ("timeout", "exit", "crash", "memory", "cpu", "channel", "dead")
GRAD_NAMES = {"conv": ("dx", "dw", "db"), "max_pool": ("dx",), "avg_pool": ("dx",)}


class Truth:
    """The reference results, on the chosen device."""

    def __init__(self, device: str = "cpu"):
        self.device = device
        if device == "cpu":
            from grader.reference import numpy_fast

            self.module, self.kwargs = numpy_fast, {}
        else:
            from grader.reference import torch_ref

            self.module, self.kwargs = torch_ref, {"device": device}

    def forward(self, part: str, args: tuple) -> tuple[np.ndarray, Any]:
        return getattr(self.module, f"{part}_forward")(*args, **self.kwargs)

    def backward(self, part: str, dout: np.ndarray, cache: Any) -> tuple[np.ndarray, ...]:
        grads = getattr(self.module, f"{part}_backward")(dout, cache)
        return tuple(grads) if part == "conv" else (grads,)


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


def sentence(text: str) -> str:
    """``text`` with a capital first letter, to follow a full stop."""
    return text[:1].upper() + text[1:]


def _call_note(result: CallResult) -> str:
    """Student output worth showing with a failure."""
    printed = (result.stdout + result.stderr).strip()
    if not printed:
        return ""
    return f" (your code printed: {printed[:200]!r}{'...' if len(printed) > 200 else ''})"


def failure(fn: str, result: CallResult) -> str:
    """``conv_forward failed: ZeroDivisionError ...`` or, for a call that was
    not made, ``conv_backward not run: it timed out after 3 s on an earlier case``."""
    if result.kind == "dead":
        return f"{fn} not run: {result.error}"
    return f"{fn} failed: {result.error}"


def _unpack_forward(result: CallResult, fn: str) -> tuple[Any, Any, str | None]:
    if not result.ok:
        return None, None, failure(fn, result)
    value = result.value
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        kind = type(value).__name__ if value is not None else "None"
        return None, None, f"{fn} must return (out, cache), got {kind}"
    return value[0], value[1], None


class LayerChecker:
    """Runs the checks of one layer part against one session."""

    def __init__(self, part: str, spec: PartSpec, session: Session, seed: int, truth: Truth,
                 tolerance: dict[str, float]):
        self.part, self.spec, self.session, self.seed, self.truth = part, spec, session, seed, truth
        self.tol = tolerance
        self.runs: list[CaseRun] = []
        self.blocked: dict[str, str] = {}

    # -- plumbing

    def cases(self) -> tuple[ConvCase | PoolCase, ...]:
        if self.part == "conv":
            return tuple(c for c in CONV_CASES if self.spec.dilation or c.dilation == 1)
        return POOL_CASES

    def inputs(self, case) -> Inputs:
        if self.part == "conv":
            return conv_inputs(case, self.seed, self.part, self.spec.dilation)
        return pool_inputs(case, self.seed, self.part)

    def call_forward(self, args: tuple) -> CallResult:
        return self._call(self.spec.forward, args)

    def call_backward(self, dout: np.ndarray, cache: Any) -> CallResult:
        return self._call(self.spec.backward, (dout, cache))

    def _call(self, function: str, args: tuple) -> CallResult:
        """One call into the session.  A function that hung, exited or blew its
        memory once is not called again (its later tests fail with the reason,
        at no cost in time); the session is restarted for the other function."""
        if function in self.blocked:
            return CallResult(ok=False, error=f"it {self.blocked[function]} on an earlier case", kind="dead")
        try:
            result = self.session.call(self.spec.module, function, args)
        except (ValueError, TypeError) as exc:  # e.g. a cache that lived in a child that has ended
            return CallResult(ok=False, error=str(exc), kind="dead")
        if not result.ok and result.kind in FATAL:
            self.blocked[function] = result.error or result.kind
        if not self.session.alive:
            self.session.restart()
        return result

    def _test(self, kind: str, case_name: str, passed: bool, feedback: str, fraction: float | None = None,
              **details: Any) -> TestResult:
        label = {"numeric-gradient": "numeric gradient"}.get(kind, kind)
        score = 1.0 if passed else (fraction or 0.0)
        return TestResult(f"{self.part} {label}: {case_name}", self.part, kind, 1.0, score, feedback,
                          {"passed": passed, **details})

    # -- forward

    def run_forward(self, case) -> TestResult:
        inputs = self.inputs(case)
        expected, expected_cache = self.truth.forward(self.part, inputs.args)
        run = CaseRun(case, inputs, np.asarray(expected), expected_cache)
        self.runs.append(run)
        result = self.call_forward(inputs.args)
        run.forward = result
        out, cache, problem = _unpack_forward(result, self.spec.forward)
        run.out, run.cache = out, cache
        if problem:
            run.forward_problem = problem
            return self._test("forward", case.name, False, problem + _call_note(result), error_kind=result.kind)
        problem = check_array(out, run.expected_out, "the output")
        if problem:
            run.forward_problem = problem
            wrong_values = (isinstance(out, np.ndarray) and out.shape == run.expected_out.shape
                            and rel_error(np.nan_to_num(out.astype(np.float64)), run.expected_out) > 1e-4)
            diagnosis = self.diagnose_forward(inputs, out, run.expected_out) if (
                isinstance(out, np.ndarray) and (out.shape != run.expected_out.shape or wrong_values)) else None
            feedback = problem + (f". {sentence(diagnosis[1])}" if diagnosis else "")
            return self._test("forward", case.name, False, feedback, diagnosis=diagnosis and diagnosis[0])
        err = rel_error(out, run.expected_out)
        if err <= self.tol["forward"]:
            run.forward_passed = True
            return self._test("forward", case.name, True, f"correct (relative error {err:.1e})", rel_error=err)
        diagnosis = self.diagnose_forward(inputs, out, run.expected_out)
        feedback = f"wrong values: relative error {err:.2g} (at most {self.tol['forward']:g} passes)"
        if diagnosis:
            feedback += f". {sentence(diagnosis[1])}"
        run.forward_problem = feedback
        return self._test("forward", case.name, False, feedback, rel_error=err,
                          diagnosis=diagnosis and diagnosis[0], heatmap=heatmap(out, run.expected_out))

    def diagnose_forward(self, inputs: Inputs, out: np.ndarray, expected: np.ndarray) -> tuple[str, str] | None:
        """The known wrong variant the output matches (one that differs from the
        right answer on these inputs: with pad 0, "forgot the padding" is right)."""
        for variant in wrong.variants(self.part, "forward"):
            try:
                candidate = np.asarray(variant.evaluate(inputs.args))
            except (ValueError, IndexError, ArithmeticError):
                continue
            if candidate.shape == expected.shape and rel_error(candidate, expected) <= self.tol["forward"]:
                continue
            if candidate.shape == out.shape and rel_error(out, candidate) <= self.tol["forward"]:
                return variant.key, variant.message
        return None

    # -- backward

    def run_backward(self, run: CaseRun) -> TestResult:
        case = run.case
        dout = upstream(run.expected_out.shape, self.seed, self.part, case.name)
        run.inputs.dout = dout
        if run.forward_problem and run.out is None:
            return self._test("backward", case.name, False,
                              f"not run: {self.spec.forward} gave no cache for this case ({run.forward_problem})")
        expected = self.truth.backward(self.part, dout, run.expected_cache)
        result = self.call_backward(dout, run.cache)
        if not result.ok:
            return self._test("backward", case.name, False, failure(self.spec.backward, result)
                              + _call_note(result), error_kind=result.kind)
        names = GRAD_NAMES[self.part]
        value = result.value
        if len(names) > 1:
            if not isinstance(value, (tuple, list)) or len(value) != len(names):
                return self._test("backward", case.name, False,
                                  f"{self.spec.backward} must return ({', '.join(names)}), got "
                                  f"{type(value).__name__ if value is not None else 'None'}")
            grads = tuple(value)
        else:
            grads = (value,)
        problems, errors, diagnoses, maps = [], {}, [], {}
        for name, got, want in zip(names, grads, expected):
            want = np.asarray(want)
            issue = check_array(got, want, name)
            if issue:
                wrong_values = (isinstance(got, np.ndarray) and (got.shape != want.shape or rel_error(
                    np.nan_to_num(got.astype(np.float64)), want) > 1e-4))
                found = self.diagnose_backward(run, dout, names.index(name), got, want) if wrong_values else None
                if found:
                    issue += f": {found[1]}"
                    diagnoses.append(found[0])
                problems.append(issue)
                continue
            err = rel_error(got, want)
            errors[name] = err
            if err > self.tol["backward"]:
                found = self.diagnose_backward(run, dout, names.index(name), got, want)
                text = f"{name} is wrong (relative error {err:.2g})"
                if found:
                    text += f": {found[1]}"
                    diagnoses.append(found[0])
                problems.append(text)
                maps[name] = heatmap(got, want)
        right = len(names) - len(problems)
        if not problems:
            detail = ", ".join(f"{n} {e:.1e}" for n, e in errors.items())
            return self._test("backward", case.name, True, f"correct (relative errors {detail})", rel_errors=errors)
        feedback = "; ".join(problems)
        if run.forward_problem:
            feedback += f" (your {self.spec.forward} is also wrong on this case)"
        return self._test("backward", case.name, False, feedback, fraction=right / len(names), rel_errors=errors,
                          diagnosis=diagnoses[0] if diagnoses else None, heatmap=next(iter(maps.values()), None))

    def diagnose_backward(self, run: CaseRun, dout: np.ndarray, index: int, got: np.ndarray,
                          expected: np.ndarray) -> tuple[str, str] | None:
        for variant in wrong.variants(self.part, "backward"):
            try:
                result = variant.evaluate(run.inputs.args, dout)
            except (ValueError, IndexError, ArithmeticError):
                continue
            candidate = np.asarray(result[index] if self.part == "conv" else result)
            if candidate.shape == expected.shape and rel_error(candidate, expected) <= self.tol["backward"]:
                continue
            if candidate.shape == got.shape and rel_error(got, candidate) <= self.tol["backward"]:
                return variant.key, variant.message
        return None

    # -- numeric gradient

    def run_numeric(self, run: CaseRun) -> TestResult:
        case = run.case
        if run.out is None:
            return self._test("numeric-gradient", case.name, False,
                              f"not run: {self.spec.forward} failed on this case ({run.forward_problem})")
        if not isinstance(run.out, np.ndarray) or not np.isrealobj(run.out) or run.out.dtype.kind not in "fiu":
            return self._test("numeric-gradient", case.name, False,
                              f"not run: {self.spec.forward} did not return a numeric array on this case")
        dout = run.inputs.dout if run.inputs.dout is not None else upstream(run.out.shape, self.seed, self.part, case.name)
        if run.out.shape != dout.shape:
            dout = rng(self.seed, self.part, case.name, "numeric").standard_normal(run.out.shape)
        back = self.call_backward(dout, run.cache)
        if not back.ok:
            return self._test("numeric-gradient", case.name, False, f"not run: {failure(self.spec.backward, back)}")
        names = GRAD_NAMES[self.part]
        grads = tuple(back.value) if len(names) > 1 and isinstance(back.value, (tuple, list)) else (back.value,)
        args = list(run.inputs.args)
        g = rng(self.seed, self.part, case.name, "directions")
        worst: dict[str, float] = {}
        calls = 0
        misshapen = []
        for i, name in enumerate(names):
            if i >= len(grads) or not isinstance(grads[i], np.ndarray) or grads[i].shape != np.shape(args[i]):
                misshapen.append(name)
                continue

            def f(point: np.ndarray, i: int = i) -> float | None:
                nonlocal calls
                trial = list(args)
                trial[i] = point
                calls += 1
                out, _, problem = _unpack_forward(self.call_forward(tuple(trial)), self.spec.forward)
                if problem or not isinstance(out, np.ndarray) or out.shape != dout.shape:
                    return None
                with np.errstate(all="ignore"):
                    value = float(np.sum(out * dout))
                return value if np.isfinite(value) else None  # NaN or inf: no derivative to take

            checks = directional(f, np.asarray(args[i], dtype=np.float64), grads[i], g, name)
            if checks is None:
                return self._test("numeric-gradient", case.name, False,
                                  f"not run: {self.spec.forward} failed on a perturbed input")
            worst[name] = max(c.error for c in checks)
        bad = {n: e for n, e in worst.items() if e > self.tol["numeric-gradient"]}
        detail = {"errors": worst, "forward_calls": calls}
        if misshapen:
            checked = ", ".join(f"{n} {'agrees' if n not in bad else 'disagrees'}" for n in worst)
            return self._test("numeric-gradient", case.name, False,
                              f"{', '.join(misshapen)} from {self.spec.backward} is not shaped like its input"
                              + (f" ({checked} with the numerical gradient of your own forward)" if worst else ""),
                              fraction=(len(worst) - len(bad)) / len(names), **detail)
        if not bad:
            note = "" if run.forward_passed else f" (but {self.spec.forward} itself is wrong: fix it first)"
            return self._test("numeric-gradient", case.name, True,
                              "your backward matches the numerical gradient of your own forward" + note, **detail)
        names_bad = ", ".join(f"{n} (relative error {e:.2g})" for n, e in bad.items())
        where = (f"your {self.spec.forward} is right, so the bug is in {self.spec.backward}" if run.forward_passed
                 else f"your {self.spec.forward} is wrong too: fix it first, then check {self.spec.backward} again")
        return self._test("numeric-gradient", case.name, False,
                          f"{names_bad} {'disagrees' if len(bad) == 1 else 'disagree'} with the numerical gradient "
                          f"of your own forward: {where}",
                          fraction=(len(names) - len(bad)) / len(names), **detail)

    # -- all of it

    def run(self) -> list[TestResult]:
        tests: list[TestResult] = []
        cases = self.cases()
        for case in cases:
            tests.append(self.run_forward(case))
        for run in self.runs:
            if "backward" in run.case.kinds:
                tests.append(self.run_backward(run))
        for run in self.runs:
            if "numeric-gradient" in run.case.kinds:
                tests.append(self.run_numeric(run))
        return tests

