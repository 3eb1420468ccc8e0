"""Checks of the d2l layout: *Dive into Deep Learning*'s convolution chapter, PyTorch edition.

One part per section of the chapter (``grader.layouts.D2L_PARTS``), each in a sandbox child of
its own with torch preloaded and ``d2l`` standing in for the package the sandbox lacks (the
student's own definitions, then torch's names: ``grader/d2l/harness.py``):

- forward: the student's function on float32 tensors (edge cases: 1x1 input and kernel,
  non-square inputs and kernels, a kernel as large as the input, ties and negative values for
  max pooling, the book's own examples, stride and padding where the function takes them)
  against the numpy float64 reference (``reference/d2l.py``), and on a mismatch the known bug
  it matches ("the kernel looks flipped ...");
- backward: the gradients torch's autograd finds through the student's function for a random
  upstream gradient (dY/dX, dY/dK), against the reference's formulas;
- for ``corr2d_multi_in_out_1x1``: the matrix product it is, and the student's own
  ``corr2d_multi_in_out`` on the same 1x1 kernels (the book's assert);
- for ``Conv2D``: its ``weight`` and ``bias`` (structure), its forward and gradients, and the
  book's exercise (accuracy): learning the edge kernel [[1, -1]] from the edge image.

Tensors never cross the sandbox's wire: they stay in the child as ``Ref``s, the harness reads
them back as arrays.  The reference runs here, in the parent.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from grader.layouts import D2L_PARTS, Definition, d2l_definitions
from grader.results import TestResult
from grader.sandbox import CallResult, Ref, Session
from grader.seeding import derive_seed, rng

from .compare import heatmap, rel_error
from .layers import FATAL, error_hint, sentence

if TYPE_CHECKING:
    from grader.scoring import PartOutcome

# float32 (eps 1.2e-7) sums of at most 48 products, compared with float64: the relative error
# (cs231n's, over the whole array) stays below 48 * 1.2e-7 ~ 6e-6; the planted bugs move it by 1e-1 or more.
TOLERANCE = 1e-5
# The edge-kernel exercise: the book's loop (lr 3e-2, squared error, weight only) for 30 epochs instead
# of 10.  Its error shrinks by ~0.79 an epoch: from the book's start (torch.rand) 10 epochs leave up to
# 0.12 off [[1, -1]], 30 leave at most 0.0013 (300 seeds); 0.05 leaves room for a start 40 times as far.
EDGE_LR, EDGE_EPOCHS, EDGE_TOLERANCE = 3e-2, 30, 0.05
STRIDES, PADDINGS = ("stride", "strides"), ("padding", "pad")


def harness() -> Path:
    from grader import d2l

    return Path(d2l.__file__).resolve().parent / "harness.py"


@dataclass
class Case:
    """One call: ``arrays`` become float32 tensors (X, then K), ``extra`` follow them
    (pool2d's pool_size and mode); ``options`` are stride and padding; ``grad``: whether
    gradients are checked on it (inputs without ties)."""

    function: str
    name: str
    arrays: tuple[np.ndarray, ...]
    extra: tuple = ()
    options: dict = field(default_factory=dict)
    grad: bool = False


def _f32(array) -> np.ndarray:
    return np.asarray(array, dtype=np.float32)


def cases(function: str, seed: int, definition: Definition | None = None) -> list[Case]:
    """The cases ``function`` is graded on (inputs drawn from the seed)."""
    draw = rng(seed, "d2l", function)

    def normal(*shape):
        return _f32(draw.standard_normal(shape))

    book_x = _f32(np.arange(9).reshape(3, 3))
    book_k = _f32([[0, 1], [2, 3]])
    edge = np.ones((6, 8), dtype=np.float32)
    edge[:, 2:6] = 0
    found: list[Case] = []
    if function == "corr2d":
        found = [Case(function, "the book's example", (book_x, book_k)),
                 Case(function, "1x1 input and kernel", (normal(1, 1), normal(1, 1)), grad=True),
                 Case(function, "1x1 kernel", (normal(3, 4), normal(1, 1))),
                 Case(function, "non-square input and kernel", (normal(5, 7), normal(2, 3)), grad=True),
                 Case(function, "kernel as large as the input", (normal(3, 4), normal(3, 4)), grad=True),
                 Case(function, "tall kernel", (normal(6, 5), normal(3, 1)), grad=True),
                 Case(function, "the edge image and [[1, -1]]", (edge, _f32([[1, -1]])))]
    elif function == "corr2d_multi_in":
        found = [Case(function, "the book's example", (np.stack([book_x, book_x + 1]), np.stack([book_k, book_k + 1]))),
                 Case(function, "one channel", (normal(1, 4, 5), normal(1, 2, 2)), grad=True),
                 Case(function, "three channels, non-square", (normal(3, 5, 6), normal(3, 2, 3)), grad=True),
                 Case(function, "kernel as large as the input", (normal(2, 3, 4), normal(2, 3, 4)), grad=True),
                 Case(function, "1x1 kernel", (normal(2, 3, 3), normal(2, 1, 1)))]
    elif function == "corr2d_multi_in_out":
        k = np.stack([book_k, book_k + 1])
        found = [Case(function, "the book's example", (np.stack([book_x, book_x + 1]), np.stack([k, k + 1, k + 2]))),
                 Case(function, "one output channel", (normal(2, 4, 4), normal(1, 2, 2, 2)), grad=True),
                 Case(function, "3 in, 2 out, non-square", (normal(3, 5, 6), normal(2, 3, 2, 3)), grad=True),
                 Case(function, "kernel as large as the input", (normal(2, 3, 3), normal(4, 2, 3, 3)), grad=True),
                 Case(function, "1x1 input and kernel", (normal(1, 1, 1), normal(1, 1, 1, 1)))]
    elif function == "corr2d_multi_in_out_1x1":
        found = [Case(function, "the book's example", (normal(3, 3, 3), normal(2, 3, 1, 1)), grad=True),
                 Case(function, "1x1 input, one channel", (normal(1, 1, 1), normal(1, 1, 1, 1))),
                 Case(function, "non-square, 4 in, 3 out", (normal(4, 2, 5), normal(3, 4, 1, 1)), grad=True)]
    elif function == "pool2d":
        ties = _f32(draw.integers(0, 3, (5, 5)))
        for mode in ("max", "avg"):
            found += [Case(function, f"{mode}: the book's example", (book_x,), ((2, 2), mode)),
                      Case(function, f"{mode}: 1x1 window", (normal(3, 4),), ((1, 1), mode)),
                      Case(function, f"{mode}: non-square window", (normal(4, 5),), ((2, 3), mode), grad=True),
                      Case(function, f"{mode}: window as large as the input", (normal(3, 4),), ((3, 4), mode),
                           grad=True)]
        found += [Case(function, "max: ties", (ties,), ((2, 2), "max")),
                  Case(function, "max: negative values", (-_f32(draw.uniform(1, 2, (4, 4))),), ((2, 2), "max"))]
    return found + _option_cases(function, definition, draw)


def _option_cases(function: str, definition: Definition | None, draw) -> list[Case]:
    """Cases with a stride and a padding for a corr2d or pool2d that takes them (d2l's do not).
    Max pooling is padded on positive inputs, where zero and -inf padding agree."""
    if definition is None or function not in ("corr2d", "pool2d"):
        return []
    stride = next((p for p in STRIDES if p in definition.params), None)
    padding = next((p for p in PADDINGS if p in definition.params), None)
    found = []
    for name, value, param in (("stride", 2, stride), ("padding", 1, padding)):
        if param is None:
            continue
        value = (value, value) if param in definition.tuple_defaults else value
        if function == "corr2d":
            arrays = (_f32(draw.standard_normal((7, 6))), _f32(draw.standard_normal((3, 2))))
            found.append(Case(function, f"{name} {value}", arrays, options={name: value}, grad=True))
        else:
            for mode in ("max", "avg"):
                x = _f32(draw.uniform(0.5, 1.5, (7, 6))) if mode == "max" else _f32(draw.standard_normal((7, 6)))
                found.append(Case(function, f"{mode}: {name} {value}", (x,), ((2, 3), mode), {name: value}, True))
    # the other option at its neutral value in every case: a default of the student's cannot change the book's cases
    neutral = {n: (v if p not in definition.tuple_defaults else (v, v))
               for n, v, p in (("stride", 1, stride), ("padding", 0, padding)) if p is not None}
    return [replace(c, options={**neutral, **c.options}) for c in found]


def _student_options(case: Case, definition: Definition | None) -> dict:
    """The case's options under the student's parameter names (``strides``, ``pad``)."""
    if definition is None:
        return {}
    names = {"stride": next((p for p in STRIDES if p in definition.params), None),
             "padding": next((p for p in PADDINGS if p in definition.params), None)}
    return {names[k]: v for k, v in case.options.items() if names.get(k)}


def reference_options(case: Case) -> dict:
    from grader.reference import d2l as ref

    return {k: ref.pair(v) for k, v in case.options.items()}


class D2LChecker:
    """Runs the tests of one d2l part against one session."""

    def __init__(self, part: str, session: Session, seed: int, definitions: dict[str, Definition]):
        self.part, self.session, self.seed, self.defined = part, session, seed, definitions
        self.blocked: dict[str, str] = {}
        self.notes: list[str] = []
        self.forward_wrong: set[str] = set()

    # -- plumbing

    def trusted(self, function: str, *args) -> CallResult:
        return self.session.call_trusted(harness(), function, args)

    def student(self, name: str, args: tuple, kwargs: dict | None = None) -> CallResult:
        """One call of the student's ``name``; one that hung, exited or blew its memory is not called again."""
        if name in self.blocked:
            return CallResult(ok=False, error=f"it {self.blocked[name]} on an earlier case", kind="dead")
        try:
            result = self.session.call(self.defined[name].module, name, args, kwargs)
            self.notes += [n for n in result.notes if "stand-in" in n and n not in self.notes]
        except (ValueError, TypeError) as exc:  # a Ref that lived in a child that has ended
            return CallResult(ok=False, error=str(exc), kind="dead")
        if not result.ok and result.kind in FATAL:
            self.blocked[name] = result.error or result.kind
        if not self.session.alive:
            self.session.restart()
            self.prepare()
        return result

    def prepare(self) -> None:
        """Install the d2l stand-in before any student code runs in the child."""
        owners = {name: d.module for name, d in self.defined.items()}
        installed = self.trusted("install_d2l", owners)
        if not installed.ok:
            raise RuntimeError(f"the d2l stand-in could not be installed: {installed.error}")

    def tensors(self, arrays, grad: bool) -> list[Ref] | str:
        refs = []
        for array in arrays:
            made = self.trusted("tensor", array, grad)
            if not made.ok or not isinstance(made.value, Ref):
                return f"the grader could not make an input tensor ({made.error})"
            refs.append(made.value)
        return refs

    def read(self, result: CallResult, name: str) -> tuple[dict | None, str | None]:
        """The student's returned tensor as plain data, or what is wrong with the call."""
        if not result.ok:
            if result.kind == "dead":
                return None, f"{name} not run: {result.error}"
            return None, f"{name} failed: {result.error}{error_hint(result.error or '')}"
        if result.value is None:
            return None, f"{name} returned None: did you forget to return Y?"
        if not isinstance(result.value, Ref):
            return None, f"{name} returned a {type(result.value).__name__}, expected a torch tensor"
        facts = self.trusted("read", result.value)
        if not facts.ok:
            return None, f"{name}'s result could not be read: {facts.error}"
        if "array" not in facts.value:
            return None, f"{name} returned a {facts.value.get('type')}, expected a torch tensor"
        return facts.value, None

    def _test(self, kind: str, name: str, passed: bool, feedback: str, **details: Any) -> TestResult:
        label = f"{self.part} {kind}: {name}"
        return TestResult(label, self.part, kind, 1.0, 1.0 if passed else 0.0, feedback, {"passed": passed, **details})

    # -- the functions

    def run(self) -> list[TestResult]:
        self.prepare()
        tests: list[TestResult] = []
        for function in D2L_PARTS[self.part]:
            if function not in self.defined:
                tests.append(self._test("forward", f"{function}", False,
                                        f"no file of the submission defines {function}"))
                continue
            if function == "Conv2D":
                tests += ModuleChecks(self).run()
                continue
            for case in cases(function, self.seed, self.defined[function]):
                tests += self.run_case(case)
            if function == "corr2d_multi_in_out_1x1" and "corr2d_multi_in_out" in self.defined:
                tests.append(self.run_equivalence())
        return tests

    def run_case(self, case: Case) -> list[TestResult]:
        from grader.reference import d2l as ref

        name = f"{case.function}: {case.name}" if len(D2L_PARTS[self.part]) > 1 else case.name
        refs = self.tensors(case.arrays, case.grad)
        if isinstance(refs, str):
            return [self._test("forward", name, False, refs)]
        options = reference_options(case)
        expected = ref.forward(case.function, (*case.arrays, *case.extra), options)
        result = self.student(case.function, (*refs, *case.extra), _student_options(case, self.defined[case.function]))
        got, problem = self.read(result, case.function)
        tests = [self.judge_forward(name, case, got, problem, expected, result)]
        if case.grad:
            tests.append(self.judge_backward(name, case, result, refs, got, options, expected.shape))
        return tests

    def judge_forward(self, name: str, case: Case, got: dict | None, problem: str | None, expected: np.ndarray,
                      result: CallResult) -> TestResult:
        if problem is None and tuple(got["shape"]) != expected.shape:
            problem = f"the output has shape {tuple(got['shape'])}, expected {expected.shape}"
        elif problem is None and got["dtype"] != "float32":
            problem = f"the output has dtype torch.{got['dtype']}, expected torch.float32 (the input's, as d2l's)"
        elif problem is None and not np.isfinite(got["array"]).all():
            problem = "the output has NaN or infinite values"
        if problem is None:
            err = rel_error(got["array"], expected)
            if err <= TOLERANCE:
                return self._test("forward", name, True, f"correct (relative error {err:.1e})", rel_error=err)
            problem = f"wrong values: relative error {err:.2g} (at most {TOLERANCE:g} passes)"
        self.forward_wrong.add(case.function)
        printed = (result.stdout + result.stderr).strip()
        diagnosis = self.diagnose(case, got["array"]) if got is not None else None
        feedback = problem + (f". {sentence(diagnosis[1])}" if diagnosis else "")
        if printed:
            feedback += f" (your code printed: {printed[:200]!r})"
        details = {"diagnosis": diagnosis and diagnosis[0]}
        if got is not None and got["array"].shape == expected.shape and expected.ndim >= 2:
            details["heatmap"] = heatmap(got["array"], expected)
        return self._test("forward", name, False, feedback, **details)

    def diagnose(self, case: Case, got: np.ndarray) -> tuple[str, str] | None:
        """The known bug the output matches (one that differs from the right answer here)."""
        from grader.reference import d2l as ref

        args, options = (*case.arrays, *case.extra), reference_options(case)
        expected = ref.forward(case.function, args, options)
        for wrong in ref.wrong(case.function):
            try:
                candidate = np.asarray(wrong.fn(*args, **options))
            except (ValueError, IndexError):  # a bug that cannot happen on these inputs
                continue
            if candidate.shape == expected.shape and rel_error(candidate, expected) <= TOLERANCE:
                continue
            if candidate.shape == got.shape and rel_error(got, candidate) <= TOLERANCE:
                return wrong.key, wrong.message
        return None

    def judge_backward(self, name: str, case: Case, result: CallResult, refs: list[Ref], got: dict | None,
                       options: dict, shape: tuple[int, ...]) -> TestResult:
        from grader.reference import d2l as ref

        if got is None:
            return self._test("backward", name, False, f"not run: {case.function} gave no tensor on this case")
        if tuple(got["shape"]) != shape:
            return self._test("backward", name, False, f"not run: {case.function}'s output has shape "
                              f"{tuple(got['shape'])}, not {shape}, so its gradients cannot be compared")
        upstream = rng(self.seed, "d2l-upstream", case.function, case.name).standard_normal(got["shape"])
        expected = ref.gradients(case.function, (*case.arrays, *case.extra), upstream, options)
        labels = ("dY/dX", "dY/dK")[:len(expected)]
        if not got["graph"]:
            return self._test("backward", name, False,
                              f"no gradient flows back through {case.function}: its result is cut off from the "
                              "inputs (.item(), .numpy(), float() or torch.tensor(...) of a computed value, or "
                              "torch.no_grad()); build Y from X and K with torch operations")
        found = self.trusted("gradients", result.value, refs[:len(expected)], upstream)
        if not found.ok:
            return self._test("backward", name, False, f"autograd failed through {case.function}: {found.error}")
        problems, errors = [], {}
        for label, grad, want in zip(labels, found.value, expected):
            if grad is None:
                problems.append(f"{label} is missing: the result does not depend on that input through autograd")
                continue
            if grad.shape != want.shape:
                problems.append(f"{label} has shape {grad.shape}, expected {want.shape}")
                continue
            errors[label] = err = rel_error(grad, want)
            if err > TOLERANCE:
                problems.append(f"{label} wrong: relative error {err:.2g}")
        if not problems:
            worst = max(errors.values(), default=0.0)
            return self._test("backward", name, True, f"correct gradients (relative error {worst:.1e})",
                              rel_errors=errors)
        also = f" (your {case.function} forward is also wrong, which explains it)" \
            if case.function in self.forward_wrong else ""
        return self._test("backward", name, False, "; ".join(problems) + also, rel_errors=errors)

    def run_equivalence(self) -> TestResult:
        """The book's assert: the 1x1 matrix product equals corr2d_multi_in_out on 1x1 kernels."""
        draw = rng(self.seed, "d2l", "1x1-equivalence")
        X, K = _f32(draw.standard_normal((3, 4, 5))), _f32(draw.standard_normal((2, 3, 1, 1)))
        name = "corr2d_multi_in_out_1x1: equals your corr2d_multi_in_out on 1x1 kernels"
        refs = self.tensors((X, K), False)
        if isinstance(refs, str):
            return self._test("forward", name, False, refs)
        outputs = []
        for function in ("corr2d_multi_in_out_1x1", "corr2d_multi_in_out"):
            got, problem = self.read(self.student(function, tuple(refs)), function)
            if problem:
                return self._test("forward", name, False, problem)
            outputs.append(got["array"])
        if outputs[0].shape != outputs[1].shape:
            return self._test("forward", name, False, f"the two give shapes {outputs[0].shape} and {outputs[1].shape}")
        err = rel_error(*outputs)
        if err <= TOLERANCE:
            return self._test("forward", name, True, f"they agree (relative error {err:.1e})")
        return self._test("forward", name, False, f"they disagree: relative error {err:.2g} between "
                          "corr2d_multi_in_out_1x1 and corr2d_multi_in_out on the same 1x1 kernels")


class ModuleChecks:
    """The Conv2D class: its parameters, its forward and gradients, and the edge-kernel exercise."""

    def __init__(self, checker: D2LChecker):
        self.c = checker

    def build(self, kernel_size: tuple[int, int], seed_parts: tuple) -> tuple[Ref | None, str | None]:
        self.c.trusted("seed", derive_seed(self.c.seed, "d2l-conv2d", *seed_parts) % (2**31))
        made = self.c.student("Conv2D", (kernel_size,))
        if not made.ok:
            return None, f"Conv2D({kernel_size}) failed: {made.error}{error_hint(made.error or '')}"
        if not isinstance(made.value, Ref):
            return None, f"Conv2D({kernel_size}) gave a {type(made.value).__name__}, not an nn.Module"
        return made.value, None

    def run(self) -> list[TestResult]:
        test = self.c._test
        model, problem = self.build((2, 3), ("structure",))
        if problem:
            return [test("structure", "weight and bias", False, problem),
                    test("forward", "Conv2D", False, f"not run: {problem}"),
                    test("backward", "Conv2D", False, f"not run: {problem}"),
                    test("accuracy", "learning the edge kernel [[1, -1]]", False, f"not run: {problem}")]
        facts = self.c.trusted("parameters", model)
        tests = [self.judge_parameters(facts)]
        tests += self.forward_and_backward(model, facts)
        tests.append(self.learn_edge())
        return tests

    def judge_parameters(self, facts: CallResult) -> TestResult:
        name = "weight and bias"
        if not facts.ok:
            return self.c._test("structure", name, False, f"the module's parameters could not be read: {facts.error}")
        problems = []
        for attribute, shape in (("weight", (2, 3)), ("bias", None)):
            fact = facts.value[attribute]
            if "array" not in fact:
                problems.append(f"self.{attribute} is a {fact.get('type')}, expected an nn.Parameter")
                continue
            if shape is not None and tuple(fact["shape"]) != shape:
                problems.append(f"Conv2D((2, 3)).weight has shape {tuple(fact['shape'])}, expected the kernel_size "
                                f"{shape}")
            if shape is None and int(np.prod(fact["shape"])) != 1:
                problems.append(f"the bias has shape {tuple(fact['shape'])}: a conv layer's bias is one scalar, "
                                "nn.Parameter(torch.zeros(1))")
            if not fact["parameter"]:
                problems.append(f"self.{attribute} is a plain tensor: wrap it in nn.Parameter so that the module "
                                "trains it")
            elif not (fact["requires_grad"] and fact["registered"]):
                problems.append(f"self.{attribute} does not train (requires_grad False, or not among "
                                "model.parameters())")
            if fact["dtype"] != "float32":
                problems.append(f"self.{attribute} has dtype torch.{fact['dtype']}, expected torch.float32")
        if problems:
            return self.c._test("structure", name, False, "; ".join(problems))
        return self.c._test("structure", name, True,
                            "weight (kernel_size) and bias (one scalar) are trainable nn.Parameters")

    def forward_and_backward(self, model: Ref, facts: CallResult) -> list[TestResult]:
        from grader.reference import d2l as ref

        test = self.c._test
        usable = facts.ok and all("array" in facts.value[a] for a in ("weight", "bias")) \
            and tuple(facts.value["weight"]["shape"]) == (2, 3) and int(np.prod(facts.value["bias"]["shape"])) == 1
        if not usable:
            why = "not run: Conv2D((2, 3)) needs a (2, 3) weight and a one-element bias"
            return [test("forward", "Conv2D", False, why), test("backward", "Conv2D", False, why)]
        weight, bias = facts.value["weight"]["array"], float(facts.value["bias"]["array"].reshape(-1)[0])
        X = _f32(rng(self.c.seed, "d2l", "Conv2D").standard_normal((5, 6)))
        expected = ref.corr2d(X, weight) + bias
        refs = self.c.tensors((X,), True)
        if isinstance(refs, str):
            return [test("forward", "Conv2D", False, refs), test("backward", "Conv2D", False, refs)]
        result = self.c.session.call_trusted(harness(), "call", (model, refs[0]))
        got, problem = self.c.read(result, "Conv2D.forward")
        case = Case("corr2d", "Conv2D", (X, weight))
        forward = self.c.judge_forward("Conv2D: forward(X) = corr2d(X, weight) + bias", case, got, problem,
                                       expected, result)
        if got is None or tuple(got["shape"]) != expected.shape:
            return [forward, test("backward", "Conv2D", False, "not run: the forward gave no usable output")]
        upstream = rng(self.c.seed, "d2l-upstream", "Conv2D").standard_normal(expected.shape)
        dX, dW = ref.gradients("corr2d", (X, weight), upstream)
        params = [self.c.trusted("attribute", model, a) for a in ("weight", "bias")]
        found = self.c.trusted("gradients", result.value, [refs[0], *(p.value for p in params)], upstream) \
            if got["graph"] and all(p.ok for p in params) else None
        name = "Conv2D: gradients of X, weight and bias"
        if found is None or not found.ok:
            why = found.error if found is not None else "the output is cut off from autograd"
            return [forward, test("backward", name, False, f"no gradients through Conv2D: {why}")]
        problems = []
        for label, grad, want in zip(("dY/dX", "dY/dweight", "dY/dbias"), found.value,
                                     (dX, dW, np.full(facts.value["bias"]["shape"], upstream.sum()))):
            if grad is None or grad.shape != want.shape or rel_error(grad, want) > TOLERANCE:
                problems.append(f"{label} wrong" + ("" if grad is None or grad.shape != want.shape else
                                                   f": relative error {rel_error(grad, want):.2g}"))
        return [forward, test("backward", name, not problems, "; ".join(problems) or "correct gradients")]

    def learn_edge(self) -> TestResult:
        from grader.reference import d2l as ref

        name = "learning the edge kernel [[1, -1]]"
        X = np.ones((6, 8), dtype=np.float32)
        X[:, 2:6] = 0
        Y = _f32(ref.corr2d(X, [[1, -1]]))
        model, problem = self.build((1, 2), ("edge",))
        if problem:
            return self.c._test("accuracy", name, False, f"not run: {problem}")
        learned = self.c.session.call_trusted(harness(), "learn_edge", (model, X, Y, EDGE_LR, EDGE_EPOCHS))
        if not learned.ok:
            return self.c._test("accuracy", name, False, f"the book's training loop failed on your Conv2D: "
                                f"{learned.error}")
        weight = np.asarray(learned.value["weight"], dtype=np.float64)
        losses = learned.value["losses"]
        shown = np.array2string(weight, precision=3, separator=", ")
        setting = f"after {EDGE_EPOCHS} epochs of the book's loop (lr {EDGE_LR:g}, squared error)"
        details = {"weight": weight.tolist(), "losses": losses}
        if weight.shape != (1, 2) or not np.isfinite(weight).all():
            return self.c._test("accuracy", name, False, f"the learned weight is {shown} {setting}", **details)
        off = float(np.max(np.abs(weight - [[1, -1]])))
        if off <= EDGE_TOLERANCE:
            return self.c._test("accuracy", name, True, f"learned {shown} {setting}, within {EDGE_TOLERANCE:g} "
                                "of [[1, -1]]", **details)
        why = ""
        if float(np.max(np.abs(weight - [[-1, 1]]))) <= EDGE_TOLERANCE:
            why = ": that is the kernel flipped, as a forward that flips the kernel learns it"
        return self.c._test("accuracy", name, False, f"learned {shown} {setting}, {off:.2g} away from [[1, -1]] "
                            f"(at most {EDGE_TOLERANCE:g} passes){why}", **details)


def definitions_only(root: Path, copy: Path) -> list[str]:
    """Copy the submission to ``copy`` with each .py file cut down to its definitions and the imports
    and constants they use, as a notebook is (``grader.notebooks``): d2l's pages mix the functions with
    demos, training loops and plots, and rebind names (``pool2d = nn.MaxPool2d(3)`` after
    ``def pool2d``), so a student who types a whole page in is graded on what the page defines."""
    from grader import notebooks
    from grader.layouts import MAX_SCANNED_BYTES, python_files

    shutil.copytree(root, copy, symlinks=True, ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
    notes = []
    for path in python_files(root):
        try:
            if path.is_symlink() or path.stat().st_size > MAX_SCANNED_BYTES:
                continue
            text = path.read_text(encoding="utf-8")
            if text.startswith(notebooks.WRITTEN):
                continue  # a notebook's definitions already
            converted = notebooks.convert(path, [text])
        except (OSError, UnicodeDecodeError, ValueError):
            continue
        if any("not valid Python" in n for n in converted.notes):
            continue  # left as it is: importing it says what is wrong
        (copy / path.relative_to(root)).write_text(converted.source, encoding="utf-8")
        notes += [n.replace(" (loading data, training, plotting, printing)", "") for n in converted.notes
                  if "top-level statement" in n]
    return notes


# torch's (and scipy's) own layers: a d2l part asks the student to write what these compute
LIBRARY_LAYERS = frozenset({
    "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "max_pool1d", "max_pool2d", "avg_pool1d",
    "avg_pool2d", "adaptive_max_pool2d", "adaptive_avg_pool2d", "lp_pool2d", "unfold", "fold", "Conv1d", "Conv2d",
    "LazyConv2d", "ConvTranspose2d", "MaxPool2d", "AvgPool2d", "AdaptiveMaxPool2d", "AdaptiveAvgPool2d", "Unfold",
    "Fold", "correlate", "correlate2d", "convolve", "convolve2d"})


def library_layers(root: Path, part: str, definitions: dict[str, Definition]) -> list:
    """``integrity.Finding``s for the part's graded definitions (and the submission's functions they
    call, by name) that use a library layer doing the part's work (``F.conv2d`` in ``corr2d``,
    ``nn.MaxPool2d`` in ``pool2d``): torch is allowed in this layout, its convolution is not."""
    import ast

    from grader.checks.integrity import Finding

    trees: dict[str, ast.Module] = {}

    def node_of(definition: Definition):
        if definition.file not in trees:
            try:
                trees[definition.file] = ast.parse((root / definition.file).read_bytes())
            except (OSError, SyntaxError, ValueError):
                trees[definition.file] = ast.Module(body=[], type_ignores=[])
        return next((n for n in trees[definition.file].body if isinstance(
            n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and n.name == definition.name), None)

    findings, seen = [], set()
    pending = [name for name in D2L_PARTS[part] if name in definitions]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        definition = definitions[name]
        node = node_of(definition)
        for sub in ast.walk(node) if node is not None else ():
            ident = sub.attr if isinstance(sub, ast.Attribute) else sub.id if isinstance(sub, ast.Name) else None
            if ident in LIBRARY_LAYERS:
                findings.append(Finding(definition.file, sub.lineno, f"{ident} in {name}: a library layer that does "
                                        "this part's work (write the loops yourself, as the book does)"))
            elif ident in definitions and ident not in seen and isinstance(sub, ast.Name):
                pending.append(ident)  # a helper of the submission's that the graded code calls
    return sorted(findings, key=lambda f: (f.file, f.line))


def grade_d2l(root: Path, part: str, cfg, seed: int, limits) -> PartOutcome:
    """The d2l part's ``scoring.PartOutcome``: the static scan (torch allowed, the assignment's
    other forbidden libraries not), then every test in the part's own child, on the submission's
    definitions (``definitions_only``)."""
    from grader.checks import integrity
    from grader.scoring import PartOutcome  # noqa: F811 - the annotation's, at run time
    from grader.sessions import d2l_session

    definitions = d2l_definitions(root)
    files = sorted({definitions[f].file for f in D2L_PARTS[part] if f in definitions})
    findings = integrity.scan(root, files, tuple(m for m in cfg.forbidden if m.split(".")[0] != "torch"))
    findings += library_layers(root, part, definitions)
    with tempfile.TemporaryDirectory(prefix="grader-d2l-") as scratch:
        copy = Path(scratch) / "submission"
        cut = [n for n in definitions_only(root, copy) if n.split(":")[0] in files]
        with d2l_session(copy, cfg, limits, harness().parent) as session:
            checker = D2LChecker(part, session, seed, definitions)
            tests = checker.run()
            return PartOutcome(tests, [], list(session.events), dict(session.protections), findings,
                               notes=[f"{part}: {note}" for note in [*cut, *checker.notes]])
