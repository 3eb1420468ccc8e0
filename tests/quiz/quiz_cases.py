"""Quizzes and answers the LMS tests share: the issue's quiz, and answers typed blank by blank."""

from __future__ import annotations

from grader.problems import get
from grader.quiz.model import Question, Quiz

AVG_TILED = {"input": [[1, 2, 3, 4]] * 4, "kind": "avg", "kernel_size": 2, "upstream": [[4, 8], [12, 16]]}
FOUR_LAYERS = {"layers": "conv3-8p1,pool2s2,fc32,fc10", "input": "3x32x32"}


def question(qid: str, name: str, raw: dict) -> Question:
    problem = get(name)
    params = problem.validate(raw)
    return Question(qid, name, params, problem.solve(params))


#: The issue's case: a numerical question beside a 4×4 pool-backprop (16 blanks) and a
#: 4-layer network-shapes (9 blanks), plus a shape, a record and a multiple choice.
ISSUE_QUIZ = Quiz(5, (
    question("q1", "conv-output-size", {"input_size": 227, "kernel_size": 11, "stride": 4}),
    question("q2", "pool-backprop", AVG_TILED),
    question("q3", "network-shapes", FOUR_LAYERS),
    question("q4", "transfer-strategy", {"dataset_size": "small", "similarity": "different"}),
    question("q5", "im2col-shape", {"input_size": 227, "in_channels": 3, "kernel_size": 11, "stride": 4,
                                    "out_channels": 96}),
    question("q6", "one-by-one-conv", {"in_channels": 64, "out_channels": 32, "height": 28, "width": 28}),
), title="CNN quiz (seed 5)")


def leaf_text(leaf, value) -> str:
    """What a student types into one blank for ``value``."""
    if type(leaf).__name__ == "Shape":
        return "(" + ", ".join(str(int(d)) for d in value) + ")"
    if type(leaf).__name__ == "Choice":
        return dict(leaf.options)[value]
    return f"{float(leaf.parse(value) if type(leaf).__name__ != 'Bytes' else leaf.parse(value)[0]):.10g}"


def blank_texts(q: Question, answer) -> list[str]:
    """The answer ``answer`` to ``q`` typed blank by blank (a blank left empty where it has no value)."""
    given = {path: (leaf, value) for path, leaf, value in q.type.answer_format.leaves(answer)}
    return [leaf_text(*given[path]) if path in given else "" for path, _, _ in q.type.answer_format.leaves(q.answer)]


def responses(q: Question) -> list:
    """The right answer, each known mistake's answer (the mistake's fields over the right
    answer), and one that mixes the right answer with a mistake's half."""
    out = [q.answer]
    for m in q.type.telling_mistakes(q.params):
        wrong = {**q.answer, **m.answer} if isinstance(q.answer, dict) else m.answer
        out.append(wrong)
        if isinstance(q.answer, list) and isinstance(m.answer, list):  # a matrix: half its rows from the mistake
            half = len(q.answer) // 2
            out.append(m.answer[:half] + q.answer[half:])
    return out


def exact_or_clearly_wrong(q: Question, answer) -> bool:
    """Whether each leaf of ``answer`` is the right value itself or outside the leaf's tolerance:
    Canvas compares a fill-in blank as text, so a value inside the tolerance that is not one of
    the blank's spellings (1% off a byte count) is right in quiz grade and Moodle, wrong in Canvas."""
    right = {path: (leaf, value) for path, leaf, value in q.type.answer_format.leaves(q.answer)}
    for path, _, value in q.type.answer_format.leaves(answer):
        leaf, good = right[path]
        if leaf.same(good, value) and leaf.parse(good) != leaf.parse(value):
            return False
    return True
