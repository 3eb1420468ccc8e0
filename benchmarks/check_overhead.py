"""Overhead of `grader check`: the whole cold command against the time the
student's own functions take on the same inputs, side by side in one run.

For the example submission (a correct, loop-based numpy solution), each repeat runs:

- wall: the cold command `grader check examples/submission --parts conv,max_pool,avg_pool
  --seed 1` in a fresh process, as the console script runs it (`grader.cli:main`),
  twice: with the .pyc files an installed grader has, and with PYTHONDONTWRITEBYTECODE=1
  as on the project's VM (the checkout's modules compiled on every run);
- student: in this process (one BLAS thread, as in the sandbox), the submission's conv.py
  and pool.py called on exactly the grader's inputs: the grader's own LayerChecker and
  speed test drive an in-process stand-in for the sandbox session, which times each
  call of a student function alone (the numeric-gradient checks' perturbed inputs and
  the speed test's repeats included).

overhead = wall - student.  Target (issue 7): overhead < 2 s + 25% of the student
time, cold.  The default run (every part) is measured the same way, its student time
being the numpy parts' plus the transfer part's, measured as the numpy parts' is: in a
fresh process with what the sandbox preloads, each call of the student's code on the
grader's inputs timed alone (build_model, make_optimizer, and the training and prediction
of what they return; see TRANSFER_STANDIN).  The figure with only the training the
report gives (this benchmark's earlier definition) is printed beside it.

Then, where the overhead goes: the parent's imports (`python -X importtime`), a
cProfile of the parent by phase, the sandbox children's start-up (numpy preload
against torch preload), the cost of a call into a child, whether the numpy parts'
children load torch (libtorch in their /proc/PID/maps) and whether the parent imports it.

    python benchmarks/check_overhead.py [--repeats 5] [--default-repeats 3] [--startups 5]
                                        [--out benchmarks/results/check_overhead.json]
"""

from __future__ import annotations

import argparse
import copy
import importlib
import json
import os
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, cold, fail, grader_env, machine, median, out_file, print_verdicts, target, write_json

SUBMISSION = "examples/submission"
PARTS = "conv,max_pool,avg_pool"
SEED = 1
BASE, SHARE = 2.0, 0.25  # allowed overhead: BASE seconds + SHARE of the student time
THREADS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
PROFILE = """import cProfile, sys
stats = sys.argv.pop(1)
profile = cProfile.Profile()
profile.enable()
try:
    from grader.cli import main
    code = main()
finally:
    profile.disable()
    profile.dump_stats(stats)
sys.exit(code)
"""
# (label, file, function) of the parent's phases in the cProfile
PHASES = (
    ("grading (grade_submission)", "grader/grading.py", "grade_submission"),
    # the children start in background threads (grading.Prestarted), outside this profile: what the
    # main thread spends is its wait for them
    ("waiting for the children to start (Prestarted.take + settle)", "grader/sessions.py", "take|settle"),
    ("sandbox children ended (Session.close)", "grader/sandbox/session.py", "close"),
    ("calls of student functions (Session.call)", "grader/sandbox/session.py", "call"),
    ("calls of the references in their child (Session.call_trusted)", "grader/sandbox/session.py", "call_trusted"),
    ("speed tests (run_speed)", "grader/checks/speed.py", "run_speed"),
    ("correctness tests (LayerChecker.run)", "grader/checks/layers.py", "run"),
    ("references in the parent (Truth.forward + backward)", "grader/checks/layers.py", "forward|backward"),
    ("protections probe (sandbox.probe)", "grader/sandbox/probe.py", "probe"),
    ("integrity scan", "grader/checks/integrity.py", "scan"),
    ("report written (report.write)", "grader/report/output.py", "write"),
    ("waiting on children (selectors select)", "selectors.py", "select"),
)


# ---------------------------------------------------------------- the student's time


class InProcess:
    """Stands in for a sandbox Session in this process: imports the submission's
    modules and times each call of a student function alone (``student_s``).  The
    references of the speed test (``call_trusted``) run here too, untimed."""

    def __init__(self, folder: Path):
        from grader.sandbox import CallResult  # imported late: numpy's threads are set first

        self.make_result = CallResult
        self.alive, self.events = True, []
        self.student_s, self.calls = 0.0, 0
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))

    def call(self, module, function, args=(), kwargs=None, *, repeat=1, timeout_s=None):
        fn = getattr(importlib.import_module(module), function)
        durations, value = [], None
        for _ in range(repeat):
            fresh = copy.deepcopy((tuple(args), dict(kwargs or {})))  # the sandbox sends fresh copies too
            start = time.perf_counter()
            value = fn(*fresh[0], **fresh[1])
            durations.append(time.perf_counter() - start)
        self.student_s += sum(durations)
        self.calls += repeat
        return self.make_result(ok=True, value=value, durations=tuple(durations), wall_s=sum(durations))

    def call_trusted(self, path, function, args=(), kwargs=None, *, repeat=1, timeout_s=None):
        fn = getattr(importlib.import_module(f"grader.reference.{Path(path).stem}"), function)
        start = time.perf_counter()
        for _ in range(repeat):
            value = fn(*copy.deepcopy(tuple(args)), **(kwargs or {}))
        return self.make_result(ok=True, value=value, wall_s=time.perf_counter() - start)

    def restart(self) -> None:
        pass


def student_time(folder: Path) -> tuple[float, int, dict[str, float]]:
    """(seconds in the student's functions, their calls, seconds per part) for the numpy
    parts' tests on exactly the grader's inputs (same seed, cases, perturbations, repeats)."""
    from grader import config
    from grader.checks.layers import LayerChecker, Truth
    from grader.checks.speed import run_speed
    from grader.layouts import detect

    cfg = config.load()
    layout, truth = detect(folder), Truth("cpu")
    session, references = InProcess(folder), InProcess(folder)
    per_part = {}
    for part in PARTS.split(","):
        spec = layout.spec(part)
        before = session.student_s
        tests = LayerChecker(part, spec, session, SEED, truth, cfg.tolerance).run()
        tests.append(run_speed(part, spec, session, references, SEED, cfg.speed_repeats,
                               cfg.points.get("speed", 0.0), cfg.speed_bands))
        failed = [t.name for t in tests if not t.passed]
        if failed:
            fail(f"the in-process replay does not pass as the grader does ({failed[0]}): "
                 "its student time would not be comparable")
        per_part[part] = session.student_s - before
    return session.student_s, session.calls, per_part


# The transfer part's student time, measured as the numpy parts' is: in a fresh process with what the
# sandbox preloads (numpy, torch, torch.optim; one thread), the grader's harness drives the student's
# build_model and make_optimizer on the grader's inputs (same seed, task and budget), and each call of
# the student's code is timed alone: the two functions, and the training and prediction of the model
# and optimizer they return. What those calls import on first use (torch.optim's first optimizer
# imports torch._dynamo: 1.4-1.7 s) is the student's code's time, as a lazy import inside a numpy
# part's function would be.
TRANSFER_STANDIN = r"""
import importlib.util, json, sys, time
import numpy, torch, torch.optim
torch.set_num_threads(1)
from grader.checks.transfer import MODES, Task, training_seed
from grader.transfer import harness
folder, seed = sys.argv[1], int(sys.argv[2])
spec = importlib.util.spec_from_file_location("transfer", f"{folder}/transfer.py")
student = importlib.util.module_from_spec(spec)
spec.loader.exec_module(student)
task, train_seed = Task.default(seed), training_seed(seed)
times = {}
for mode in MODES:
    backbone = harness.load_backbone(None, "cpu", train_seed)
    start = time.perf_counter()
    model = student.build_model(backbone, task.num_classes, mode)
    built = time.perf_counter()
    optimizer = student.make_optimizer(model, mode)
    made = time.perf_counter()
    trained = harness.fit(model, optimizer, task.train_x, task.train_y, task.epochs, task.batch_size, train_seed)
    start_predict = time.perf_counter()
    harness.outcome(model, task.test_x, task.batch_size)
    times[mode] = {"build_model_s": built - start, "make_optimizer_s": made - built, "training_s": trained,
                   "predict_s": time.perf_counter() - start_predict}
print(json.dumps(times))
"""


def transfer_student_time(folder: Path) -> dict:
    """The transfer part's student time per mode (see TRANSFER_STANDIN), from a fresh process."""
    done = subprocess.run([sys.executable, "-c", TRANSFER_STANDIN, str(folder), str(SEED)], cwd=ROOT,
                          env=grader_env(), capture_output=True, text=True)
    if done.returncode != 0:
        fail(f"the transfer stand-in failed: {done.stderr.strip()[-300:]}")
    return json.loads(done.stdout)


# ---------------------------------------------------------------- cold runs


def cold_check(parts: str | None, bytecode: bool, report: Path) -> float:
    args = ["check", SUBMISSION, "--seed", str(SEED), "--format", "json", "--out", str(report)]
    if parts:
        args += ["--parts", parts]
    return cold(args, env=grader_env(bytecode))[0]


def training_seconds(report: Path) -> float:
    """The student's two transfer pipelines' training time, from the report's speed tests."""
    tests = json.loads(report.read_text())["tests"]
    return sum(t["details"]["speed"]["student_s"] for t in tests
               if t["part"] == "transfer" and t["kind"] == "speed" and "speed" in t["details"])


def verdict(name: str, wall: float, student: float) -> dict:
    overhead, allowed = wall - student, BASE + SHARE * student
    return target(name, f"overhead {overhead:.2f} s (wall {wall:.2f} s - student {student:.3f} s)",
                  f"< {BASE:g} s + {SHARE:.0%} of student = {allowed:.2f} s", overhead < allowed,
                  wall_s=wall, student_s=student, overhead_s=overhead, allowed_s=allowed)


# ---------------------------------------------------------------- where the overhead goes


def parent_imports() -> dict:
    """`python -X importtime` of the cold command: the parent's import time, by top-level package."""
    with tempfile.TemporaryDirectory() as tmp:
        _, stderr = cold(["check", SUBMISSION, "--parts", PARTS, "--seed", str(SEED), "--format", "json",
                          "--out", str(Path(tmp) / "r.json")], python_flags=("-X", "importtime"))
    total, packages = 0, {}
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        own, cumulative, name = line[len("import time:"):].split("|")
        if not own.strip().isdigit():
            continue  # the header line
        top = name.strip().split(".")[0]
        packages[top] = packages.get(top, 0) + int(own)  # each module's own time, summed by package
        if not name.startswith("  "):  # a top-level import: its cumulative time counts once
            total += int(cumulative)
    python_start = median([_timed([sys.executable, "-c", "pass"]) for _ in range(3)])
    return {"total_s": total / 1e6, "python_start_s": python_start,
            "by_package_s": {k: v / 1e6 for k, v in sorted(packages.items(), key=lambda kv: -kv[1])[:8]},
            "torch": "torch" in packages, "jinja2": "jinja2" in packages}


def _timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, env=grader_env())
    return time.perf_counter() - start


def parent_profile() -> dict:
    """cProfile of the cold command's parent, by phase (cumulative seconds, profiled)."""
    with tempfile.TemporaryDirectory() as tmp:
        stats_file = Path(tmp) / "parent.prof"
        command = [sys.executable, "-c", PROFILE, str(stats_file), "check", SUBMISSION, "--parts", PARTS,
                   "--seed", str(SEED), "--format", "json", "--out", str(Path(tmp) / "r.json")]
        start = time.perf_counter()
        subprocess.run(command, cwd=ROOT, env=grader_env(), check=True, capture_output=True)
        wall = time.perf_counter() - start
        stats = pstats.Stats(str(stats_file)).stats
    phases = {}
    for label, file, functions in PHASES:
        found = [(nc, ct) for (path, _, fn), (_, nc, _, ct, _) in stats.items()
                 if path.endswith(file) and fn in functions.split("|")]
        phases[label] = {"calls": sum(nc for nc, _ in found), "s": sum(ct for _, ct in found)} if found else None
    return {"profiled_wall_s": wall, "phases": phases}


def _process_tree(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    tree, todo = [], [pid]
    while todo:
        tree.append(todo.pop())
        todo += children.get(tree[-1], [])
    return tree


def _maps(pid: int | None) -> str:
    text = ""
    for p in _process_tree(pid) if pid else []:
        try:
            text += Path(f"/proc/{p}/maps").read_text()
        except OSError:
            pass
    return text


def in_process_grading(folder: Path) -> dict:
    """Grade the numpy parts in this (warm) process, with every sandbox session watched:
    its start-up, its calls (parent's wall clock against the child's own timing of the
    function), and which shared libraries its processes have mapped after start-up and
    after the part (libtorch: torch; _multiarray_umath: numpy, the check's control)."""
    from grader import grading, sessions
    from grader.sandbox import Session

    children, calls = [], []

    class Watched(Session):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            maps = _maps(self.pid)
            self.record = {"preload": list(self.preload), "startup_s": self.startup_s,
                           "torch_after_start": "libtorch" in maps, "numpy_after_start": "_multiarray_umath" in maps}
            children.append(self.record)

        def _timed(self, result, trusted):
            calls.append((trusted, result.wall_s, sum(result.durations)))
            return result

        def call(self, *args, **kwargs):
            return self._timed(super().call(*args, **kwargs), False)

        def call_trusted(self, *args, **kwargs):
            return self._timed(super().call_trusted(*args, **kwargs), True)

        def close(self):
            if not self.closed and self.alive:
                self.record["torch_at_end"] = "libtorch" in _maps(self.pid)
            super().close()

    original = sessions.Session
    sessions.Session = Watched
    try:
        start = time.perf_counter()
        report = grading.grade_submission(folder, parts=PARTS, seed=SEED, device="cpu")
        wall = time.perf_counter() - start
    finally:
        sessions.Session = original
    if report.percent < 100:
        fail(f"the example submission scored {report.percent:.1f}% in-process: not a correct submission")
    student = [c for c in calls if not c[0]]
    return {"warm_grading_s": wall, "tests": len(report.tests), "children": children,
            "calls": len(calls), "student_calls": len(student),
            "call_overhead_ms": 1e3 * median([w - d for _, w, d in calls]),
            "parent_imports_torch": "torch" in sys.modules}


def startups(count: int) -> dict:
    """Start-up of a child with numpy preloaded and of one with torch too (the transfer
    part's), median seconds: started as the references' children are (the sandbox's
    default protections, no guard rules), in an empty folder."""
    from grader.sandbox import Limits, Session

    out = {}
    with tempfile.TemporaryDirectory() as empty:
        for name, limits, preload in (("numpy", Limits(), ("numpy",)),
                                      ("torch", Limits(memory_mb=4096), ("numpy", "torch"))):
            times = []
            for _ in range(count):
                start = time.perf_counter()
                with Session(empty, limits, preload=preload):
                    times.append(time.perf_counter() - start)
            out[name] = median(times)
    return out


# ---------------------------------------------------------------- report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="cold runs of the numpy parts (and student replays)")
    parser.add_argument("--default-repeats", type=int, default=3, help="cold runs of the default run (0: skip it)")
    parser.add_argument("--startups", type=int, default=5, help="sandbox children started for the start-up figure")
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    args = parser.parse_args()
    if args.repeats < 1 or args.default_repeats < 0 or args.startups < 1:
        fail("--repeats and --startups must be at least 1, --default-repeats at least 0")
    out = out_file(args.out)
    for name in THREADS:  # the sandbox runs student code with one BLAS thread: so does the replay
        os.environ[name] = "1"
    folder = ROOT / SUBMISSION

    walls = {True: [], False: []}
    students, defaults = [], []
    student_calls, per_part = 0, {}
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        cold_check(PARTS, True, report)  # warm-up: fills the .pyc cache, as pip install does
        for _ in range(args.repeats):  # interleaved, so that load on the machine hits all alike
            for bytecode in (True, False):
                walls[bytecode].append(cold_check(PARTS, bytecode, report))
            seconds, student_calls, parts = student_time(folder)
            students.append(seconds)
            for part, s in parts.items():
                per_part.setdefault(part, []).append(s)
        transfer_runs = []
        if args.default_repeats:
            transfer_student_time(folder)  # warm-up, discarded: the first import of torch._dynamo reads cold files
        for _ in range(args.default_repeats):  # interleaved with the stand-in of the student's own time
            wall = cold_check(None, True, report)
            defaults.append((wall, training_seconds(report)))
            transfer_runs.append(transfer_student_time(folder))

    student = median(students)
    rows = [("numpy parts, cold, .pyc cached (installed grader)", median(walls[True]), student),
            ("numpy parts, cold, no .pyc (PYTHONDONTWRITEBYTECODE=1, this VM)", median(walls[False]), student)]
    transfer_student = None
    if defaults:
        transfer_student = median([sum(sum(m.values()) for m in run.values()) for run in transfer_runs])
        rows.append(("default run (+ transfer), cold, .pyc cached", median([w for w, _ in defaults]),
                     student + transfer_student))
    targets = [verdict(f"check overhead: {name}", wall, s) for name, wall, s in rows]

    print(f"`grader check {SUBMISSION}`, seed {SEED}; median of {args.repeats} cold runs "
          f"(default run: {args.default_repeats}) on a shared machine\n")
    print("| run | wall s | student s | overhead s | allowed s | result |")
    print("|---|---:|---:|---:|---:|---|")
    for t in targets:
        print(f"| {t['target'][len('check overhead: '):]} | {t['wall_s']:.2f} | {t['student_s']:.3f} | "
              f"{t['overhead_s']:.2f} | {t['allowed_s']:.2f} | {t['result']} |")
    print(f"\nstudent time of the numpy parts: {student * 1e3:.1f} ms in {student_calls} calls ("
          + ", ".join(f"{p} {median(v) * 1e3:.1f} ms" for p, v in per_part.items()) + ")")
    if defaults:
        last = transfer_runs[-1]
        print(f"student time of the transfer part: {transfer_student:.2f} s (median of {len(transfer_runs)}; "
              "the last one: " + "; ".join(f"{mode}: " + ", ".join(f"{k[:-2]} {v:.2f} s" for k, v in m.items())
                                          for mode, m in last.items()) + ")")
        training = median([t for _, t in defaults])
        wall = median([w for w, _ in defaults])
        print(f"(counting only the training the report gives as the student's transfer time, as this benchmark "
              f"did before: overhead {wall - student - training:.2f} s against "
              f"{BASE + SHARE * (student + training):.2f} s allowed)")

    imports = parent_imports()
    profile = parent_profile()
    inside = in_process_grading(folder)
    started = startups(args.startups)
    numpy_children = [c for c in inside["children"] if "torch" not in c["preload"]]
    print("\nWhere the overhead of the numpy parts goes:\n")
    print(f"- interpreter start-up and exit (python -c pass): {imports['python_start_s'] * 1e3:.0f} ms")
    print(f"- parent imports (-X importtime): {imports['total_s'] * 1e3:.0f} ms: "
          + ", ".join(f"{k} {v * 1e3:.0f} ms" for k, v in imports["by_package_s"].items())
          + f"; torch imported: {'yes' if imports['torch'] else 'no'}, jinja2: {'yes' if imports['jinja2'] else 'no'}")
    startup_sum = sum(c["startup_s"] for c in inside["children"])
    print(f"- grading in a warm process (no imports): {inside['warm_grading_s']:.2f} s for {inside['tests']} tests; "
          f"{len(inside['children'])} sandbox children started two at a time in the background "
          f"({startup_sum:.2f} s of start-up in all, overlapped with each other and the tests)")
    print(f"- per test, all in: {inside['warm_grading_s'] / inside['tests'] * 1e3:.1f} ms "
          f"(the student's functions: {student / inside['tests'] * 1e3:.1f} ms of it)")
    print(f"- child start-up, median of {args.startups}: numpy preloaded {started['numpy'] * 1e3:.0f} ms, "
          f"torch preloaded {started['torch'] * 1e3:.0f} ms")
    print(f"- {inside['calls']} calls into children ({inside['student_calls']} of student functions): "
          f"{inside['call_overhead_ms']:.2f} ms each (median) besides the function itself")
    if numpy_children:
        print(f"- numpy parts' children with torch loaded: "
              f"{sum(c['torch_after_start'] or c.get('torch_at_end', False) for c in numpy_children)} of "
              f"{len(numpy_children)} (numpy loaded: {sum(c['numpy_after_start'] for c in numpy_children)}); "
              f"parent imported torch: {'yes' if inside['parent_imports_torch'] or imports['torch'] else 'no'}")
    else:
        print("- numpy parts' children: not watched (grading no longer starts them through sessions.Session)")
    print(f"\ncProfile of the cold parent ({profile['profiled_wall_s']:.2f} s wall under the profiler):\n")
    print("| phase | calls | seconds (profiled) |\n|---|---:|---:|")
    for label, phase in profile["phases"].items():
        print(f"| {label} | {phase['calls']} | {phase['s']:.3f} |" if phase else f"| {label} | - | - |")
    print()
    print_verdicts(targets)
    write_json(out, {"benchmark": "check_overhead", "machine": machine(), "seed": SEED, "parts": PARTS,
                     "repeats": args.repeats, "default_repeats": args.default_repeats,
                     "walls_s": {"pyc": walls[True], "no_pyc": walls[False]}, "student_s": students,
                     "student_calls": student_calls, "student_per_part_s": {p: median(v) for p, v in per_part.items()},
                     "default_runs": [{"wall_s": w, "training_s": t} for w, t in defaults],
                     "transfer_student_runs": transfer_runs if defaults else [],
                     "transfer_student_s": transfer_student,
                     "imports": imports, "profile": profile, "in_process": inside, "startup_s": started,
                     "targets": targets})


if __name__ == "__main__":
    main()
