"""Scoring a part: from what its checks found to the tests of the report.

Every part's grader returns one shape, ``PartOutcome`` (its tests, its speed tests, what
its sandbox children noticed, the protections they had, the static scan's findings);
``finish`` gives each kind its points, adds the integrity tests and zeroes the part when
it broke the rules.  Pure functions of plain data: nothing here starts a child.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from grader import config as config_module
from grader.checks import integrity
from grader.results import TestResult
from grader.sandbox.session import NOTICES, VIOLATIONS, Event


@dataclass
class PartOutcome:
    """What grading one part found, before scoring."""

    tests: list[TestResult]  # scored by kind (max_score 1 each, the fraction earned)
    speed: list[TestResult] = field(default_factory=list)  # scored as they come
    events: list[Event] = field(default_factory=list)  # what its children's guards and the parent noticed
    protections: dict = field(default_factory=dict)  # what its student child had
    findings: list[integrity.Finding] = field(default_factory=list)  # the static scan's
    libraries: bool = True  # whether the part has an "allowed libraries" test (the numpy parts)
    notes: list[str] = field(default_factory=list)  # lines for the report's notes (a library stood in for)


def finish(part: str, outcome: PartOutcome, points: dict[str, float]) -> list[TestResult]:
    """The part's tests as the report holds them: points spread, integrity tests added, and
    every test zeroed when the part broke the rules."""
    tests = scale(outcome.tests + integrity_tests(part, outcome.findings, outcome.events, outcome.libraries,
                                                  outcome.protections), points) + outcome.speed
    return zero_on_violation(tests, outcome.findings, outcome.events)


def scale(tests: list[TestResult], points: dict[str, float]) -> list[TestResult]:
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
    ``protections`` the part's child actually had).  Files the scan could not read
    (``Finding.notice``) are named in the first one's feedback and cost nothing."""
    tests = []
    imports = [e for e in events if e.code == "forbidden-import"]
    stand_ins = list(dict.fromkeys(e.detail for e in events if e.code == "stand-in"))
    unscanned = [f for f in findings if f.notice]
    findings = [f for f in findings if not f.notice]
    if libraries:
        name = f"{part} integrity: allowed libraries"
        if not (findings or imports):
            note = "" if not unscanned else (
                " (" + "; ".join(f"{f.file}, line {f.line}: {f.what}" if f.line else f"{f.file} {f.what}"
                             for f in unscanned[:5])
                + ("; and more" if len(unscanned) > 5 else "")
                + ": nothing is held against these; the sandbox refuses forbidden libraries at run time)")
            if stand_ins:
                note += " (" + "; ".join(stand_ins[:5]) + ": never used by the graded code, so nothing is held against it)"
            tests.append(TestResult(name, part, "integrity", 1.0, 1.0, "uses only allowed libraries" + note,
                                    {"passed": True, "unscanned": [f.__dict__ for f in unscanned]}))
        else:
            imported = [f"{f.file}, line {f.line}: imports {f.what.split(', ')[0]}" for f in unscanned if f.line]
            where = ([f"{f.file}, line {f.line}: {f.what}" for f in findings[:5]] + [e.detail for e in imports[:5]]
                     + (imported[:5] if imports else []) + stand_ins[:3])
            tests.append(TestResult(
                name, part, "integrity", 1.0, 0.0,
                f"forbidden library: uses a library this part may not use ({'; '.join(where)}): "
                f"the {part} part earns no points",
                {"passed": False, "findings": [f.__dict__ for f in findings], "events": [e.__dict__ for e in imports]}))
    rest = sorted((e for e in events if e.code not in ("forbidden-import", "stand-in")), key=lambda e: not e.violation)
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
    findings = [f for f in findings if not f.notice]  # a file that could not be scanned is no finding
    violations = [e for e in events if e.violation]
    if not (findings or violations):
        return tests
    why = "forbidden library used" if findings or any(e.code == "forbidden-import" for e in violations) else \
        VIOLATIONS[violations[0].code]
    return [t if t.kind == "integrity" else
            replace(t, score=0.0, feedback=f"no points: {why} (see the integrity tests). {t.feedback}")
            for t in tests]


def speed_not_run(part: str, points: float, why: str) -> TestResult:
    """A speed test that did not run: it passes nothing, and says why."""
    return TestResult(f"{part} speed", part, "speed", points, 0.0, f"not run: {why}",
                      {"passed": False, "not_run": True})


# The kinds of test each part has; a kind listed twice counts twice (the transfer part times both modes).
PART_KINDS = {"transfer": ("structure", "accuracy", "speed", "speed", "integrity"),
              # the d2l layout's (grader.checks.d2l): autograd gives the backward, so no numeric gradient
              **dict.fromkeys(("corr2d", "corr2d_channels", "pool2d"), ("forward", "backward", "integrity")),
              "conv2d_module": ("structure", "forward", "backward", "accuracy", "integrity")}
LAYER_KINDS = ("forward", "backward", "numeric-gradient", "speed", "integrity")


def part_points(part: str, cfg: config_module.Config) -> float:
    """The most ``part`` can earn under ``cfg`` (what a batch row counts for a part a layout lacks)."""
    return sum(cfg.points.get(kind, 0.0) for kind in PART_KINDS.get(part, LAYER_KINDS))


def not_graded(part: str, cfg: config_module.Config, exc: Exception) -> TestResult:
    """One failed test worth the whole part, for a part the grader itself failed to grade."""
    points = part_points(part, cfg)
    text = f"{type(exc).__name__}: {exc}"
    return TestResult(f"{part}: not graded (internal grader error)", part, "forward", points, 0.0,
                      f"the grader failed while grading this part ({text[:300]}); this is not your code's fault: "
                      "tell your instructor, who can re-run it with GRADER_DEBUG=1", {"passed": False, "error": text})
