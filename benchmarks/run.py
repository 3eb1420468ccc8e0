"""Run every benchmark and collect its figures: one command for issue 7's targets.

    python benchmarks/run.py [--quick] [--only NAME,...] [--out benchmarks/results]

Each benchmark runs as a process of its own (a fresh interpreter: no imports or
thread settings leak from one into another), prints its tables and writes its
JSON into OUT.  Then this script writes

- OUT/summary.json: the machine (CPU, cores, RAM, GPU, Python, numpy, torch, date)
  and, per benchmark, its figures and targets;
- OUT/summary.md: one row per target: the figure, the target, PASS or MISS
  (REPORTED: a figure with no target);
- OUT/*.png: plots, when matplotlib is importable (`pip install -e '.[bench]'`).

It prints PASS/MISS per target and exits 1 when a benchmark failed to run.
--quick uses small counts: about 2.5 minutes on the project's 2-core VM, against
about 6 for the full run.  --only runs some benchmarks (the summary then holds
only those).  Figures are medians of repeats measured side by side in one run;
on a shared machine they move by up to 2x between runs, ratios much less.  The
transfer part is graded on the CPU, and on the GPU as well where an NVIDIA
driver is present and torch sees the GPU.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from _common import ROOT, fail, has_nvidia_driver, machine, median

HERE = Path(__file__).resolve().parent
# name: (target number: issue 7's targets 1-6, later ones the issue that added them; script, full-run arguments, --quick arguments)
BENCHMARKS = {
    "check_overhead": (1, "check_overhead.py", ["--repeats", "5", "--default-repeats", "3", "--startups", "5"],
                       ["--repeats", "2", "--default-repeats", "1", "--startups", "2"]),
    "numeric_gradient": (2, "numeric_gradient.py", ["--seeds", "3"], ["--seeds", "1"]),
    "reference_speed": (3, "reference_speed.py", ["--repeats", "15", "--loops-repeats", "3"],
                        ["--repeats", "5", "--no-loops"]),
    "batch_throughput": (4, "batch_throughput.py", ["--count", "10", "--repeats", "3"], ["--count", "6"]),
    "quiz_generation": (5, "quiz_generation.py", ["--repeats", "3"], ["--repeats", "1"]),
    "transfer_grading": (6, "transfer_grading.py", ["--device", "cpu", "--repeats", "3", "--warm", "3"],
                         ["--device", "cpu", "--repeats", "1", "--warm", "1"]),
    "student_mode": (11, "student_mode.py", ["--repeats", "3"], ["--repeats", "1"]),
    "declared_part": (15, "declared_part.py", ["--repeats", "5"], ["--repeats", "1"]),
    "warm_batch": (16, "warm_batch.py", ["--repeats", "2", "--transfer-count", "4"],
                   ["--small", "2", "--large", "4", "--repeats", "1", "--cold-checks", "2",
                    "--transfer-count", "0"]),
}
CUDA = ("transfer_grading_cuda", (6, "transfer_grading.py", ["--device", "cuda", "--repeats", "3", "--warm", "3"],
                                  ["--device", "cuda", "--repeats", "1", "--warm", "1"]))


def cuda_available() -> bool:
    """Whether torch sees a CUDA device (asked in a child: this process stays without torch)."""
    if not has_nvidia_driver():
        return False
    probe = "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"
    return subprocess.run([sys.executable, "-c", probe], capture_output=True).returncode == 0


def run_one(name: str, script: str, args: list[str], out: Path) -> dict:
    """Run one benchmark; its JSON, or {"error": ...} when it failed."""
    result = out / f"{name}.json"
    print(f"\n## {name}: python benchmarks/{script} {' '.join(args)}\n", flush=True)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, str(HERE / script), *args, "--out", str(result)], cwd=ROOT,
                          stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - start
    if done.stderr:
        sys.stderr.write(done.stderr)
    if done.returncode != 0 or not result.is_file():
        last = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
        return {"benchmark": name, "error": last, "seconds": seconds, "targets": []}
    data = json.loads(result.read_text())
    data["seconds"] = seconds
    return data


def describe(m: dict) -> str:
    gpu = "an NVIDIA driver" if m["nvidia_driver"] else "no GPU"
    return (f"{m['cpu']}, {m['cores']} cores ({m['arch']}), {m['ram_gib']} GiB RAM, {gpu}; Python {m['python']}, "
            f"numpy {m['numpy']}, torch {m['torch']}; {m['date']}")


def markdown(results: dict[str, dict], numbers: dict[str, int], info: dict, quick: bool) -> str:
    lines = [f"Machine: {describe(info)}. {'Quick run (--quick)' if quick else 'Full run'}: "
             "medians of repeats, on a machine shared with other jobs.", "",
             "| # | target | figure | goal | result |", "|---|---|---|---|---|"]
    for name, data in results.items():
        if "error" in data:
            lines.append(f"| {numbers[name]} | {name} | did not run: {data['error']} | | ERROR |")
        for t in data["targets"]:
            lines.append(f"| {numbers[name]} | {t['target']} | {t['figure']} | {t['goal']} | {t['result']} |")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- plots


def plot(results: dict[str, dict], out: Path) -> list[Path]:
    """A PNG per benchmark where a picture helps; [] (with a note) without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("\nno plots: matplotlib is not installed (pip install matplotlib, or pip install -e '.[bench]')")
        return []
    makers = {"check_overhead": _overhead, "batch_throughput": _throughput, "numeric_gradient": _numeric,
              "reference_speed": _reference, "transfer_grading": _transfer, "transfer_grading_cuda": _transfer}
    written = []
    for name, data in results.items():
        if name in makers and "error" not in data:
            fig, ax = plt.subplots(figsize=(8, 3.6))
            makers[name](ax, data)
            fig.tight_layout()
            path = out / f"{name}.png"
            fig.savefig(path, dpi=110)
            plt.close(fig)
            written.append(path)
    return written


def _overhead(ax, data):
    rows = data["targets"]
    labels = [t["target"].removeprefix("check overhead: ").replace(", cold", "\ncold") for t in rows]
    student = [t["student_s"] for t in rows]
    overhead = [t["overhead_s"] for t in rows]
    ax.barh(labels, student, color="#4c72b0", label="student's functions")
    ax.barh(labels, overhead, left=student, color="#dd8452", label="grader overhead")
    for i, t in enumerate(rows):
        limit = t["student_s"] + t["allowed_s"]
        ax.plot([limit, limit], [i - 0.4, i + 0.4], color="black", linewidth=2)
        ax.annotate(f" {t['wall_s']:.2f} s: {t['result']}", (max(limit, t["wall_s"]), i), va="center", fontsize=8)
    ax.plot([], [], color="black", linewidth=2, label="limit: student + 2 s + 25% of student")
    ax.set_xlim(0, 1.25 * max(max(t["wall_s"], t["student_s"] + t["allowed_s"]) for t in rows))
    ax.invert_yaxis()
    ax.set_xlabel("seconds, cold `grader check` (median)")
    ax.set_title("Check overhead: wall time = student time + overhead", fontsize=10)
    ax.tick_params(axis="y", labelsize=7)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3)


def _throughput(ax, data):
    rows = data["rows"]
    ax.bar([r["how"].replace(", ", ",\n") for r in rows], [r["per_minute"] for r in rows],
           color=["#8c8c8c", "#4c72b0", "#55a868"])
    ax.axhline(3 * rows[0]["per_minute"], color="black", linestyle="--", linewidth=1, label="target: 3x cold")
    for i, r in enumerate(rows):
        ax.annotate(f"{r['vs_cold']:.2f}x", (i, r["per_minute"]), ha="center", va="bottom", fontsize=8)
    ax.set_ylabel("submissions per minute")
    ax.set_title(f"Batch throughput, {data['count']} submissions ({data['parts']}), median of {data['repeats']}",
                 fontsize=10)
    ax.tick_params(axis="x", labelsize=7)
    ax.legend(fontsize=7)


def _numeric(ax, data):
    rows = data["rows"]
    ratios = [100 * r["dir_calls"] / r["full_calls"] for r in rows]
    colors = ["#8c8c8c" if r["bug"].endswith("-correct") else "#55a868" if r["dir_caught"] else "#c44e52"
              for r in rows]
    verb = {True: "flagged", False: "caught"}
    ax.barh([f"{r['bug']} ({verb[r['bug'].endswith('-correct')]} {r['dir_caught']}/{r['runs']}; "
             f"full: {r['full_caught']}/{r['runs']})" for r in rows], ratios, color=colors)
    ax.axvline(5, color="black", linestyle="--", linewidth=1, label="target: < 5% of full calls")
    ax.invert_yaxis()
    ax.set_xlabel("directional check's forward calls, % of full finite differences")
    ax.set_title("Numerical-gradient check: cost (green: caught, red: invisible to finite differences)",
                 fontsize=9)
    ax.tick_params(axis="y", labelsize=7)
    ax.legend(fontsize=7)


def _reference(ax, data):
    rows = data["rows"]
    ax.barh([r["layer"] for r in rows], [r["fast_vs_torch_f"] for r in rows], color="#4c72b0")
    ax.axvline(3, color="black", linestyle="--", linewidth=1, label="target: within 3x")
    ax.axvline(1, color="#8c8c8c", linewidth=1)
    ax.invert_yaxis()
    ax.set_xlabel("numpy_fast time / torch.nn.functional time (forward + backward, CPU)")
    ax.set_title("Vectorized numpy reference against torch", fontsize=10)
    ax.tick_params(axis="y", labelsize=7)
    ax.legend(fontsize=7)


def _transfer(ax, data):
    runs = [("cold process", data["cold"]), ("warm, first", [data["warm_first"]]), ("warm, further", data["warm"])]
    labels = [how for how, _ in runs]
    walls = [median([r["wall_s"] for r in rs]) for _, rs in runs]
    student = [median([r["student_training_s"] for r in rs]) for _, rs in runs]
    # the reference pipelines train once a process: not again for the further submissions
    reference = [median([r["reference_training_s"] for r in rs]) if how != "warm, further" else 0.0
                 for how, rs in runs]
    rest = [w - s - r for w, s, r in zip(walls, student, reference)]
    ax.bar(labels, student, color="#4c72b0", label="student's pipelines trained")
    ax.bar(labels, reference, bottom=student, color="#8172b3", label="reference pipelines trained")
    ax.bar(labels, rest, bottom=[s + r for s, r in zip(student, reference)], color="#dd8452",
           label="everything else (torch imports, children, data, inspection)")
    for i, w in enumerate(walls):
        ax.annotate(f"{w:.1f} s", (i, w), ha="center", va="bottom", fontsize=8)
    ax.set_ylim(0, 1.15 * max(walls))
    device = data["device"]
    ax.set_ylabel("seconds per submission")
    ax.set_title(f"Transfer part grading on {device['device']}" + (f" ({device['gpu']})" if device["gpu"] else ""),
                 fontsize=10)
    ax.legend(fontsize=7, loc="upper right")


# ---------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small counts: a few minutes in all")
    parser.add_argument("--only", default=None, help=f"comma-separated benchmarks: {', '.join(BENCHMARKS)}")
    parser.add_argument("--out", default=str(HERE / "results"), help="folder for the JSON, Markdown and PNG files")
    args = parser.parse_args()
    benchmarks = dict(BENCHMARKS)
    if cuda_available():
        benchmarks[CUDA[0]] = CUDA[1]
    if args.only:
        names = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = [n for n in names if n not in benchmarks]
        if unknown:
            fail(f"--only: unknown benchmark {unknown[0]!r}; benchmarks: {', '.join(benchmarks)}")
        benchmarks = {n: benchmarks[n] for n in names}
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        fail(f"--out {args.out} is a file: give a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail(f"--out {args.out}: cannot create it: {exc.strerror or exc}")
    if not os.access(out, os.W_OK):
        fail(f"--out {args.out} is not writable")

    info = machine()
    print(f"# Benchmarks ({'quick' if args.quick else 'full'} run)\n\n{describe(info)}")
    results = {}
    for name, (_, script, full, quick) in benchmarks.items():
        results[name] = run_one(name, script, quick if args.quick else full, out)
    numbers = {name: spec[0] for name, spec in benchmarks.items()}
    summary = {"machine": info, "quick": args.quick,
               "benchmarks": {name: {"number": numbers[name], **data} for name, data in results.items()}}
    table = markdown(results, numbers, info, args.quick)
    try:
        (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
        (out / "summary.md").write_text("# Benchmark summary\n\n" + table)
        pictures = plot(results, out)
    except OSError as exc:
        fail(f"cannot write the summary into {out}: {exc.strerror or exc}")
    print(f"\n# Summary\n\n{table}")
    for data in results.values():
        if "error" in data:
            print(f"ERROR: {data['benchmark']}: {data['error']}")
        for t in data["targets"]:
            print(f"{t['result']}: {t['target']}: {t['figure']}")
    print(f"\nwrote {out / 'summary.json'}, {out / 'summary.md'}"
          + "".join(f", {p.name}" for p in pictures))
    sys.exit(1 if any("error" in d for d in results.values()) else 0)


if __name__ == "__main__":
    main()
