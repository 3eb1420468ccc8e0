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

Repeats stop early once the rest cannot change the score (``decided``): the score depends on
the medians only through the band their ratio falls in, and once more than half of the
repeats are known, each median is bounded by the known times, whatever the others would be.
A ratio whose bounds lie in one band is that band's, as the full count would find it; one
near a band's edge gets every repeat.  Without points at stake nothing can change: the
minimum of repeats (3) runs.  (A repeat not run is a check of the results not made either:
the correctness tests have judged them, and results that go wrong later gain no speed.)  The
loop reference, a line of feedback, is timed on the first sample of the batch only and scaled
(its loops over the batch take time in proportion to it).
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
MIN_REPEATS = 3  # the fewest repeats timed when the configuration asks for at least this many
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


def band_fraction(ratio: float, bands) -> float:
    """The fraction of the speed points a student ``ratio`` times slower than the vectorized
    reference earns: the best band whose ratio it is within."""
    return max((b.fraction for b in bands if ratio <= b.ratio), default=0.0)


def decided(student_times: list[float], fast_times: list[float], repeats: int, points: float, bands) -> bool:
    """Whether the repeats timed so far settle the score ``repeats`` of them would give, however
    the rest turn out.  The score is ``band_fraction(median(student) / median(fast))``.  With ``k``
    of ``n`` values known and ``k > n // 2``, the median of all ``n`` lies between the least and
    the greatest known value (fewer than half are unknown: they cannot fill the middle), so the
    final ratio lies between ``min(student) / max(fast)`` and ``max(student) / min(fast)``; when
    one band holds both ends, it holds the final ratio.  Never before ``MIN_REPEATS`` (or all
    ``repeats``, when fewer are asked for): the reported ratio stays a median of several."""
    known = len(student_times)
    if known >= repeats:
        return True
    if known < min(MIN_REPEATS, repeats) or known <= repeats // 2:
        return False
    if points == 0:
        return True  # no band changes the score (run_speed gives all of none)
    low, high = min(student_times) / max(max(fast_times), 1e-9), max(student_times) / max(min(fast_times), 1e-9)
    return band_fraction(low, bands) == band_fraction(high, bands)  # (it never rises with the ratio: one band)


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
    student_times, fast_times, first = [], [], None
    for k in range(repeats):  # interleaved, so that load on the machine hits both alike
        inputs, dout = speed_inputs(layer, spec, seed, k)
        first = first or (inputs, dout)
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
        if decided(student_times, fast_times, repeats, points, bands):
            break
    inputs, dout = first
    t_loops = None if loops is None else _loop_seconds((part, seed, spec.dilation), layer, references, inputs, dout)
    student, reference = statistics.median(student_times), statistics.median(fast_times)
    vs_fast = student / max(reference, 1e-9)
    feedback = ratio_text(vs_fast, "vectorized reference")
    speed = {"student_s": student, "vectorized_s": reference, "vs_vectorized": vs_fast}
    if t_loops is not None:
        vs_loops = student / max(t_loops, 1e-9)
        feedback += ", " + ratio_text(vs_loops, "loop reference")
        speed.update(loops_s=t_loops, vs_loops=vs_loops)
    fraction = 1.0 if points == 0 else band_fraction(vs_fast, bands)
    timed = len(student_times)
    count = f"median of {timed}" + (f" (the other {repeats - timed} repeats could not change the score)"
                                    if timed < repeats else "")
    feedback += f" (forward + backward on x {inputs.args[0].shape}, {count}, fresh inputs each time)"
    speed["repeats"] = timed
    return TestResult(name, part, "speed", points, points * fraction, feedback, {"passed": True, "speed": speed})


def _loop_seconds(key: tuple, layer: LayerPart, references: Session, inputs: Inputs,
                  dout: np.ndarray) -> float | None:
    """The loop reference's seconds on the timing inputs, for a line of feedback: timed once per
    process and inputs (a batch worker grades every submission with the same seed), on the first
    sample of the batch only and multiplied by the batch's size.  Its loops run once per sample,
    so its time grows in proportion (within 2% on the speed test's shapes, benchmarks/README.md),
    and a quarter of 15-80 ms is spent instead of all of it; None when it fails."""
    if key not in _LOOPS:  # key: (part, seed, dilation)
        x, *rest = inputs.args
        size = x.shape[0] if getattr(x, "ndim", 0) else 1
        args, upstream_grad = ((x[:1], *rest), dout[:1]) if size > 1 and dout.shape[:1] == (size,) else \
            (inputs.args, dout)
        timed = _pair(references, layer, None, args, upstream_grad, layer.loops, 1)
        if isinstance(timed, str):
            return None
        _LOOPS[key] = timed[0] * (size if args is not inputs.args else 1)
    return _LOOPS[key]
