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
import multiprocessing.util
import importlib.util
import os
import secrets
import shutil
import tempfile
import time
import traceback
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
from grader.sandbox.session import NOTICES, VIOLATIONS, Event, Rules

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


def integrity_tests(part: str, findings: list[integrity.Finding], events: list[Event],
                    libraries: bool = True, protections: dict | None = None) -> list[TestResult]:
    """The part's integrity tests (max_score 1 each, scaled later): "allowed libraries" (the
    static scan and the imports the guard refused; numpy parts only) and "sandbox rules"
    (everything else its sessions noticed, violations first; its details carry the
    ``protections`` the part's child actually had)."""
    tests = []
    imports = [e for e in events if e.code == "forbidden-import"]
    if libraries:
        name = f"{part} integrity: allowed libraries"
        if not (findings or imports):
            tests.append(TestResult(name, part, "integrity", 1.0, 1.0, "uses only allowed libraries", {"passed": True}))
        else:
            where = [f"{f.file}, line {f.line}: {f.what}" for f in findings[:5]] + [e.detail for e in imports[:5]]
            tests.append(TestResult(
                name, part, "integrity", 1.0, 0.0,
                f"forbidden library: uses a library this part may not use ({'; '.join(where)}): "
                f"the {part} part earns no points",
                {"passed": False, "findings": [f.__dict__ for f in findings], "events": [e.__dict__ for e in imports]}))
    rest = sorted((e for e in events if e.code != "forbidden-import"), key=lambda e: not e.violation)
    name = f"{part} integrity: sandbox rules"
    if not rest:
        tests.append(TestResult(name, part, "integrity", 1.0, 1.0, "stayed within the sandbox's rules",
                                {"passed": True, "protections": protections or {}}))
        return tests
    lines = [f"{(VIOLATIONS | NOTICES)[e.code]}: {e.detail}" for e in rest[:8]]
    if len(rest) > 8:
        lines.append(f"and {len(rest) - 8} more")
    if any(e.violation for e in rest):
        head = f"broke the sandbox's rules, so the {part} part earns no points"
    else:
        head = "did what a sandbox has to stop (no points lost here: the other tests say what it cost)"
    tests.append(TestResult(name, part, "integrity", 1.0, 0.0, f"{head}: " + "; ".join(lines),
                            {"passed": False, "events": [e.__dict__ for e in rest], "protections": protections or {}}))
    return tests


def zero_on_violation(tests: list[TestResult], findings, events: list[Event]) -> list[TestResult]:
    """Every non-integrity test scores 0 when the part cheated (a forbidden library, a violation)."""
    violations = [e for e in events if e.violation]
    if not (findings or violations):
        return tests
    why = "forbidden library used" if findings or any(e.code == "forbidden-import" for e in violations) else \
        VIOLATIONS[violations[0].code]
    return [t if t.kind == "integrity" else
            replace(t, score=0.0, feedback=f"no points: {why} (see the integrity tests). {t.feedback}")
            for t in tests]


def hidden_folders() -> tuple[str, ...]:
    """What a child that runs student code must not read: the reference implementations
    (the Session hides the forbidden modules' packages itself, from its rules)."""
    from grader import reference

    return (str(Path(reference.__file__).resolve().parent),)


def protected_paths(cfg: config_module.Config | None = None) -> tuple[str, ...]:
    """What student code may not read besides the hidden folders: the grader's own packages
    (the problem bank, templates) and the assignment's configuration."""
    import grader

    problems = importlib.util.find_spec("grader.problems")  # its folder, without importing the problem bank
    paths = {str(Path(grader.__file__).resolve().parent)} | {str(Path(p).resolve())
                                                              for p in problems.submodule_search_locations or []}
    for extra in grader.__path__[1:]:  # a source checkout's root: its top-level folders, never the root itself
        paths |= {str((Path(extra) / name).resolve()) for name in ("templates", "problems", "reference")
                  if (Path(extra) / name).is_dir()}
    if cfg is not None and cfg.source != "default" and Path(cfg.source).is_file():
        paths.add(str(Path(cfg.source).resolve()))
    return tuple(sorted(paths))


def limits_for(cfg: config_module.Config) -> Limits:
    """The limits every part's child gets under this assignment config."""
    return Limits(call_timeout_s=cfg.call_timeout_s, total_timeout_s=cfg.part_timeout_s, memory_mb=cfg.memory_mb,
                  max_output_bytes=max(cfg.output_bytes, 1))


#: per limits: the session and its empty submission folder
_REFERENCES: dict[Limits, tuple[Session, Path]] = {}


def reference_session(limits: Limits) -> Session:
    """A child that runs only the grader's references, for speed tests: started
    once per process and limits, and reused (no student code ever runs in it).
    A batch worker forked from a process that holds one starts its own: the
    inherited copy shares its pipes with the parent, and the parent ends it."""
    # It lives as long as the process: the per-session time and CPU budgets are for student code.
    limits = replace(limits, total_timeout_s=7 * 24 * 3600.0, cpu_s=None)
    held = _REFERENCES.get(limits)
    if held is not None and held[0].owner != os.getpid():
        held = None  # inherited through fork: left as it is (collecting it here touches nothing)
    if held is not None and not held[0].alive:
        held[0].restart()
    if held is None:
        empty = Path(tempfile.mkdtemp(prefix="grader-references-"))
        held = (Session(empty, limits), empty)
        _REFERENCES[limits] = held
        atexit.register(_close_reference, limits)
        # a batch worker (multiprocessing) leaves through os._exit, past atexit: its finalizers still run
        multiprocessing.util.Finalize(None, _close_reference, args=(limits,), exitpriority=0)
    return held[0]


def _close_reference(limits: Limits) -> None:
    held = _REFERENCES.get(limits)
    if held is not None and held[0].owner == os.getpid():
        del _REFERENCES[limits]
        held[0].close()
        shutil.rmtree(held[1], ignore_errors=True)


def start_transfer(root: Path, cfg: config_module.Config, seed: int, device: str, limits: Limits):
    """Begin the transfer part in the background (see ``checks.transfer.Started``)."""
    from grader.checks.transfer import Started, Task

    task = Task.from_spec(cfg.transfer_task) if cfg.transfer_task else None
    return Started(root, limits, seed, device, task, protected=protected_paths(cfg))


def part_session(root: Path, cfg: config_module.Config, limits: Limits) -> Session:
    """A numpy part's sandbox child: the references hidden, the grader's files protected,
    the assignment's forbidden modules refused."""
    return Session(root, limits, hidden=hidden_folders(), protected=protected_paths(cfg),
                   rules=Rules(forbidden_modules=cfg.forbidden))


class Prestarted:
    """The numpy parts' sandbox children and the references' child (for the speed tests),
    started two at a time in the background when grading starts.  Each child takes 0.1 s or
    more to start (mostly importing numpy); one after another, the parts waited for each in
    turn.  Nothing of the student's runs until a part takes its child and calls into it.
    ``settle`` waits for every start, so that no child is starting while a speed test times."""

    def __init__(self, root: Path, parts: Sequence[str], cfg: config_module.Config, limits: Limits):
        from concurrent.futures import ThreadPoolExecutor

        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="grader-start")
        self._sessions = {part: self._pool.submit(part_session, root, cfg, limits) for part in parts}
        self._references = self._pool.submit(reference_session, limits)
        self._pool.shutdown(wait=False)  # the threads end with their starts

    def take(self, part: str) -> Session:
        """This part's child (started here), or its start's exception; a part never taken is closed by ``close``."""
        return self._sessions.pop(part).result()

    def references(self) -> Session:
        return self._references.result()

    def settle(self) -> None:
        for future in (*self._sessions.values(), self._references):
            future.exception()

    def close(self) -> None:
        """End the children no part took (a part the grader could not grade, an interruption)."""
        for future in self._sessions.values():
            if not future.cancel() and future.exception() is None:
                future.result().close()
        self._sessions.clear()
        self._references.exception()  # (the references' child lives on: reference_session owns it)


def grade_part(root: Path, part: str, spec: PartSpec, cfg: config_module.Config, seed: int, truth: Truth,
               limits: Limits, started=None, prestarted: Prestarted | None = None) -> list[TestResult]:
    if part == "transfer":
        from grader.checks.transfer import grade_transfer

        started = started or start_transfer(root, cfg, seed, truth.device, limits)
        tests, speed, events, protections = grade_transfer(started, cfg.points)
        tests = _scale(tests + integrity_tests(part, [], events, False, protections), cfg.points) + speed
        return zero_on_violation(tests, [], events)
    others = tuple(s.file for s in detect(root).parts if s.file != spec.file)  # each part on its own
    findings = integrity.scan(root, [spec.file], cfg.forbidden, exclude=others)
    speed_points = cfg.points.get("speed", 0.0)
    with (prestarted.take(part) if prestarted else part_session(root, cfg, limits)) as session:
        checker = LayerChecker(part, spec, session, seed, truth, cfg.tolerance)
        tests = checker.run()
        correct = all(t.passed for t in tests if t.kind in ("forward", "backward"))
        if correct:  # timed in the same child (only student code in it); the references in their own
            if not session.alive:
                session.restart()
            if prestarted:
                prestarted.settle()  # no child starting while this one is timed
            references = prestarted.references() if prestarted else reference_session(limits)
            speed = run_speed(part, spec, session, references, seed, cfg.speed_repeats, speed_points,
                              cfg.speed_bands)
        else:
            speed = TestResult(f"{part} speed", part, "speed", speed_points, 0.0,
                               "not timed: make the forward and backward tests pass first",
                               {"passed": speed_points == 0})
        events, protections = list(session.events), dict(session.protections)
    tests = _scale(tests + integrity_tests(part, findings, events, protections=protections), cfg.points)
    tests.append(speed)
    return zero_on_violation(tests, findings, events)


PART_KINDS = {"transfer": ("structure", "accuracy", "speed", "integrity")}
LAYER_KINDS = ("forward", "backward", "numeric-gradient", "speed", "integrity")


def _not_graded(part: str, cfg: config_module.Config, exc: Exception) -> TestResult:
    """One failed test worth the whole part, for a part the grader itself failed to grade."""
    points = sum(cfg.points.get(kind, 0.0) for kind in PART_KINDS.get(part, LAYER_KINDS))
    text = f"{type(exc).__name__}: {exc}"
    return TestResult(f"{part}: not graded (internal grader error)", part, "forward", points, 0.0,
                      f"the grader failed while grading this part ({text[:300]}); this is not your code's fault: "
                      "tell your instructor, who can re-run it with GRADER_DEBUG=1", {"passed": False, "error": text})


def _grade_into(report: Report, root: Path, part: str, spec: PartSpec, cfg: config_module.Config, seed: int,
                truth: Truth, limits: Limits, started, prestarted: Prestarted | None) -> None:
    """Grade one part into ``report``; the grader's own failure fails that part alone."""
    try:
        report.tests.extend(grade_part(root, part, spec, cfg, seed, truth, limits, started, prestarted))
    except UsageError:  # the instructor's configuration (a broken task file): exit 2 with one line
        raise
    except Exception as exc:  # noqa: BLE001 - the grader's own failure: this part fails, the rest go on
        if os.environ.get("GRADER_DEBUG"):
            traceback.print_exc()
        report.tests.append(_not_graded(part, cfg, exc))
        report.notes.append(f"internal error while grading {part}: {type(exc).__name__}: {exc}")


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
    limits = limits_for(cfg)
    truth = Truth(device)
    graded = [p for p in cfg.parts if wanted is None or p in wanted]
    for part in graded:
        if layout.spec(part) is None and (wanted is not None or part != "transfer"):
            report.notes.append(f"the {layout.name} layout has no {part} part: not run")
    graded = [p for p in graded if layout.spec(p) is not None]
    transfer = None
    if "transfer" in graded:  # its torch child and the reference's training start now, beside the numpy parts
        try:
            transfer = start_transfer(root.resolve(), cfg, seed, device, limits)
        except UsageError:
            raise
        except Exception:  # noqa: BLE001 - grading the part tries again, and reports the failure there
            transfer = None
    numpy_parts = [p for p in graded if p != "transfer"]
    prestarted = Prestarted(root.resolve(), numpy_parts, cfg, limits) if numpy_parts else None
    try:
        for part in graded:
            _grade_into(report, root.resolve(), part, layout.spec(part), cfg, seed, truth, limits, transfer,
                        prestarted)
    finally:
        if prestarted is not None:
            prestarted.close()
        if transfer is not None:
            transfer.close()
    if wanted:
        for part in wanted:
            if part not in cfg.parts:
                report.notes.append(f"part {part} is not in the assignment ({cfg.source}): not run")
    if not report.tests:
        report.notes.append("no part was graded")
    report.execution_time = round(time.perf_counter() - started, 3)
    return report
