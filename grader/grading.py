"""``grader check``: grade one submission and return a Report.

    report = grade_submission("submission/", parts=["conv"], seed=7)

For each part the layout defines (and the assignment and ``--parts`` ask
for): a static integrity scan, then every correctness test in one sandbox
session of its own (a crash, hang or exit in one part cannot touch another),
then the speed test in a separate session.  Scores are the assignment's
points spread over each kind's tests.
"""

from __future__ import annotations

import contextvars
import importlib.util
import os
import secrets
import shutil
import tempfile
import time
import traceback
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from grader import config as config_module
from grader.checks import integrity, source
from grader.checks.layers import LayerChecker
from grader.checks.speed import run_speed
from grader.checks.truth import ReferenceTruth
from grader.errors import UsageError
from grader.layouts import D2L_PARTS, Layout, PartSpec, detect
from grader.parts import registry, student_spec
from grader.results import PARTS, Report, TestResult
from grader.sandbox import Limits, probe
# Re-exported: callers (batch, the CLI, tests) have found these here.
from grader.scoring import (PartOutcome, finish, integrity_tests, not_graded, part_points,  # noqa: F401
                            speed_not_run, zero_on_violation)
from grader.sessions import (Prestarted, check_isolation, hidden_folders, limits_for, part_session,  # noqa: F401
                             protected_paths, reference_session, start_transfer)

NUMPY_PARTS = ("conv", "max_pool", "avg_pool")
if TYPE_CHECKING:
    from grader.student.public import PublicData
DEVICES = ("cpu", "cuda", "auto")


def resolve_device(name: str) -> str:
    """"cpu", or "cuda" when asked for (or "auto") and a CUDA device is there.

    "auto" looks for an NVIDIA driver before importing torch, so a machine
    without a GPU never pays for the import."""
    if name not in DEVICES:
        raise UsageError(f"--device must be one of {', '.join(DEVICES)}, got {name!r}")
    if name == "cpu":
        return "cpu"
    has_driver = os.path.exists("/proc/driver/nvidia/version") or shutil.which("nvidia-smi") is not None
    if has_driver and importlib.util.find_spec("torch") is not None:
        import torch

        if torch.cuda.is_available():
            return "cuda"
    if name == "cuda":
        raise UsageError("--device cuda: no CUDA device is available here (use --device cpu or auto)")
    return "cpu"


def parse_parts(parts: str | Sequence[str] | None, cfg: config_module.Config | None = None) -> list[str] | None:
    if parts is None:
        return None
    names = [p.strip() for p in (parts.split(",") if isinstance(parts, str) else parts) if p.strip()]
    known = (*PARTS, *(cfg.parts if cfg is not None else ()))
    unknown = [p for p in names if p not in known]
    if unknown:
        raise UsageError(f"unknown part {unknown[0]!r}; parts: {', '.join(dict.fromkeys(known))}")
    return names


def grade_layers(root: Path, part: str, spec: PartSpec, cfg: config_module.Config, seed: int, truth,
                 limits: Limits, prestarted: Prestarted | None = None) -> PartOutcome:
    """A numpy layer part: the static scan, every correctness test in the part's own child,
    then the speed test in the same child against the references in theirs."""
    layer = registry(cfg)[part]
    others = tuple(s.file for s in _layout_or_none(root).parts if s.file != spec.file)  # each part on its own
    findings = integrity.scan(root, [spec.file], cfg.forbidden, exclude=others)
    speed_points = cfg.points.get("speed", 0.0)
    with (prestarted.take(part) if prestarted else part_session(root, cfg, limits)) as session:
        if cfg.require_isolation:  # before any student code runs in it
            check_isolation(session.protections, part)
        checker = LayerChecker(part, spec, session, seed, truth, cfg.tolerance, layer,
                               lambda: source.read(root, spec.file))
        tests = checker.run()
        correct = all(t.passed for t in tests if t.kind in ("forward", "backward"))
        if truth.public:  # a student install has no reference to time against
            speed = speed_not_run(part, 0.0, "the autograder times your code against the reference"
                                  + (f" ({speed_points:g} points)" if speed_points else ""))
        elif correct:  # timed in the same child (only student code in it); the references in their own
            if not session.alive:
                session.restart()
            if prestarted:
                prestarted.settle()  # no child starting while this one is timed
            if layer.declared:  # the instructor's reference, in a child that may load its folder
                references = reference_session(limits, (str(layer.reference("cpu").path.parent),))
            else:
                references = prestarted.references() if prestarted else reference_session(limits)
            tolerance = {**cfg.tolerance, **layer.tolerance}
            agree = max(tolerance.get("forward", 0.0), tolerance.get("backward", 0.0))
            speed = run_speed(part, spec, session, references, seed, cfg.speed_repeats, speed_points,
                              cfg.speed_bands, agree, layer)
        else:
            speed = speed_not_run(part, speed_points, "make the forward and backward tests pass first")
        return PartOutcome(tests, [speed], list(session.events), dict(session.protections), findings,
                           notes=[f"{part}: {note}" for note in checker.notes])


def _layout_or_none(root: Path) -> Layout:
    """The submission's layout, or an empty one when only declared parts are there."""
    try:
        return _detect(root)
    except UsageError:
        return Layout("declared", (), ())


_LAYOUTS: contextvars.ContextVar[dict | None] = contextvars.ContextVar("grader_layouts", default=None)


def _detect(root: Path) -> Layout:
    """``detect(root)``, once per ``grade_submission`` (``part_specs`` and every numpy part ask, 0.25 ms
    each); a UsageError is not remembered (raised again, as before)."""
    memo = _LAYOUTS.get()
    if memo is None:
        return detect(root)
    key = os.path.realpath(root)
    if key not in memo:
        memo[key] = detect(root)
    return memo[key]


def part_specs(root: Path, cfg: config_module.Config) -> tuple[str, dict[str, PartSpec]]:
    """The layout's name and where each part the assignment grades is in the submission: a
    built-in part where the layout puts it, a declared part in the first of its files there.
    UsageError when the folder holds none of them."""
    layout = _layout_or_none(root) if cfg.declared else _detect(root)  # (no declared part: detect says why)
    specs = {p.part: p for p in layout.parts}
    for name, layer in cfg.declared.items():
        spec = student_spec(layer, root)
        if spec is not None:
            specs[name] = spec
    if cfg.declared and not any(p in specs for p in cfg.parts):
        wanted = "; ".join(f"{name}: {' or '.join(layer.files)}" for name, layer in cfg.declared.items())
        raise UsageError(f"no submission found in {root}: the assignment's parts are in {wanted}")
    return layout.name, specs


def grade_part(root: Path, part: str, spec: PartSpec, cfg: config_module.Config, seed: int, truth,
               limits: Limits, started=None, prestarted: Prestarted | None = None,
               notes: list[str] | None = None) -> list[TestResult]:
    """One part's tests as the report holds them: every part's grader gives a ``PartOutcome``,
    scored the same way (``scoring.finish``); its notes go to ``notes``."""
    if part == "transfer":
        from grader.checks.transfer import grade_transfer

        outcome = grade_transfer(started or start_transfer(root, cfg, seed, truth.device, limits, truth), cfg.points)
    elif part in D2L_PARTS:
        from grader.checks.d2l import grade_d2l

        outcome = grade_d2l(root, part, cfg, seed, limits)
    else:
        outcome = grade_layers(root, part, spec, cfg, seed, truth, limits, prestarted)
    if notes is not None:
        notes += outcome.notes
    return finish(part, outcome, cfg.points)


def _grade_into(report: Report, root: Path, part: str, spec: PartSpec, cfg: config_module.Config, seed: int,
                truth, limits: Limits, started, prestarted: Prestarted | None) -> None:
    """Grade one part into ``report``; the grader's own failure fails that part alone."""
    try:
        report.tests.extend(grade_part(root, part, spec, cfg, seed, truth, limits, started, prestarted,
                                       report.notes))
    except UsageError:  # the instructor's configuration (a broken task file): exit 2 with one line
        raise
    except Exception as exc:  # noqa: BLE001 - the grader's own failure: this part fails, the rest go on
        if os.environ.get("GRADER_DEBUG"):
            traceback.print_exc()
        report.tests.append(not_graded(part, cfg, exc))
        report.notes.append(f"internal error while grading {part}: {type(exc).__name__}: {exc}")


def grade_submission(submission: str | os.PathLike, *args, **kwargs) -> Report:
    """Grade the submission in ``submission`` (see ``_grade_submission`` for the options).
    A submission with notebooks is graded from a copy in which each notebook's definitions
    became the module a layout looks for (``grader.notebooks``)."""
    from grader import notebooks

    root = Path(submission)
    layouts = _LAYOUTS.set({})  # the layout is detected once in this grading (``_detect``)
    try:
        if not (root.is_dir() and notebooks.notebooks(root)):
            return _grade_submission(submission, root, [], *args, **kwargs)
        config_path = kwargs.get("config_path")
        cfg = config_module.load(config_path) if config_path is not None else None
        with tempfile.TemporaryDirectory(prefix="grader-notebooks-") as scratch:
            copy = Path(scratch) / "submission"
            notes = notebooks.materialise(root, copy, notebook_targets(cfg))
            return _grade_submission(submission, copy, notes, *args, **kwargs)
    finally:
        _LAYOUTS.reset(layouts)


def notebook_targets(cfg: config_module.Config | None = None) -> dict[str, set[str]]:
    """File name -> the functions that make a notebook that file, from every layout and the
    assignment's declared parts (top-level files)."""
    from grader.layouts import LAYOUTS

    targets: dict[str, set[str]] = {}
    for layout in LAYOUTS:
        for spec in layout.parts:
            if "/" not in spec.file:
                targets.setdefault(spec.file, set()).update((spec.forward, spec.backward))
    for layer in (cfg.declared.values() if cfg is not None else ()):
        for file in (f for f in layer.files if "/" not in f):
            targets.setdefault(file, set()).update((layer.forward, layer.backward))
    return targets


def _grade_submission(
    submission: str | os.PathLike,
    root: Path,
    notebook_notes: list[str],
    parts: str | Sequence[str] | None = None,
    seed: int | None = None,
    device: str = "auto",
    config_path: str | os.PathLike | None = None,
    public: "PublicData | str | os.PathLike | None" = None,
    require_isolation: bool = False,
) -> Report:
    """Grade the submission ``submission``, whose files are in ``root``.

    Student mode (``public``: the public cases of ``grader export student``, a folder
    or loaded; a student install uses its own without being asked) grades the same
    tests against results computed at export time instead of the references.

    ``require_isolation`` (or the assignment's ``[sandbox] require_isolation``, which
    student mode leaves to the autograder) refuses to grade, with a UsageError that says
    why, where the sandbox's children cannot have every namespace: checked before
    anything starts, and for each part's child before its student code runs (the
    transfer part's, once it has run: its report is then refused)."""
    from grader.student import public as public_cases

    started = time.perf_counter()
    if public is None:
        public = public_cases.installed()
    elif not isinstance(public, public_cases.PublicData):
        public = public_cases.load(public)
    if public is not None and config_path is None:
        config_path = public.assignment  # a student install grades the assignment it was exported for
    cfg = config_module.load(config_path, student=public is not None)
    cfg = replace(cfg, require_isolation=require_isolation or (cfg.require_isolation and public is None))
    if cfg.require_isolation:
        check_isolation()
    layout_name, specs = part_specs(root, cfg)
    wanted = parse_parts(parts, cfg)
    notes = []
    if public is not None:
        device = "cpu"  # the public results are numpy's, on the CPU
        if seed is not None and int(seed) != public.seed:
            notes.append(f"--seed {seed} ignored: the public cases have inputs of their own (seed {public.seed})")
        seed = public.seed
    device = resolve_device(device)
    seed = secrets.randbelow(2**31) if seed is None else int(seed)
    report = Report(submission=str(submission), seed=seed, layout=layout_name, device=device)
    if public is not None:
        report.notes += [public_cases.NOTE, *notes]
    report.notes += notebook_notes
    report.protections = probe()
    limits = limits_for(cfg)
    truth = public_cases.PublicTruth(public) if public is not None else ReferenceTruth(device)
    graded = [p for p in cfg.parts if wanted is None or p in wanted]
    for part in graded:
        other_family = (part in D2L_PARTS) != (layout_name == "d2l")  # a d2l part of a numpy submission, or back
        if specs.get(part) is None and (wanted is not None or not (part == "transfer" or other_family)):
            where = (f"the {layout_name} layout has no {part} part" if part not in cfg.declared else
                     f"{part}: none of {', '.join(cfg.declared[part].files)} is in the submission")
            report.notes.append(f"{where}: not run")
    graded = [p for p in graded if specs.get(p) is not None]
    if public is not None and "transfer" in graded and not public.transfer:
        graded.remove("transfer")
        report.notes.append("transfer: not run here: this assignment's transfer part is graded by the autograder only")
    transfer = None
    if "transfer" in graded:  # its torch child and the reference's training start now, beside the numpy parts
        try:
            transfer = start_transfer(root.resolve(), cfg, seed, device, limits, truth)
        except UsageError:
            raise
        except Exception:  # noqa: BLE001 - grading the part tries again, and reports the failure there
            transfer = None
    numpy_parts = [p for p in graded if p != "transfer" and p not in D2L_PARTS]  # (d2l parts start torch children)
    prestarted = Prestarted(root.resolve(), numpy_parts, cfg, limits, references=not truth.public) \
        if numpy_parts else None
    try:
        for part in graded:
            _grade_into(report, root.resolve(), part, specs[part], cfg, seed, truth, limits, transfer,
                        prestarted)
    finally:
        if prestarted is not None:
            prestarted.close()
        if transfer is not None:
            transfer.close()
    if cfg.require_isolation:  # every child as it was at the end (the transfer part's was not checked before)
        for test in report.tests:
            if test.name.endswith("integrity: sandbox rules"):
                check_isolation(test.details.get("protections") or {}, test.part)
    if wanted:
        for part in wanted:
            if part not in cfg.parts:
                report.notes.append(f"part {part} is not in the assignment ({cfg.source}): not run")
    if not report.tests:
        report.notes.append("no part was graded")
    report.execution_time = round(time.perf_counter() - started, 3)
    return report
