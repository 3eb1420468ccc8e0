"""How fast are the reference implementations? Forward + backward, side by side.

    python benchmarks/reference_speed.py [--threads 1] [--repeats 7] [--loops-repeats 3] [--no-loops]
                                         [--out benchmarks/results/reference_speed.json]

Times numpy_loops, numpy_fast and torch_ref (device cpu) on a few layers (the
grader's speed-test shapes first), and plain torch.nn.functional with autograd
on float64 tensors as the yardstick ("torch F": no numpy conversions, no tie
handling).  Each time is the median of the repeats after one warm-up call; the
Markdown table ends with ratios.  Target (issue 7): numpy_fast within 3x of
torch F on every layer.

--threads sets the thread count of numpy's BLAS and of torch (default 1).  On
a small machine the two pools busy-wait against each other when a process
switches between numpy and torch, and timings jump by 10x from run to run;
one thread each gives numbers that repeat.  Use 0 to leave the defaults.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="BLAS and torch threads (0: library defaults)")
    parser.add_argument("--repeats", type=int, default=7, help="timed runs of numpy_fast, torch_ref, torch F")
    parser.add_argument("--loops-repeats", type=int, default=3, help="timed runs of numpy_loops (slow)")
    parser.add_argument("--no-loops", action="store_true", help="skip numpy_loops")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    return parser.parse_args(argv)


ARGS = parse_args(sys.argv[1:] if __name__ == "__main__" else [])
if ARGS.threads:
    # read by OpenBLAS, MKL and OpenMP when they load, so before numpy and torch are imported
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_var] = str(ARGS.threads)

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F_  # noqa: E402

from grader.checks.cases import SPEED_CONV, SPEED_POOL  # noqa: E402
from grader.reference import numpy_fast, numpy_loops, torch_ref  # noqa: E402

from _common import fail, machine, out_file, print_verdicts, target, write_json  # noqa: E402

LIMIT = 3.0  # target: numpy_fast at most this many times torch F's time
_pool = SPEED_POOL.params()
_conv = f"x{SPEED_CONV.x} w{SPEED_CONV.w} s{SPEED_CONV.stride} p{SPEED_CONV.pad}".replace(", ", ",")
_window = f"x{SPEED_POOL.x} {SPEED_POOL.pool_height}x{SPEED_POOL.pool_width} s{SPEED_POOL.stride}".replace(", ", ",")
# (name, part, shapes and settings): the grader's speed-test shapes, then larger layers
CASES = [
    (f"conv {_conv} (speed test)", "conv", (SPEED_CONV.x, SPEED_CONV.w, SPEED_CONV.params(True))),
    (f"max_pool {_window} (speed test)", "max_pool", (SPEED_POOL.x, _pool)),
    (f"avg_pool {_window} (speed test)", "avg_pool", (SPEED_POOL.x, _pool)),
    ("conv x(2,3,16,16) w(4,3,3,3) s1 p1", "conv", ((2, 3, 16, 16), (4, 3, 3, 3), {"stride": 1, "pad": 1})),
    ("conv x(8,16,32,32) w(16,16,3,3) s1 p1", "conv", ((8, 16, 32, 32), (16, 16, 3, 3), {"stride": 1, "pad": 1})),
    ("conv x(8,16,32,32) w(16,16,3,3) s2 p2 d2", "conv",
     ((8, 16, 32, 32), (16, 16, 3, 3), {"stride": 2, "pad": 2, "dilation": 2})),
    ("max_pool x(8,16,32,32) 2x2 s2", "max_pool", ((8, 16, 32, 32), {"pool_height": 2, "pool_width": 2, "stride": 2})),
    ("max_pool x(8,16,32,32) 3x3 s2", "max_pool", ((8, 16, 32, 32), {"pool_height": 3, "pool_width": 3, "stride": 2})),
    ("avg_pool x(8,16,32,32) 3x3 s2", "avg_pool", ((8, 16, 32, 32), {"pool_height": 3, "pool_width": 3, "stride": 2})),
]


def reference_step(module, part, arrays, params, dout):
    """One forward + backward of ``module``'s ``part``."""
    forward, backward = getattr(module, f"{part}_forward"), getattr(module, f"{part}_backward")
    _, cache = forward(*arrays, params)
    return backward(dout, cache)


def torch_f_step(part, tensors, params, dout):
    """One forward + backward in plain torch (float64, autograd), tensors already made."""
    leaves = [t.detach().requires_grad_(True) for t in tensors]
    if part == "conv":
        out = F_.conv2d(*leaves, stride=params["stride"], padding=params["pad"], dilation=params.get("dilation", 1))
    else:
        pool = F_.max_pool2d if part == "max_pool" else F_.avg_pool2d
        out = pool(leaves[0], (params["pool_height"], params["pool_width"]), stride=params["stride"])
    return torch.autograd.grad(out, leaves, dout)


def median_time(step, repeats):
    step()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(part, spec, repeats, loops_repeats, rng):
    if part == "conv":
        x_shape, w_shape, params = spec
        arrays = [rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])]
    else:
        x_shape, params = spec
        arrays = [rng.standard_normal(x_shape)]
    out, _ = getattr(numpy_fast, f"{part}_forward")(*arrays, params)
    dout = rng.standard_normal(out.shape)
    tensors = [torch.tensor(a) for a in arrays]
    dout_t = torch.tensor(dout)
    times = {
        "numpy_fast": median_time(lambda: reference_step(numpy_fast, part, arrays, params, dout), repeats),
        "torch_ref": median_time(lambda: reference_step(torch_ref, part, arrays, params, dout), repeats),
        "torch F": median_time(lambda: torch_f_step(part, tensors, params, dout_t), repeats),
    }
    if loops_repeats:
        times["numpy_loops"] = median_time(lambda: reference_step(numpy_loops, part, arrays, params, dout),
                                           loops_repeats)
    return times


def ms(seconds):
    return "-" if seconds is None else f"{seconds * 1e3:.2f}"


def ratio(a, b):
    return "-" if a is None or b is None else f"{a / b:.2f}x"


def table(rows):
    lines = [
        "| layer (forward + backward, float64) | numpy_loops ms | numpy_fast ms | torch_ref ms | torch F ms "
        "| fast / torch F | fast / torch_ref | loops / fast |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, t in rows:
        loops = t.get("numpy_loops")
        lines.append(
            f"| {name} | {ms(loops)} | {ms(t['numpy_fast'])} | {ms(t['torch_ref'])} | {ms(t['torch F'])} "
            f"| {ratio(t['numpy_fast'], t['torch F'])} | {ratio(t['numpy_fast'], t['torch_ref'])} "
            f"| {ratio(loops, t['numpy_fast'])} |"
        )
    return "\n".join(lines)


def main(args=ARGS):
    if args.repeats < 1 or args.loops_repeats < 1:
        fail("--repeats and --loops-repeats must be at least 1")
    out = out_file(args.out)
    if args.threads:
        torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    loops_repeats = 0 if args.no_loops else args.loops_repeats
    rows = [(name, measure(part, spec, args.repeats, loops_repeats, rng)) for name, part, spec in CASES]
    print(f"numpy {np.__version__}, torch {torch.__version__} ({torch.get_num_threads()} torch threads, "
          f"{os.environ.get('OPENBLAS_NUM_THREADS', 'default')} BLAS threads), {platform.machine()}, "
          f"{os.cpu_count()} CPUs, median of {args.repeats} (loops: {loops_repeats})\n")
    print(table(rows))
    ratios = {name: t["numpy_fast"] / t["torch F"] for name, t in rows}
    worst = max(ratios, key=ratios.get)
    targets = [target("numpy_fast reference vs torch.nn.functional (CPU, forward + backward)",
                      f"{min(ratios.values()):.2f}x-{ratios[worst]:.2f}x torch F's time (worst: {worst})",
                      f"within {LIMIT:g}x on every layer", ratios[worst] <= LIMIT, worst_ratio=ratios[worst])]
    print()
    print_verdicts(targets)
    write_json(out, {"benchmark": "reference_speed", "machine": machine(), "threads": args.threads,
                     "repeats": args.repeats, "loops_repeats": loops_repeats,
                     "rows": [{"layer": name, **{f"{k}_s": v for k, v in t.items()},
                               "fast_vs_torch_f": ratios[name]} for name, t in rows],
                     "targets": targets})


if __name__ == "__main__":
    main()
