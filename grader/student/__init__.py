"""What students install: the grader without its answers.

An instructor's install (this repository, the Gradescope bundle, ``grader batch``)
holds everything: the references, the wrong-variant catalogue, the problem bank and
its solver, the transfer part's data generator and reference solution.  What
students install is made from it by ``grader export student`` (``build``): a wheel
of the grader *without* those, plus ``grader/public/``, the public cases, whose
expected results the instructor's install computed at export time.

In that wheel ``grader check`` runs in *student mode* (``public``): the same tests
on the public cases, the same named bugs (the wrong variants' results travel as
data), the numeric-gradient test (which needs no reference), the integrity tests,
and the transfer part on a practice split.  The autograder runs hidden cases on
fresh inputs; every student-mode report says so.
"""
