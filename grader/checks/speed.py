"""The speed test: the student's forward + backward against the references,
interleaved, median of repeats.

The student's functions run in the part's own child (after its correctness
tests); the references run in a child with no student code in it, so a
submission can neither call the references to look fast nor slow them down.
Calls alternate between the two, so load on the machine hits both alike.
Each time is the parent's wall clock around the call: the same small
transfer overhead for both, and unlike the child's own timing it cannot be
forged by student code.

Every repeat times fresh inputs, drawn here for that repeat and never sent
before, and what the student's code returns on them must match the
references' results: a forward that hands back outputs it remembered (by a
hash of its inputs, or by their shape) gains nothing, and neither does one
that returns anything fast on inputs the size of this test's.
"""

from __future__ import annotations

import statistics

import numpy as np

from grader.layouts import PartSpec
from grader.parts import LayerPart, Reference
from grader.results import TestResult
from grader.sandbox import Session

from .cases import Inputs, upstream
from .compare import check_array, rel_error

AGREE = 1e-6  # relative error the timed results may have from the references' (the default tolerance)
_LOOPS: dict[tuple, float] = {}  # (part, seed, dilation) -> seconds of the loop reference, this process
# (part, seed, dilation, repeat) -> (seconds, results) of the vectorized reference, when a batch worker
# shares them between its submissions (``share_reference_timings``); None: timed beside each student
_FAST: dict[tuple, tuple[float, tuple]] | None = None


def share_reference_timings() -> None:
    """One timing of the references per process (a batch worker): every submission graded with a
    seed meets the same timing inputs, so the references' times and results on them are measured
    once, beside the first submission timed, and reused.  A single ``grader check`` times them beside
    the student's every time (interleaved: load on the machine hits both alike); a worker's load is
    steady while the batch runs, every worker grading."""
    global _FAST
    if _FAST is None:
        _FAST = {}


def _pair(session: Session, layer: LayerPart, spec: PartSpec | None, args: tuple, dout: np.ndarray,
          reference: Reference | None, repeat: int) -> tuple[float, tuple] | str:
    """(seconds of forward + backward (best of ``repeat``), their results (out, *grads)), or an error message.
    ``spec``: the student's functions; None: ``reference``'s, in a child of its own."""
    if spec is None:
        forward = session.call_trusted(reference.path, reference.forward, args, repeat=repeat)
    else:
        forward = session.call(spec.module, spec.forward, args, repeat=repeat)
    if not forward.ok or not isinstance(forward.value, (tuple, list)) or len(forward.value) != 2:
        return forward.error or "the forward did not return (out, cache)"
    cache = forward.value[1]
    if spec is None:
        backward = session.call_trusted(reference.path, reference.backward, (dout, cache), repeat=repeat)
    else:
        backward = session.call(spec.module, spec.backward, (dout, cache), repeat=repeat)
    if not backward.ok:
        return backward.error or "the backward failed"
    several = len(layer.gradients) > 1 and isinstance(backward.value, (tuple, list))
    grads = tuple(backward.value) if several else (backward.value,)
    # The parent's wall clock around each call, for the student and the references alike: the
    # child's own timings could be forged by student code (the channel is theirs to write).
    return forward.wall_s + backward.wall_s, (forward.value[0], *grads)


def speed_inputs(layer: LayerPart | str, spec: PartSpec, seed: int, repeat: int) -> tuple[Inputs, np.ndarray]:
    """The inputs and upstream gradient of one repeat: drawn from (seed, repeat), so a
    submission meets each only once, and the same for every submission graded with ``seed``."""
    if isinstance(layer, str):
        from grader.parts import registry

        layer = registry()[layer]
    label = "speed" if repeat == 0 else f"speed, repeat {repeat + 1}"
    inputs = layer.draw(layer.speed_case(label), seed, spec)
    out_shape = np.shape(layer.functions("cpu")[0](*inputs.args)[0])  # the reference's, here in the parent
    return inputs, upstream(out_shape, seed, layer.name, label)


def _disagreement(got: tuple, want: tuple, tolerance: float, names: tuple[str, ...]) -> str | None:
    """Why the student's timed results are not the references' (None when they agree)."""
    if len(got) != len(want):
        return f"the backward returned {len(got) - 1} gradients, not {len(want) - 1}"
    for name, mine, theirs in zip(("the output", *names), got, want):
        theirs = np.asarray(theirs)
        problem = check_array(mine, theirs, name)
        if problem is None and rel_error(mine, theirs) > tolerance:
            problem = f"{name} is wrong (relative error {rel_error(mine, theirs):.2g})"
        if problem:
            return problem
    return None


def ratio_text(ratio: float, what: str) -> str:
    if ratio >= 1:
        return f"{ratio:.1f}x slower than the {what}"
    return f"{1 / ratio:.1f}x faster than the {what}"


def run_speed(part: str, spec: PartSpec, session: Session, references: Session, seed: int, repeats: int,
              points: float, bands, tolerance: float = AGREE, layer: LayerPart | None = None) -> TestResult:
    from grader.parts import registry

    layer = layer or registry()[part]
    name = f"{part} speed"
    fast, loops = layer.reference("cpu"), layer.loops
    student_times, fast_times = [], []
    for k in range(repeats):  # interleaved, so that load on the machine hits both alike
        inputs, dout = speed_inputs(layer, spec, seed, k)
        shared = (part, seed, spec.dilation, k)
        t_fast = _FAST.get(shared) if _FAST is not None else None
        if t_fast is None:
            t_fast = _pair(references, layer, None, inputs.args, dout, fast, 1)
        if isinstance(t_fast, str) and not references.alive:  # the references' child ended: once more
            references.restart()
            t_fast = _pair(references, layer, None, inputs.args, dout, fast, 1)
        if _FAST is not None and not isinstance(t_fast, str):
            _FAST[shared] = t_fast
        t_student = _pair(session, layer, spec, inputs.args, dout, None, 1)
        if isinstance(t_student, str):
            return TestResult(name, part, "speed", points, 0.0, f"not timed: {t_student}", {"passed": False})
        if isinstance(t_fast, str):
            return TestResult(name, part, "speed", points, 0.0, f"not timed: the reference failed ({t_fast})",
                              {"passed": False})
        wrong = _disagreement(t_student[1], t_fast[1], tolerance, layer.gradients)
        if wrong:
            return TestResult(name, part, "speed", points, 0.0,
                              f"not timed: on the timing inputs (repeat {k + 1}) {wrong}", {"passed": False})
        student_times.append(t_student[0])
        fast_times.append(t_fast[0])
    # The loop reference only gives a line of feedback: timed once per process and inputs (a batch
    # worker grades every submission with the same seed; these are the same 15-130 ms each time).
    inputs, dout = speed_inputs(layer, spec, seed, 0)
    key = (part, seed, spec.dilation)
    t_loops = _LOOPS.get(key)
    if t_loops is None and loops is not None:
        timed = _pair(references, layer, None, inputs.args, dout, loops, 1)
        if not isinstance(timed, str):
            t_loops = _LOOPS[key] = timed[0]
    student, reference = statistics.median(student_times), statistics.median(fast_times)
    vs_fast = student / max(reference, 1e-9)
    feedback = ratio_text(vs_fast, "vectorized reference")
    speed = {"student_s": student, "vectorized_s": reference, "vs_vectorized": vs_fast}
    if t_loops is not None:
        vs_loops = student / max(t_loops, 1e-9)
        feedback += ", " + ratio_text(vs_loops, "loop reference")
        speed.update(loops_s=t_loops, vs_loops=vs_loops)
    fraction = 1.0 if points == 0 else max((b.fraction for b in bands if vs_fast <= b.ratio), default=0.0)
    feedback += f" (forward + backward on x {inputs.args[0].shape}, median of {repeats}, fresh inputs each time)"
    return TestResult(name, part, "speed", points, points * fraction, feedback, {"passed": True, "speed": speed})
