"""``grader check``: grade one submission and return a Report.

    report = grade_submission("submission/", parts=["conv"], seed=7)

For each part the layout defines (and the assignment and ``--parts`` ask
for): a static integrity scan, then every correctness test in one sandbox
session of its own (a crash, hang or exit in one part cannot touch another),
then the speed test in a separate session.  Scores are the assignment's
points spread over each kind's tests.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import secrets
import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Sequence

from grader import config as config_module
from grader.checks import integrity
from grader.checks.layers import LayerChecker, Truth
from grader.checks.speed import run_speed
from grader.errors import UsageError
from grader.layouts import PartSpec, detect
from grader.results import PARTS, Report, TestResult
from grader.sandbox import Limits, Session, probe

NUMPY_PARTS = ("conv", "max_pool", "avg_pool")
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


def parse_parts(parts: str | Sequence[str] | None) -> list[str] | None:
    if parts is None:
        return None
    names = [p.strip() for p in (parts.split(",") if isinstance(parts, str) else parts) if p.strip()]
    unknown = [p for p in names if p not in PARTS]
    if unknown:
        raise UsageError(f"unknown part {unknown[0]!r}; parts: {', '.join(PARTS)}")
    return names


def _scale(tests: list[TestResult], points: dict[str, float]) -> list[TestResult]:
    """Give each kind's points, spread evenly over that kind's tests (tests come
    with max_score 1 and score the fraction earned)."""
    out = []
    for test in tests:
        if test.kind == "speed":
            out.append(test)
            continue
        same = [t for t in tests if t.kind == test.kind]
        share = points.get(test.kind, 0.0) / len(same)
        fraction = test.score / test.max_score if test.max_score else 0.0
        out.append(replace(test, max_score=share, score=share * fraction))
    return out


def _integrity_test(part: str, findings: list[integrity.Finding], points: float) -> TestResult:
    if not findings:
        return TestResult(f"{part} integrity: allowed libraries", part, "integrity", points, points,
                          "uses only allowed libraries", {"passed": True})
    where = "; ".join(f"{f.file}, line {f.line}: {f.what}" for f in findings[:5])
    return TestResult(f"{part} integrity: allowed libraries", part, "integrity", points, 0.0,
                      f"uses a library this part may not use ({where}): the {part} part earns no points",
                      {"passed": False, "findings": [f.__dict__ for f in findings]})


def hidden_folders() -> tuple[str, ...]:
    """What a child that runs student code must not read: the reference implementations."""
    from grader import reference

    return (str(Path(reference.__file__).resolve().parent),)


_REFERENCES: dict[Limits, tuple[Session, tempfile.TemporaryDirectory]] = {}


def reference_session(limits: Limits) -> Session:
    """A child that runs only the grader's references, for speed tests: started
    once per process and limits, and reused (no student code ever runs in it)."""
    # It lives as long as the process: the per-session time and CPU budgets are for student code.
    limits = replace(limits, total_timeout_s=7 * 24 * 3600.0, cpu_s=None)
    held = _REFERENCES.get(limits)
    if held is not None and not held[0].alive:
        held[0].restart()
    if held is None:
        empty = tempfile.TemporaryDirectory(prefix="grader-references-")
        held = (Session(empty.name, limits), empty)
        _REFERENCES[limits] = held
        atexit.register(_close_reference, limits)
    return held[0]


def _close_reference(limits: Limits) -> None:
    held = _REFERENCES.pop(limits, None)
    if held is not None:
        held[0].close()
        held[1].cleanup()


def grade_part(root: Path, part: str, spec: PartSpec, cfg: config_module.Config, seed: int, truth: Truth,
               limits: Limits) -> list[TestResult]:
    if part == "transfer":
        from grader.checks.transfer import Task, grade_transfer

        task = Task.from_spec(cfg.transfer_task) if cfg.transfer_task else None
        tests, speed = grade_transfer(root, limits, cfg.points, seed, truth.device, task)
        return _scale(tests, cfg.points) + speed
    others = tuple(s.file for s in detect(root).parts if s.part not in NUMPY_PARTS)
    findings = integrity.scan(root, [spec.file], cfg.forbidden, exclude=others) if part in NUMPY_PARTS else []
    speed_points = cfg.points.get("speed", 0.0)
    with Session(root, limits, hidden=hidden_folders()) as session:
        checker = LayerChecker(part, spec, session, seed, truth, cfg.tolerance)
        tests = checker.run()
        correct = all(t.passed for t in tests if t.kind in ("forward", "backward"))
        if correct:  # timed in the same child (only student code in it); the references in their own
            if not session.alive:
                session.restart()
            speed = run_speed(part, spec, session, reference_session(limits), seed, cfg.speed_repeats, speed_points,
                              cfg.speed_bands)
        else:
            speed = TestResult(f"{part} speed", part, "speed", speed_points, 0.0,
                               "not timed: make the forward and backward tests pass first",
                               {"passed": speed_points == 0})
    tests = _scale(tests, cfg.points)
    tests.append(speed)
    tests.append(_integrity_test(part, findings, cfg.points.get("integrity", 0.0)))
    if findings:
        tests = [t if t.kind == "integrity" else
                 replace(t, score=0.0, feedback=f"no points: forbidden library used (see the integrity test). {t.feedback}")
                 for t in tests]
    return tests


def grade_submission(
    submission: str | os.PathLike,
    parts: str | Sequence[str] | None = None,
    seed: int | None = None,
    device: str = "auto",
    config_path: str | os.PathLike | None = None,
) -> Report:
    """Grade the submission in ``submission``; see the module docstring."""
    started = time.perf_counter()
    cfg = config_module.load(config_path)
    root = Path(submission)
    layout = detect(root)
    wanted = parse_parts(parts)
    device = resolve_device(device)
    seed = secrets.randbelow(2**31) if seed is None else int(seed)
    report = Report(submission=str(submission), seed=seed, layout=layout.name, device=device)
    report.protections = probe()
    limits = Limits(call_timeout_s=cfg.call_timeout_s, total_timeout_s=cfg.part_timeout_s, memory_mb=cfg.memory_mb,
                    max_output_bytes=max(cfg.output_bytes, 1))
    truth = Truth(device)
    for part in cfg.parts:
        if wanted is not None and part not in wanted:
            continue
        spec = layout.spec(part)
        if spec is None:
            if wanted is not None or part != "transfer":
                report.notes.append(f"the {layout.name} layout has no {part} part: not run")
            continue
        report.tests.extend(grade_part(root.resolve(), part, spec, cfg, seed, truth, limits))
    if wanted:
        for part in wanted:
            if part not in cfg.parts:
                report.notes.append(f"part {part} is not in the assignment ({cfg.source}): not run")
    if not report.tests:
        report.notes.append("no part was graded")
    report.execution_time = round(time.perf_counter() - started, 3)
    return report
