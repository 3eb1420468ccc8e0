"""Checks of the transfer part: a student's ``build_model`` and
``make_optimizer`` in both modes.

For each mode, in one sandbox session with torch preloaded:

    backbone = harness.load_backbone()              (stays in the child)
    model    = transfer.build_model(backbone, num_classes, mode)
    opt      = transfer.make_optimizer(model, mode)
    facts    = harness.inspect(model, opt, ...)     (names, flags, lrs, weights)
    seconds  = harness.fit(model, opt, train split) (zero_grad, forward, cross-entropy, backward, step)
    after    = harness.outcome(model, test images)  (weights, logits: no labels in the child)

The reference pipeline runs the same way in a child of its own, which also
hands the parent the pretrained weights (no student code ever runs there;
both children start in the background while the numpy parts are graded,
see ``Started``).  The parent compares the weights with those, scores the
logits against the hidden labels, and sets the accuracy bar from the
reference's accuracy in the same run.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from grader.results import TestResult

if TYPE_CHECKING:
    from grader.scoring import PartOutcome
from grader.sandbox import Session
from grader.sandbox.session import Rules

MODES = ("feature_extractor", "fine_tune")
_REFERENCE_RUNS: dict[tuple, tuple[dict[str, "Run"], dict | None]] = {}  # -> (runs, pretrained weights)
# Accuracy: full points within FULL (10 points) of the reference pipeline's accuracy in the
# same run, half within HALF; 200 test images, so a point is 2 images, and sensible
# optimizers (SGD with momentum, Adam) land within FULL of each other at this budget.
FULL, HALF = 0.10, 0.25


def _harness() -> Path:
    from grader import transfer

    return Path(transfer.__file__).resolve().parent / "harness.py"


def _reference_solution() -> Path:
    """The reference's ``build_model`` and ``make_optimizer``: with the other references, hidden
    from every child that runs student code (and absent from a student install)."""
    from grader import reference

    return Path(reference.__file__).resolve().parent / "transfer_solution.py"


# What the transfer children import before any call (not charged to anyone, and done while the numpy
# parts are graded): torch.optim alone takes a second on first use (it brings in torch._dynamo).
PRELOAD = ("numpy", "torch", "torch.optim")


@dataclass
class Task:
    """The target task as the parent holds it: the test labels never leave it."""

    num_classes: int
    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    pretrained: dict[str, np.ndarray] | None  # the backbone's weights before anyone touched them (None: from
    # the reference's child, before judging: see ``Started``)
    epochs: int
    batch_size: int
    backbone: dict | None = None  # an instructor's {"file", "function"}, or None for the shipped one

    @classmethod
    @functools.lru_cache(maxsize=4)
    def default(cls, seed: int) -> Task:
        """The shipped task as graded with ``seed``: training and test images drawn from it,
        fresh for every grading seed (so no test image can be known in advance)."""
        from grader.reference import transfer_data as data

        splits = data.graded_splits(seed)
        (train_x, train_y), (test_x, test_y) = splits["train"], splits["test"]
        return cls(data.TARGET_CLASSES, train_x, train_y, test_x, test_y, None, data.EPOCHS, data.BATCH_SIZE)

    @classmethod
    def practice(cls, public) -> Task:
        """A student install's task: the practice split shipped in its public cases
        (``grader.student.public``), never the graded one."""
        info, arrays = public.transfer, public.arrays

        def images(key: str) -> np.ndarray:  # shipped as the 8-bit values they were quantized to
            return arrays[key].astype(np.float32) / np.float32(255.0)

        return cls(int(info["num_classes"]), images(info["train_x"]), arrays[info["train_y"]].astype(np.int64),
                   images(info["test_x"]), arrays[info["test_y"]].astype(np.int64), None, int(info["epochs"]),
                   int(info["batch_size"]))

    @classmethod
    def from_spec(cls, spec: str, base: Path | None = None, seed: int | None = None) -> Task:
        """An instructor's task: ``"path/to/task.py:function"`` (relative to ``base``).

        The function returns a dict with ``backbone`` (the name of a function
        in the same file that returns the pretrained nn.Module, its head at
        ``.fc``), ``train`` and ``test`` ((x, y) arrays: float32 images
        (N, C, H, W) and int64 labels), ``num_classes``, and optionally
        ``epochs`` and ``batch_size``.  A function with a ``seed`` parameter is given
        the grading seed, to draw a fresh test split per grading as the shipped task
        does.  The file runs in the grader (it is
        the instructor's code) and again in the sandbox, where only the
        backbone function is called and ``grader`` is not importable: import
        grader only inside the task function.  Both places give the module a
        global ``shipped_backbone``, the shipped pretrained TinyResNet."""
        import importlib.util
        import inspect

        from grader.errors import InputFileError
        from grader.transfer import budget

        file, sep, function = spec.rpartition(":")
        path = (Path(base or ".") / file).resolve()
        if not sep or not path.is_file():
            raise InputFileError(f"[transfer] task must be 'file.py:function' naming an existing file, got {spec!r}")
        try:
            loader = importlib.util.spec_from_file_location("grader_instructor_task", path)
            module = importlib.util.module_from_spec(loader)
            from grader.transfer.model import pretrained_backbone

            module.shipped_backbone = pretrained_backbone
            loader.loader.exec_module(module)
            make = getattr(module, function)
            takes_seed = seed is not None and "seed" in inspect.signature(make).parameters
            made = make(seed=seed) if takes_seed else make()
            backbone = getattr(module, made["backbone"])()
            (train_x, train_y), (test_x, test_y) = made["train"], made["test"]
        except Exception as exc:  # noqa: BLE001 - the instructor's file: say what broke, in one line
            raise InputFileError(f"[transfer] task {spec}: {type(exc).__name__}: {exc}") from None
        state = {k: v.detach().cpu().numpy().copy() for k, v in backbone.named_parameters()}
        return cls(int(made["num_classes"]), np.asarray(train_x, dtype=np.float32), np.asarray(train_y, dtype=np.int64),
                   np.asarray(test_x, dtype=np.float32), np.asarray(test_y, dtype=np.int64), state,
                   int(made.get("epochs", budget.EPOCHS)), int(made.get("batch_size", budget.BATCH_SIZE)),
                   {"file": str(path), "function": made["backbone"], "source": path.read_text(encoding="utf-8")})


@dataclass
class Run:
    """One pipeline in one mode: what the child reported, or where it failed."""

    mode: str
    facts: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    seconds: float | None = None
    error: str | None = None
    stage: str | None = None


def run_pipeline(session: Session, mode: str, task: Task, seed: int, device: str, student: bool) -> Run:
    """Build, inspect, train and predict in ``session``; student code or the reference."""
    harness = _harness()
    run = Run(mode)

    def trusted(function, *args):
        return session.call_trusted(harness, function, args)

    def solution(function, *args):
        if student:
            return session.call("transfer", function, args)
        return session.call_trusted(_reference_solution(), function, args)

    result = trusted("load_backbone", task.backbone, device, seed)  # seeded: the new head is the same every run
    if not result.ok:
        run.error, run.stage = result.error, "loading the pretrained network"
        return run
    backbone = result.value
    built = solution("build_model", backbone, task.num_classes, mode)
    if not built.ok:
        run.error, run.stage = built.error, "build_model"
        return run
    model = built.value
    made = solution("make_optimizer", model, mode)
    if not made.ok:
        run.error, run.stage = made.error, "make_optimizer"
        return run
    facts = trusted("inspect", model, made.value, task.train_x[:2], device)
    if not facts.ok:
        run.error, run.stage = facts.error, "running the model"
        return run
    run.facts = facts.value
    if run.facts.get("error"):
        run.error, run.stage = run.facts["error"], "inspecting the model"
        return run
    fitted = trusted("fit", model, made.value, task.train_x, task.train_y, task.epochs, task.batch_size, seed, device)
    if not fitted.ok:
        run.error, run.stage = fitted.error, "training"
        return run
    run.seconds = fitted.value if isinstance(fitted.value, (int, float)) else None
    after = trusted("outcome", model, task.test_x, task.batch_size, device)
    if not after.ok:
        run.error, run.stage = after.error, "predicting"
        return run
    run.after = after.value
    return run


# ---------------------------------------------------------------- judging


def _backbone_names(task: Task, names: list[str]) -> dict[str, str]:
    """Pretrained parameter name -> the model's name for it (the same, or under
    a common prefix when the student wrapped the backbone)."""
    wanted = [k for k in task.pretrained if not k.startswith("fc.")]
    present = set(names)
    if all(k in present for k in wanted):
        return {k: k for k in wanted}
    for name in names:
        for k in wanted:
            if name.endswith("." + k):
                prefix = name[: -len(k)]
                if all(prefix + w in present for w in wanted):
                    return {w: prefix + w for w in wanted}
    return {}


def _test(mode: str, what: str, kind: str, passed: bool, feedback: str, fraction: float = 0.0, **details) -> TestResult:
    return TestResult(f"transfer {kind} ({mode}): {what}", "transfer", kind, 1.0, 1.0 if passed else fraction,
                      feedback, {"passed": passed, **details})


def judge_structure(run: Run, task: Task) -> list[TestResult]:
    mode = run.mode
    names = ("output", "pretrained weights kept", "frozen backbone" if mode == "feature_extractor"
             else "everything trains", "optimizer" if mode == "feature_extractor" else "learning rates")
    if run.facts is None:
        why = f"not run: {run.stage} failed: {run.error}"
        return [_test(mode, n, "structure", False, why) for n in names]
    facts = run.facts
    tests = []
    shape = facts.get("output_shape")
    fc = facts.get("fc", {})
    if shape == [2, task.num_classes]:
        tests.append(_test(mode, names[0], "structure", True, f"logits of shape (N, {task.num_classes})"))
    else:
        why = f"the model gives logits of shape {tuple(shape) if shape else None}, expected (N, {task.num_classes})"
        if fc.get("out_features") not in (None, task.num_classes):
            why = (f"the head still outputs {fc['out_features']} classes, the target task has {task.num_classes}: "
                   f"replace model.fc with a new nn.Linear({fc.get('in_features')}, num_classes)")
        tests.append(_test(mode, names[0], "structure", False, why))

    param_names = [p["name"] for p in facts["params"]]
    mapping = _backbone_names(task, param_names)
    before = facts["state"]
    if not mapping:
        tests.append(_test(mode, names[1], "structure", False,
                           "the pretrained backbone's parameters are not in the model: build on `pretrained`, "
                           "don't create a new network"))
    else:
        changed = [k for k, n in mapping.items() if not np.array_equal(before[n], task.pretrained[k])]
        if changed:
            tests.append(_test(mode, names[1], "structure", False,
                               f"the pretrained weights were re-initialised or changed before training "
                               f"({len(changed)} of {len(mapping)} tensors, e.g. {changed[0]})"))
        else:
            tests.append(_test(mode, names[1], "structure", True, "the backbone starts from the pretrained weights"))

    flags = {p["name"]: p["requires_grad"] for p in facts["params"]}
    in_optimizer = {n for g in facts["groups"] for n in g["names"]}
    head = [n for n in param_names if n == "fc.weight" or n == "fc.bias" or n.startswith("fc.")]
    backbone = list(mapping.values())
    after = (run.after or {}).get("state", {})
    moved = [n for n in backbone if n in after and not np.array_equal(after[n], before[n])]
    if mode == "feature_extractor":
        trainable = [n for n in backbone if flags.get(n)]
        problems = []
        if trainable:
            problems.append(f"{len(trainable)} of {len(backbone)} backbone parameter tensors still have requires_grad=True")
        if moved:
            problems.append(f"backbone not frozen in feature_extractor mode: {len(moved)} of {len(backbone)} "
                            "parameter tensors changed during training")
        tests.append(_test(mode, names[2], "structure", not problems and bool(backbone),
                           "; ".join(problems) or "the backbone is frozen and unchanged after training"))
        extra = [n for n in in_optimizer if n and n not in head]
        if extra:
            tests.append(_test(mode, names[3], "structure", False,
                               f"the optimizer also updates the frozen backbone ({len(extra)} tensors, e.g. {extra[0]}): "
                               "give it model.fc.parameters() only"))
        elif not any(n in in_optimizer for n in head):
            tests.append(_test(mode, names[3], "structure", False, "the optimizer does not update the new head"))
        else:
            tests.append(_test(mode, names[3], "structure", True, "the optimizer updates only the head"))
    else:
        frozen = [n for n in param_names if not flags.get(n)]
        missing = [n for n in param_names if n not in in_optimizer]
        still = [n for n in backbone if n not in moved]
        problems = []
        if frozen:
            problems.append(f"{len(frozen)} parameter tensors are frozen (requires_grad=False) in fine_tune mode")
        if missing:
            problems.append(f"the optimizer leaves out {len(missing)} parameter tensors (e.g. {missing[0]})")
        if run.after is not None and still and not problems:
            problems.append(f"{len(still)} of {len(backbone)} backbone tensors did not change during training")
        tests.append(_test(mode, names[2], "structure", not problems,
                           "; ".join(problems) or "every parameter trains"))
        lr = {n: g["lr"] for g in facts["groups"] for n in g["names"]}
        head_lr = [lr[n] for n in head if n in lr]
        back_lr = [lr[n] for n in backbone if n in lr]
        if head_lr and back_lr and max(back_lr) < min(head_lr):
            tests.append(_test(mode, names[3], "structure", True,
                               f"backbone learning rate {max(back_lr):g} < head learning rate {min(head_lr):g}"))
        elif head_lr and back_lr:
            tests.append(_test(mode, names[3], "structure", False,
                               f"fine_tune uses {'the same' if max(back_lr) == min(head_lr) else 'a larger'} learning "
                               f"rate for the backbone ({max(back_lr):g}) as for the head ({min(head_lr):g}): give the "
                               "pretrained layers a smaller one (two parameter groups)"))
        else:
            tests.append(_test(mode, names[3], "structure", False,
                               "could not find both the backbone and the head in the optimizer's parameter groups"))
    return tests


def accuracy(logits: Any, labels: np.ndarray) -> float | None:
    if not isinstance(logits, np.ndarray) or logits.ndim != 2 or logits.shape[0] != labels.shape[0]:
        return None
    return float(np.mean(np.argmax(logits, axis=1) == labels))


def judge_accuracy(run: Run, reference: Run, task: Task) -> TestResult:
    mode = run.mode
    ref_acc = accuracy((reference.after or {}).get("logits"), task.test_y)
    if run.after is None:
        return _test(mode, "test accuracy", "accuracy", False, f"not run: {run.stage} failed: {run.error}")
    acc = accuracy(run.after.get("logits"), task.test_y)
    if acc is None:
        return _test(mode, "test accuracy", "accuracy", False,
                     f"the model's outputs are not (N, {task.num_classes}) logits for the test images")
    if ref_acc is None:
        return _test(mode, "test accuracy", "accuracy", False,
                     f"test accuracy {acc:.1%}; the reference pipeline failed ({reference.error}), so nothing to compare")
    details = {"accuracy": acc, "reference_accuracy": ref_acc}
    split = " on the practice split" if reference.stage == PRECOMPUTED else ""
    text = f"test accuracy {acc:.1%}{split} after {task.epochs} epochs (reference pipeline: {ref_acc:.1%})"
    if acc >= ref_acc - FULL:
        return _test(mode, "test accuracy", "accuracy", True, text, **details)
    fraction = 0.5 if acc >= ref_acc - HALF else 0.0
    return _test(mode, "test accuracy", "accuracy", False,
                 text + f": more than {FULL:.0%} below the reference" + (" (half points)" if fraction else ""),
                 fraction=fraction, **details)


def judge_speed(run: Run, reference: Run, points: float) -> TestResult:
    name = f"transfer speed ({run.mode}): training time"
    if reference.stage == PRECOMPUTED:
        took = f"your training took {run.seconds:.2f} s; " if run.seconds is not None else ""
        return TestResult(name, "transfer", "speed", 0.0, 0.0,
                          f"not run: {took}the autograder times it against the reference pipeline"
                          + (f" ({points:g} points)" if points else ""),
                          {"passed": False, "not_run": True,
                           **({"speed": {"student_s": run.seconds}} if run.seconds is not None else {})})
    if run.seconds is None or reference.seconds is None:
        return TestResult(name, "transfer", "speed", points, 0.0, "not timed: the training did not finish",
                          {"passed": points == 0})
    ratio = run.seconds / max(reference.seconds, 1e-9)
    how = f"{ratio:.1f}x slower than" if ratio >= 1 else f"{1 / ratio:.1f}x faster than"
    return TestResult(name, "transfer", "speed", points, points,
                      f"training took {run.seconds:.2f} s, {how} the reference pipeline ({reference.seconds:.2f} s)",
                      {"passed": True, "speed": {"student_s": run.seconds, "reference_s": reference.seconds,
                                                 "vs_reference": ratio}})


def training_seed(seed: int) -> int:
    """The seed every pipeline of a grading with ``seed`` is built and trained with."""
    from grader.seeding import derive_seed

    return derive_seed(seed, "transfer") % (2**31)


class Started:
    """The transfer part's slow beginning, begun in two threads as soon as grading starts, so
    that it overlaps the numpy parts: the student's child (importing torch takes a second or
    more) and the reference's pipelines (a child of their own, no student code in it; they
    also hand over the pretrained weights, so the parent never imports torch for the shipped
    task).  ``grade_transfer`` waits for both; ``close`` ends what was started if it never does."""

    def __init__(self, root: Path, limits, seed: int, device: str, task: Task | None = None, hidden=(),
                 protected=(), precomputed=None):
        from concurrent.futures import Future, ThreadPoolExecutor

        self._task: Future = Future()  # the shipped task's images are drawn in the references' thread
        if task is not None:
            self._task.set_result(task)
        self.seed = seed
        self.precomputed = precomputed  # a student install's public cases: the reference's results, shipped
        self.device = device
        self.limits = transfer_limits(limits, device)
        self.train_seed = int(precomputed.transfer["training_seed"]) if precomputed else training_seed(seed)
        rules = Rules(native_code=True, readable=(str(_harness().parent),))  # torch loads native code as it goes
        pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="grader-transfer")
        self.session = pool.submit(Session, root, self.limits, preload=PRELOAD, hidden=tuple(hidden),
                                   protected=protected, rules=rules)
        self.references = pool.submit(self._references)
        pool.shutdown(wait=False)  # the threads end with their work; nobody waits here

    @property
    def task(self) -> Task:
        """The task being graded (waits for its images to be drawn)."""
        return self._task.result()

    def _references(self) -> dict[str, Run]:
        if not self._task.done():
            try:
                self._task.set_result(Task.default(self.seed))
            except BaseException as exc:
                self._task.set_exception(exc)
                raise
        return shared_reference_runs(self.task, self.train_seed, self.device, self.limits, self.precomputed)

    def close(self) -> None:
        if not self.session.cancel() and self.session.exception() is None:
            self.session.result().close()
        self.references.exception()  # wait: its child is closed by its own with-block


def task_key(task: Task) -> str:
    """What names a task for the reference's results: a hash of its images, labels, budget and
    backbone (an instructor's task is built again for every grading: a new object, the same task)."""
    import hashlib

    digest = hashlib.sha256(repr((task.num_classes, task.epochs, task.batch_size, task.backbone)).encode())
    for array in (task.train_x, task.train_y, task.test_x, task.test_y):
        digest.update(repr((array.dtype.str, array.shape)).encode())
        digest.update(np.ascontiguousarray(array).data)
    return digest.hexdigest()


def shared_reference_runs(task: Task, train_seed: int, device: str, limits, precomputed=None) -> dict[str, Run]:
    """``reference_runs``, once per process and (task, training seed, device): the reference does the
    same on every submission graded with them.  A batch trains them once while its workers warm up and
    sends them to each (``share_references``, ``receive_references``): the whole class shares one training."""
    key = (task_key(task), train_seed, device, precomputed is not None)
    if key not in _REFERENCE_RUNS:
        runs = reference_runs(task, train_seed, device, limits, precomputed)
        _REFERENCE_RUNS[key] = (runs, task.pretrained)
    runs, pretrained = _REFERENCE_RUNS[key]
    if task.pretrained is None:
        task.pretrained = pretrained
    return runs


def share_references(cfg, seed: int, device: str, limits) -> dict:
    """Train the reference pipelines of the class's task for ``seed`` and ``device`` in this process
    (a batch, while its workers warm up) and return them as ``receive_references`` takes them."""
    task = Task.from_spec(cfg.transfer_task, seed=seed) if cfg.transfer_task else Task.default(seed)
    shared_reference_runs(task, training_seed(seed), device, transfer_limits(limits, device))
    return dict(_REFERENCE_RUNS)


def receive_references(references: dict) -> None:
    """In a batch worker: the references its batch trained (``share_references``), used as if trained here."""
    _REFERENCE_RUNS.update(references)


def transfer_limits(limits, device: str):
    """A transfer child's limits: torch needs more memory (none is capped on CUDA, whose driver
    maps far more address space than it uses) and a call may train for a while."""
    from dataclasses import replace

    memory = None if device == "cuda" else max(limits.memory_mb or 0, 4096)
    return replace(limits, memory_mb=memory, call_timeout_s=max(limits.call_timeout_s, 60.0))


def reference_runs(task: Task, train_seed: int, device: str, limits, precomputed=None) -> dict[str, Run]:
    """The reference pipeline in both modes, in a child of its own that runs no student code;
    it also fills in ``task.pretrained``.  With ``precomputed`` (a student install's public
    cases) only the pretrained weights are read and the reference's results are the shipped ones."""
    import tempfile

    with tempfile.TemporaryDirectory() as empty, Session(empty, limits, preload=PRELOAD) as session:
        if task.pretrained is None:
            task.pretrained = pretrained_state(session, task, device)
        if precomputed is not None:
            return precomputed_runs(precomputed)
        return {m: run_pipeline(session, m, task, train_seed, device, student=False) for m in MODES}


#: the stage of a reference Run whose results were computed at export time (student mode)
PRECOMPUTED = "precomputed"


def precomputed_runs(public) -> dict[str, Run]:
    """The reference pipelines of a student install: their logits on the practice split, as the
    instructor's install computed them at export time (no reference code runs here, and their
    training time on another machine says nothing about this one's)."""
    info = public.transfer
    return {m: Run(m, after={"logits": public.arrays[info["reference_logits"][m]]}, stage=PRECOMPUTED)
            for m in MODES}


def pretrained_state(session: Session, task: Task, device: str) -> dict[str, np.ndarray]:
    """The backbone's weights before anyone touched them, from a child that runs no student code."""
    from grader.errors import GraderError

    loaded = session.call_trusted(_harness(), "load_backbone", (task.backbone, device))
    state = session.call_trusted(_harness(), "weights", (loaded.value,)) if loaded.ok else loaded
    if not state.ok:
        raise GraderError(f"the pretrained network could not be loaded: {state.error}")
    return state.value


def grade_transfer(started: Started, points: dict[str, float]) -> PartOutcome:
    """The part's ``scoring.PartOutcome``: the transfer tests (structure and accuracy, both modes),
    the speed tests, what the student's session noticed (``Event``s, for the integrity test) and
    the protections it had: the student's pipeline and the reference's, each in its own child
    (see ``Started``).  No static scan: transfer.py may import torch."""
    from grader.scoring import PartOutcome  # noqa: F811 - the annotation's, at run time

    task, students = started.task, {}
    with started.session.result() as session:
        for mode in MODES:
            if not session.alive:
                session.restart()
            students[mode] = run_pipeline(session, mode, task, started.train_seed, started.device, student=True)
        events, protections = list(session.events), dict(session.protections)
    references = started.references.result()
    tests: list[TestResult] = []
    for mode in MODES:
        tests += judge_structure(students[mode], task)
        tests.append(judge_accuracy(students[mode], references[mode], task))
    speed = [judge_speed(students[m], references[m], points.get("speed", 0.0)) for m in MODES]
    return PartOutcome(tests, speed, events, protections, findings=[], libraries=False)
