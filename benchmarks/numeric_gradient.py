"""Numerical-gradient checking: directional checks against full finite differences.

For every planted backward bug of the catalogue (grader.reference.wrong: a
correct forward with one wrong gradient), and for the correct backward, on
the grader's own numeric-gradient cases, both checks run:

- full: a central difference for every element of x, w and b (2 forward calls each);
- directional: the grader's check (grader.checks.numeric.directional), 2 random
  directions per input (2 forward calls each).

It prints a Markdown table (forward calls, caught or not) and writes JSON.
Target (issue 7): every planted bug caught at under 5% of the full check's calls.

    python benchmarks/numeric_gradient.py [--seeds 3] [--out benchmarks/results/numeric_gradient.json]
"""

from __future__ import annotations

import argparse

import numpy as np

from grader.checks.cases import CONV_CASES, POOL_CASES, conv_inputs, pool_inputs, upstream
from grader.checks.numeric import directional
from grader.reference import numpy_fast, wrong
from grader.seeding import rng

from _common import machine, out_file, print_verdicts, target, write_json

TOL = 1e-5  # the default [tolerance] numeric-gradient
H = 1e-5


def full_check(f, point: np.ndarray, grad: np.ndarray) -> tuple[bool, int]:
    """Central differences for every element: (caught, forward calls)."""
    calls, worst = 0, 0.0
    flat = point.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + H
        plus = f(point)
        flat[i] = old - H
        minus = f(point)
        flat[i] = old
        calls += 2
        numeric = (plus - minus) / (2 * H)
        analytic = grad.reshape(-1)[i]
        worst = max(worst, abs(numeric - analytic) / max(abs(numeric) + abs(analytic), 1e-12))
    return bool(worst > TOL), calls


def run_case(part: str, case, backward, seed: int) -> dict:
    if part == "conv":
        args = list(conv_inputs(case, seed, part, True).args)
        names = ("x", "w", "b")
    else:
        args = list(pool_inputs(case, seed, part).args)
        names = ("x",)
    forward = getattr(numpy_fast, f"{part}_forward")
    out, cache = forward(*args)
    dout = upstream(out.shape, seed, part, case.name)
    grads = backward(dout, cache)
    grads = tuple(grads) if part == "conv" else (grads,)
    full_calls = dir_calls = 0
    full_caught = dir_caught = False
    g = rng(seed, part, case.name, "directions")
    for i, name in enumerate(names):
        def layer(point, i=i):
            trial = list(args)
            trial[i] = point
            return forward(*trial)[0]

        def f(point):
            return float(np.sum(layer(point) * dout))

        if np.shape(grads[i]) != np.shape(args[i]):  # the grader fails a misshapen gradient before any call
            full_caught = dir_caught = True
            continue
        caught, calls = full_check(f, np.array(args[i], dtype=np.float64), np.asarray(grads[i]))
        full_calls += calls
        full_caught |= caught
        checks = directional(layer, np.asarray(args[i], dtype=np.float64), np.asarray(grads[i]), g, name, dout)
        dir_calls += 2 * len(checks)
        dir_caught |= bool(any(c.error > TOL for c in checks))
    return {"full_calls": full_calls, "full_caught": full_caught, "dir_calls": dir_calls, "dir_caught": dir_caught}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per bug")
    args = parser.parse_args()
    out = out_file(args.out)
    rows = []
    subjects = [(v.part, v.key, v.fn) for v in wrong.variants(kind="backward")]
    subjects += [(p, f"{p}-correct", getattr(numpy_fast, f"{p}_backward")) for p in ("conv", "max_pool", "avg_pool")]
    for part, key, fn in subjects:
        cases = [c for c in (CONV_CASES if part == "conv" else POOL_CASES) if "numeric-gradient" in c.kinds]
        totals = {"full_calls": 0, "dir_calls": 0, "full_caught": 0, "dir_caught": 0, "runs": 0}
        for seed in range(args.seeds):
            for case in cases:
                r = run_case(part, case, fn, seed)
                totals["runs"] += 1
                for k in ("full_calls", "dir_calls"):
                    totals[k] += r[k]
                totals["full_caught"] += int(r["full_caught"])
                totals["dir_caught"] += int(r["dir_caught"])
        rows.append({"bug": key, "part": part, **totals})
    print("| bug | full: forward calls | full: caught | directional: forward calls | directional: caught | calls ratio |")
    print("|---|---:|---:|---:|---:|---:|")
    ok, undetectable, caught, ratios = True, [], [], []
    for r in rows:
        ratio = r["dir_calls"] / r["full_calls"]
        print(f"| {r['bug']} | {r['full_calls']} | {r['full_caught']}/{r['runs']} | {r['dir_calls']} | "
              f"{r['dir_caught']}/{r['runs']} | {ratio:.2%} |")
        if r["bug"].endswith("-correct"):
            ok &= r["dir_caught"] == 0 and r["full_caught"] == 0
        elif r["full_caught"] == 0:
            undetectable.append(r["bug"])
        else:
            ok &= r["dir_caught"] >= r["full_caught"] and ratio < 0.05
            caught.append(r["dir_caught"] >= r["full_caught"])
            ratios.append(ratio)
    print()
    if undetectable:
        print(f"not visible to any finite-difference check (ties, where max is not differentiable; the backward "
              f"test against the reference catches them): {', '.join(undetectable)}")
    targets = [target("numeric gradient: planted backward bugs caught cheaply (and no correct one flagged)",
                      f"{sum(caught)}/{len(caught)} visible bugs caught as often as by full differences, "
                      f"at {min(ratios):.2%}-{max(ratios):.2%} of its forward calls; correct backwards flagged: "
                      f"{sum(r['dir_caught'] for r in rows if r['bug'].endswith('-correct'))}"
                      + (f"; invisible to any finite difference: {', '.join(undetectable)} (the backward test "
                         "catches it)" if undetectable else ""),
                      "every bug caught at < 5% of full finite-difference forward calls", ok,
                      worst_ratio=max(ratios), undetectable=undetectable)]
    print_verdicts(targets)
    write_json(out, {"benchmark": "numeric_gradient", "machine": machine(), "seeds": args.seeds, "rows": rows,
                     "pass": ok, "targets": targets})


if __name__ == "__main__":
    main()
