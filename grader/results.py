"""Results are plain data: a report of test results.

Checks produce :class:`TestResult` objects; reporters (text, JSON,
Gradescope, JUnit, HTML) read a :class:`Report` and nothing else.  Scores are
computed properties, never stored twice; no formatting lives here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PARTS = ("conv", "max_pool", "avg_pool", "transfer")  # the built-in parts; an assignment may declare more
NOT_RUN_PREFIXES = ("not run:", "not timed:")
KINDS = ("forward", "backward", "numeric-gradient", "speed", "structure", "accuracy", "integrity")


@dataclass(frozen=True)
class TestResult:
    """One graded test.

    ``details`` holds plain data for reporters: relative errors, the
    diagnosed mistake (``diagnosis``), a difference map (``heatmap``: a 2-D
    list of |student - reference| values), speed ratios (``speed``).
    """

    __test__ = False  # not a pytest test class

    name: str
    part: str
    kind: str
    max_score: float
    score: float
    feedback: str
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not (isinstance(self.part, str) and self.part.isidentifier()):  # a built-in part or a declared one
            raise ValueError(f"a part's name is an identifier, got {self.part!r}")
        if self.kind not in KINDS:
            raise ValueError(f"unknown kind {self.kind!r}")
        if not 0 <= self.score <= self.max_score + 1e-12:
            raise ValueError(f"score {self.score} outside 0..{self.max_score}")

    @property
    def ran(self) -> bool:
        """False for a test that did not run (``details["not_run"]``, or feedback that says
        "not run:" / "not timed:"): it never counts as passed, in any format."""
        return not (self.details.get("not_run") or self.feedback.startswith(NOT_RUN_PREFIXES))

    @property
    def passed(self) -> bool:
        return self.ran and bool(self.details.get("passed", self.score >= self.max_score - 1e-9))

    @property
    def status(self) -> str:
        """"passed", "failed" or "not run"."""
        return "not run" if not self.ran else "passed" if self.passed else "failed"

    @property
    def tags(self) -> list[str]:
        return [self.part, self.kind]


@dataclass
class Report:
    """Everything a run of ``grader check`` found."""

    submission: str
    seed: int
    tests: list[TestResult] = field(default_factory=list)
    layout: str = ""
    device: str = "cpu"
    execution_time: float = 0.0
    notes: list[str] = field(default_factory=list)
    protections: dict[str, Any] = field(default_factory=dict)

    @property
    def score(self) -> float:
        return round(sum(t.score for t in self.tests), 6)

    @property
    def max_score(self) -> float:
        return round(sum(t.max_score for t in self.tests), 6)

    @property
    def percent(self) -> float:
        """The score as a percentage of the maximum (100 when nothing is graded for points)."""
        return 100.0 if self.max_score == 0 else 100.0 * self.score / self.max_score

    def counts(self) -> dict[str, int]:
        """How many tests passed, failed and did not run."""
        statuses = [t.status for t in self.tests]
        return {"passed": statuses.count("passed"), "failed": statuses.count("failed"),
                "not run": statuses.count("not run")}

    def parts(self) -> list[str]:
        seen = list(dict.fromkeys(t.part for t in self.tests))
        return [p for p in PARTS if p in seen] + [p for p in seen if p not in PARTS]

    def part_score(self, part: str) -> tuple[float, float]:
        tests = [t for t in self.tests if t.part == part]
        return round(sum(t.score for t in tests), 6), round(sum(t.max_score for t in tests), 6)
