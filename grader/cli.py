"""The ``grader`` command line: a thin click layer over the library.

Each command parses its options and calls one library function.  Errors that
grader raises on purpose (GraderError) and click's usage errors become one
line on stderr and exit code 2; nothing prints a traceback unless
``GRADER_DEBUG=1`` is set.
"""

from __future__ import annotations

import errno
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

import click

from grader import __version__
from grader.errors import GraderError, UsageError


def _parse_assignments(pairs: tuple[str, ...]) -> dict[str, str]:
    """``("input_size=227", "kernel_size=11")`` -> dict; one clear error otherwise."""
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"parameters are written name=value, got {pair!r}")
        out[name.strip()] = value.strip()
    return out


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False))


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="grader")
def cli() -> None:
    """Grade CNN layers and quizzes: a problem bank, quizzes, and checks of
    students' convolution, pooling and transfer-learning code."""


# ---------------------------------------------------------------- problems


@cli.group()
def problems() -> None:
    """The problem bank: list, describe, solve and sample problems."""


@problems.command("list")
def problems_list() -> None:
    """Print every problem name with a short description."""
    from grader.problems import all_problems

    for problem in all_problems():
        click.echo(f"{problem.name:<20} {problem.summary}")


@problems.command("show")
@click.argument("name")
def problems_show(name: str) -> None:
    """Describe a problem's parameters and answer format."""
    from grader.problems import get

    problem = get(name)
    click.echo(f"{problem.name}: {problem.summary}")
    click.echo(f"topic: {problem.topic}")
    click.echo("parameters:")
    for p in problem.params:
        click.echo(f"  {p.name:<14} {p.help} ({p.describe_default()})")
    click.echo(f"answer: {problem.answer_format.hint}")


@problems.command("solve")
@click.argument("name")
@click.argument("params", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object {problem, params, answer}.")
def problems_solve(name: str, params: tuple[str, ...], as_json: bool) -> None:
    """Solve problem NAME for the given name=value parameters.

    Example: grader problems solve conv-output-size input_size=227 kernel_size=11 stride=4 --json
    """
    from grader.problems import get

    problem = get(name)
    values = problem.validate(_parse_assignments(params))
    answer = problem.solve(values)
    if as_json:
        _echo_json({"problem": problem.name, "params": values, "answer": answer})
    else:
        click.echo(problem.statement(values).text)
        click.echo(f"answer: {problem.answer_format.show(answer)}")


@problems.command("sample")
@click.argument("name")
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same variant, on any machine.")
@click.option("--json", "as_json", is_flag=True, help="Print {problem, seed, params, answer, statement} as JSON.")
def problems_sample(name: str, seed: int, as_json: bool) -> None:
    """Draw a variant of problem NAME from a seed."""
    from grader.problems import get
    from grader.seeding import rng

    problem = get(name)
    values = problem.sample(rng(seed, problem.name))
    answer = problem.solve(values)
    statement = problem.statement(values)
    if as_json:
        _echo_json({"problem": problem.name, "seed": seed, "params": values, "answer": answer, "statement": statement.text})
    else:
        click.echo(statement.text)
        click.echo(f"answer: {problem.answer_format.show(answer)}")


@problems.command("check")
@click.argument("name")
@click.argument("params", nargs=-1)
@click.option("--answer", "response", required=True, help="The response to grade, as a person would type it.")
@click.option("--json", "as_json", is_flag=True, help="Print the grade as JSON.")
def problems_check(name: str, params: tuple[str, ...], response: str, as_json: bool) -> None:
    """Grade one response to problem NAME and name the mistake, if known.

    Example: grader problems check conv-output-size input_size=227 kernel_size=11 stride=4 --answer 54
    """
    from grader.problems import get

    problem = get(name)
    values = problem.validate(_parse_assignments(params))
    grade = problem.grade(values, response)
    if as_json:
        _echo_json({"problem": problem.name, "params": values, "score": grade.score, "status": grade.status,
                    "feedback": grade.feedback, "mistakes": list(grade.mistakes)})
    else:
        click.echo(f"{grade.status} ({grade.score:.0%}): {grade.feedback}")


# ---------------------------------------------------------------- quizzes


@cli.group()
def quiz() -> None:
    """Generate quizzes from the bank and grade the responses."""


@quiz.command("generate")
@click.option("--count", type=int, default=10, show_default=True, help="Number of questions.")
@click.option("--seed", type=int, default=0, show_default=True, help="Quiz seed: same seed, same quiz.")
@click.option("--topics", default=None, help="Comma-separated topics or problem names (default: all).")
@click.option("--roster", type=click.Path(), default=None,
              help="CSV with a student_id column (and a name column, printed on each copy): one variant per student.")
@click.option("--format", "kinds", multiple=True, type=click.Choice(["html", "json", "moodle", "markdown", "qti"]),
              help="Formats to write (repeatable; default: html, json, moodle, markdown; qti: Canvas's QTI zip). "
                   "key.json is always written.")
@click.option("--out", required=True, type=click.Path(), help="Output folder.")
def quiz_generate(count: int, seed: int, topics: str | None, roster: str | None, kinds: tuple[str, ...], out: str) -> None:
    """Write a quiz (or one per student, and an LMS bank of every variant) and its answer key."""
    from grader.quiz import generate

    topic_names = [t for t in topics.split(",")] if topics else None
    written = generate(out, count=count, seed=seed, topic_names=topic_names, roster=roster, kinds=list(kinds) or None)
    students = len({p.parent for p in written} - {written[-1].parent})  # key.json comes last, in --out
    click.echo(f"wrote {len(written)} files to {out}" + (f" ({students} students)" if roster else "")
               + f"; answer key: {os.path.join(out, 'key.json')}")


@quiz.command("grade")
@click.option("--key", "key_path", required=True, type=click.Path(), help="key.json written by 'quiz generate'.")
@click.argument("responses", type=click.Path())
@click.option("--out", required=True, type=click.Path(), help="Where to write the grades CSV.")
@click.option("--review", "review", type=click.Path(), default=None,
              help="Where to list the answers that could not be read (default: beside --out, NAME-review.csv).")
def quiz_grade(key_path: str, responses: str, out: str, review: str | None) -> None:
    """Grade RESPONSES (CSV: student_id, q1, q2, ...; comma, semicolon or tab) against the key."""
    from grader.quiz import grade_responses, review_path, write_grades, write_review

    result = grade_responses(key_path, responses)
    path = write_grades(result, out)
    listed = write_review(result, review or review_path(out))
    click.echo(result.summary(review=listed))
    click.echo(f"grades written to {path}")


# ---------------------------------------------------------------- check


@cli.command("check")
@click.argument("submission", type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["text", "json", "gradescope", "junit", "html"]), default="text",
              show_default=True, help="Report format.")
@click.option("--out", type=click.Path(), default=None, help="Write the report here (default: standard output).")
@click.option("--also", multiple=True, metavar="FORMAT=FILE",
              help="Also write the same grading in another format (repeatable), e.g. --also junit=results/junit.xml.")
@click.option("--device", type=click.Choice(["cpu", "cuda", "auto"]), default="auto", show_default=True,
              help="Where the torch references run; auto takes a CUDA GPU when there is one.")
@click.option("--seed", type=int, default=None, help="Seed of the test inputs (default: random, printed in the report).")
@click.option("--fail-under", type=click.FloatRange(0, 100), default=100.0, show_default=True,
              help="Exit 1 when the score is below this percentage.")
@click.option("--parts", default=None, help="Comma-separated parts to grade: conv,max_pool,avg_pool,transfer.")
@click.option("--config", "config_path", type=click.Path(), default=None, help="Assignment configuration (TOML).")
@click.option("--public", "public", type=click.Path(), default=None, metavar="FOLDER",
              help="Student mode: grade against the public cases in FOLDER (grader/public/ of a student install), "
                   "as the student install does.")
@click.option("--require-isolation", is_flag=True,
              help="Refuse to grade (exit 2) where the sandbox cannot isolate student code in namespaces "
                   "(as the assignment's [sandbox] require_isolation does).")
def check(submission: str, fmt: str, out: str | None, also: tuple[str, ...], device: str, seed: int | None,
          fail_under: float, parts: str | None, config_path: str | None, public: str | None,
          require_isolation: bool) -> None:
    """Grade the submission in SUBMISSION against the hidden references (a student install: against
    its public cases)."""
    from grader import report as reporters
    from grader.grading import grade_submission
    from grader.report.output import check_destination, parse_also

    if out is not None:
        check_destination(out)  # before grading: a bad path must not cost the work
    extra = parse_also(also)
    targets = [Path(out).resolve()] if out is not None else []
    targets += [path.resolve() for _, path in extra]
    if len(set(targets)) < len(targets):
        raise UsageError("--out and --also name the same file twice: give each report a file of its own")
    result = grade_submission(submission, parts=parts, seed=seed, device=device, config_path=config_path,
                              public=public, require_isolation=require_isolation)
    for extra_fmt, path in extra:  # the extra files first: standard output, when asked for, comes last
        reporters.write(result, extra_fmt, path)
    reporters.write(result, fmt, out)
    written = ([out] if out is not None else []) + [str(path) for _, path in extra]
    if written:
        click.echo(f"score {result.score:g} / {result.max_score:g} ({result.percent:.1f}%), seed {result.seed}; "
                   f"report{'s' if len(written) > 1 else ''} written to {', '.join(written)}", err=True)
    if result.percent + 1e-9 < fail_under:
        raise click.exceptions.Exit(1)


# ---------------------------------------------------------------- batch


@cli.command("batch")
@click.argument("root", type=click.Path())
@click.option("--out", required=True, type=click.Path(), help="Output folder (results, gradebook.csv, index.html).")
@click.option("--workers", type=int, default=2, show_default=True, help="Submissions graded at once.")
@click.option("--executor", type=click.Choice(["local", "dask"]), default="local", show_default=True,
              help="local worker processes, or a Dask distributed cluster.")
@click.option("--scheduler", default=None, help="Dask scheduler address (tcp://HOST:8786); default: a local cluster.")
@click.option("--seed", type=int, default=None,
              help="Seed of the test inputs (default: the class's, kept in OUT/seed.txt; a first run draws one).")
@click.option("--new-seed", is_flag=True, help="Draw a new class seed (every submission is graded again).")
@click.option("--force", is_flag=True, help="Grade everyone again, with the class's seed.")
@click.option("--parts", default=None, help="Comma-separated parts to grade.")
@click.option("--device", type=click.Choice(["cpu", "cuda", "auto"]), default="auto", show_default=True)
@click.option("--config", "config_path", type=click.Path(), default=None, help="Assignment configuration (TOML).")
@click.option("--roster", type=click.Path(), default=None,
              help="CSV with a student_id column (name, email, ...): rows get student ids and names, and "
                   "OUT/gradebook-canvas.csv and OUT/gradebook-moodle.csv are written for the LMS.")
@click.option("--lms-column", default=None,
              help="The grade column's header in the LMS gradebooks (default: the assignment's name); "
                   "for Canvas, 'Title (ID)' updates assignment ID.")
@click.option("--require-isolation", is_flag=True,
              help="Refuse to grade (exit 2) where the sandbox cannot isolate student code in namespaces "
                   "(as the assignment's [sandbox] require_isolation does).")
def batch(root: str, out: str, workers: int, executor: str, scheduler: str | None, seed: int | None, new_seed: bool,
          force: bool, parts: str | None, device: str, config_path: str | None, roster: str | None,
          lms_column: str | None, require_isolation: bool) -> None:
    """Grade every subfolder (or .zip) of ROOT into a gradebook."""
    from grader.batch import grade_batch

    bar = None

    def progress(done: int, total: int, row) -> None:
        nonlocal bar
        if sys.stderr.isatty():  # a bar on a terminal, plain log lines otherwise (CI, files)
            if bar is None:
                bar = click.progressbar(length=total, label="grading", file=sys.stderr, show_pos=True,
                                        item_show_func=lambda r: r and f"{r.submission} {r.score:g}/{r.max_score:g}")
                bar.update(done - 1)
            bar.update(1, row)
        else:
            click.echo(f"[{done}/{total}] {row.submission}: {row.score:g}/{row.max_score:g} ({row.status})", err=True)

    try:
        result = grade_batch(root, out, workers=workers, executor=executor, scheduler=scheduler, seed=seed,
                             force=force, new_seed=new_seed, parts=parts, device=device, config_path=config_path,
                             roster=roster, lms_column=lms_column, progress=progress,
                             require_isolation=require_isolation)
    finally:
        if bar is not None:
            bar.render_finish()
    for note in result.notes:
        click.echo(f"grader: warning: {note}", err=True)
    submitted = [r for r in result.rows if r.submission]  # (with a roster, students who sent nothing have none)
    errors = sum(not r.graded for r in submitted)
    resubmitted = f", {len(result.resubmitted)} resubmitted" if result.resubmitted else ""
    click.echo(f"{len(submitted)} submissions ({result.skipped} from an earlier run{resubmitted}, {errors} not "
               f"graded), seed {result.seed}: {', '.join(str(p) for p in result.written)}")
    if result.interrupted:
        raise click.exceptions.Exit(130)


# ---------------------------------------------------------------- CI autograding and starter kits


@cli.group()
def export() -> None:
    """What leaves the instructor's install: the Gradescope bundle, the GitHub workflow, the student install."""


@export.command("gradescope")
@click.option("--out", required=True, type=click.Path(), help="The bundle to write, e.g. autograder.zip.")
@click.option("--config", "config_path", type=click.Path(), default=None, help="Assignment configuration (TOML).")
def export_gradescope_command(out: str, config_path: str | None) -> None:
    """Write a Gradescope autograder bundle (setup.sh, run_autograder, the config, the grader)."""
    from grader.export import export_gradescope

    path = export_gradescope(out, config_path=config_path)
    click.echo(f"wrote {path}: upload it as the assignment's autograder (Ubuntu base image)")


@export.command("github")
@click.option("--out", required=True, type=click.Path(), help="The student repository (or a folder to copy from).")
@click.option("--config", "config_path", type=click.Path(), default=None, help="Assignment configuration (TOML).")
@click.option("--grader-spec", default=None,
              help="What the workflow pip-installs (a wheel's path or URL, a git+https URL); default: the "
                   "assignment's student wheel, written into .grader/ to be committed.")
@click.option("--fail-under", type=click.FloatRange(0, 100), default=100.0, show_default=True,
              help="The job fails below this percentage.")
def export_github_command(out: str, config_path: str | None, grader_spec: str | None, fail_under: float) -> None:
    """Write a GitHub Actions workflow that runs the public checks on every push, its badge and GRADING.md."""
    from grader.export import export_github

    paths = export_github(out, config_path=config_path, grader_spec=grader_spec, fail_under=fail_under)
    click.echo("wrote " + ", ".join(str(p) for p in paths))


@export.command("student")
@click.option("--out", required=True, type=click.Path(), help="Folder for the wheel and the starter kit.")
@click.option("--config", "config_path", type=click.Path(), default=None, help="Assignment configuration (TOML).")
def export_student_command(out: str, config_path: str | None) -> None:
    """Write what students install (a wheel with the public checks, no reference) and the starter kit."""
    from grader.student.build import export_student

    paths = export_student(out, config_path=config_path)
    click.echo(f"wrote {paths[0]} (give it to students with the starter kit) and the starter kit in "
               f"{paths[1].parent}: " + ", ".join(p.name for p in paths[1:]))


@cli.command("starter")
@click.argument("assignment", required=False, default=None)
@click.option("--out", required=True, type=click.Path(), help="Folder for the student's starter files.")
@click.option("--force", is_flag=True, help="Overwrite the kit's files in a folder that is not empty.")
def starter(assignment: str | None, out: str, force: bool) -> None:
    """Write the student starter kit of ASSIGNMENT (a config TOML; default: the shipped assignment)."""
    from grader.starter import make_starter

    config = None if assignment in (None, "default") else assignment
    paths = make_starter(out, config_path=config, force=force)
    click.echo(f"wrote {len(paths)} files to {out}: " + ", ".join(p.name for p in paths))


# ---------------------------------------------------------------- the student install

# Commands whose work needs what only the instructor's install holds (the problem bank and its
# solver, the references, the hidden cases): a student install has them refuse, in one line.
INSTRUCTOR_ONLY = {
    "problems": "the problem bank and its solver stay with your instructor",
    "quiz": "quizzes and their keys stay with your instructor",
    "batch": "class grading is the instructor's",
    "export": "exports are made from the instructor's install",
}


def _refusal(name: str, why: str) -> click.Command:
    def refuse(args: tuple[str, ...]) -> None:
        raise UsageError(f"`grader {name}` is not part of the student install: {why}")

    return click.Command(name, callback=refuse, help=f"Not in the student install: {why}.",
                         params=[click.Argument(["args"], nargs=-1, type=click.UNPROCESSED)],
                         context_settings={"ignore_unknown_options": True, "allow_extra_args": True,
                                           "help_option_names": []})


def _student_install() -> bool:
    from grader.student import public

    return (public.installed_folder() / public.MANIFEST).is_file()


if _student_install():
    for _name, _why in INSTRUCTOR_ONLY.items():
        cli.add_command(_refusal(_name, _why))


# ---------------------------------------------------------------- entry point


_PATH_PROBLEMS = {
    errno.ENOTDIR: "a part of that path is a file, not a folder",
    errno.EEXIST: "it exists, and is not the folder needed here",
    errno.EISDIR: "it is a folder, and a file is needed here",
    errno.ENOENT: "no such file or folder",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "the file system is read-only",
    errno.ENOSPC: "no space left on the device",
}


def _path_problem(exc: OSError) -> str:
    """One line for an OSError that reached the CLI: the path, and what is wrong with it."""
    why = _PATH_PROBLEMS.get(exc.errno, exc.strerror or str(exc))
    return f"cannot use {exc.filename}: {why}" if exc.filename else f"cannot read or write a file: {why}"


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return (and exit with) its exit code."""
    try:
        returned = cli.main(args=argv, prog_name="grader", standalone_mode=False)
        code = returned if isinstance(returned, int) else 0
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.exceptions.Abort:
        click.echo("grader: aborted", err=True)
        code = 130
    except click.ClickException as exc:
        where = exc.ctx.command_path if getattr(exc, "ctx", None) else "grader"
        click.echo(f"{where}: error: {exc.format_message()} (see '{where} --help')", err=True)
        code = 2
    except GraderError as exc:
        click.echo(f"grader: error: {exc}", err=True)
        code = exc.exit_code
    except OSError as exc:  # a path given on the command line that cannot be read or written, in any command
        if os.environ.get("GRADER_DEBUG"):
            traceback.print_exc()
        click.echo(f"grader: error: {_path_problem(exc)}", err=True)
        code = 2
    except UnicodeDecodeError as exc:  # a text file (CSV, JSON, TOML) in another encoding, in any command
        if os.environ.get("GRADER_DEBUG"):
            traceback.print_exc()
        click.echo(f"grader: error: a file is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset "
                   f"{exc.start}): save it as UTF-8", err=True)
        code = 2
    except KeyboardInterrupt:
        click.echo("grader: interrupted", err=True)
        code = 130
    except Exception as exc:  # noqa: BLE001 - the last line of defence: no traceback for users
        if os.environ.get("GRADER_DEBUG"):
            traceback.print_exc()
        click.echo(f"grader: internal error: {type(exc).__name__}: {exc} (set GRADER_DEBUG=1 for details)", err=True)
        code = 2
    sys.stdout.flush()
    return code
