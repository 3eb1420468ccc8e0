"""Reports built by hand from TestResult objects, for the reporters' tests."""

from __future__ import annotations

import numpy as np

from grader.results import Report, TestResult

XSS = "<script>alert(1)</script>"


def heatmap_details(rows: int = 6, cols: int = 5) -> dict:
    cells = [[round((r * cols + c) / (rows * cols - 1), 3) for c in range(cols)] for r in range(rows)]
    return {"where": [0, 2], "max": 0.4182, "cells": cells}


def sample_tests() -> list[TestResult]:
    return [
        TestResult("conv forward: basic", "conv", "forward", 1.0, 1.0, "correct (relative error 2.1e-09)",
                   {"passed": True, "rel_error": np.float64(2.1e-9)}),
        TestResult("conv forward: stride 2, pad 1", "conv", "forward", 1.0, 0.0,
                   "wrong values: relative error 0.41 (at most 1e-07 passes). Looks like the padding is applied "
                   "on one side only: pad both the top and the bottom, the left and the right of x.",
                   {"passed": False, "rel_error": 0.41, "diagnosis": "one-side-padding",
                    "heatmap": heatmap_details()}),
        TestResult("conv backward: basic", "conv", "backward", 1.0, 2 / 3,
                   f"dx correct, dw correct, db wrong: it sums over the wrong axes {XSS}\nline two of the feedback",
                   {"passed": False, "shape": (3, 4), "array": np.arange(4.0), "bad": object(), "nan": float("nan")}),
        TestResult("conv numeric gradient: dilation 2", "conv", "numeric-gradient", 1.0, 1.0,
                   "analytic and numeric gradients agree (relative error 3e-10)", {"passed": True}),
        TestResult("conv speed", "conv", "speed", 1.0, 0.5,
                   "1.3x slower than the vectorized reference, 45.2x faster than the loop reference "
                   "(forward + backward on x (8, 3, 32, 32), median of 5)",
                   {"passed": True, "speed": {"student_s": np.float64(0.0123), "vectorized_s": 0.0095,
                                              "vs_vectorized": 1.294, "loops_s": 0.556, "vs_loops": 0.0221}}),
        TestResult("max_pool forward: basic", "max_pool", "forward", 1.0, 1.0, "correct", {"passed": True}),
        TestResult("max_pool backward: overlapping windows", "max_pool", "backward", 1.0, 0.0,
                   "dx wrong: overlapping windows overwrite instead of adding up",
                   {"passed": False, "heatmap": heatmap_details(4, 4)}),
        TestResult("max_pool speed", "max_pool", "speed", 0.0, 0.0,
                   "2.0x slower than the vectorized reference (forward + backward, median of 5)",
                   {"passed": True, "speed": {"vs_vectorized": 2.0}}),
        TestResult("avg_pool integrity", "avg_pool", "integrity", 1.0, 1.0, "no forbidden imports", {}),
        TestResult("avg_pool forward: basic", "avg_pool", "forward", 2.0, 0.0,
                   "the output is None: did you forget to return it?", {"passed": False}),
    ]


def sample_report(**changes) -> Report:
    fields = dict(
        submission="examples/buggy_submission", seed=1234, tests=sample_tests(), layout="native", device="cpu",
        execution_time=12.3456, notes=["the avg_pool part printed 3 lines to stdout: ignored", f"note {XSS}"],
        protections={"platform": "linux", "root": False, "rlimits": {"RLIMIT_AS": True, "RLIMIT_CPU": True},
                     "applied": ["memory limit", "CPU time limit"], "not_yet": [], "notes": []},
    )
    fields.update(changes)
    return Report(**fields)
