"""The command line as users and CI scripts see it: help, exit codes, one
clear line on stderr for every usage error, JSON output of the contract."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from grader.problems import names


def test_help_works_for_every_command(run_cli):
    for args in ([], ["problems"], ["problems", "list"], ["problems", "solve"], ["problems", "sample"],
                 ["problems", "show"], ["problems", "check"], ["quiz"], ["quiz", "generate"], ["quiz", "grade"],
                 ["check"], ["batch"], ["export"], ["export", "gradescope"], ["export", "github"], ["starter"]):
        r = run_cli(*args, "--help")
        assert r.code == 0 and "Usage:" in r.out, args


def test_problems_list_prints_one_name_a_line(run_cli):
    r = run_cli("problems", "list")
    assert r.code == 0
    listed = [line.split()[0] for line in r.out.splitlines()]
    assert listed == names()
    assert all(len(line.split(maxsplit=1)) == 2 for line in r.out.splitlines())  # with a description


def test_solve_json_is_the_contract_object(run_cli):
    r = run_cli("problems", "solve", "conv-output-size", "input_size=227", "kernel_size=11", "stride=4", "--json")
    assert r.code == 0
    data = json.loads(r.out)
    assert data == {"problem": "conv-output-size",
                    "params": {"input_size": 227, "kernel_size": 11, "stride": 4, "padding": 0, "dilation": 1},
                    "answer": 55}


def test_solve_matrix_params_from_the_command_line(run_cli):
    r = run_cli("problems", "solve", "pool-backprop", "input=[[1,3],[2,4]]", "kind=max", "kernel_size=2",
                "upstream=[[5]]", "--json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["answer"] == [[0, 0], [0, 5]]


@pytest.mark.parametrize(
    "args, message",
    [
        (["problems", "solve", "no-such-problem"], "unknown problem 'no-such-problem'"),
        (["problems", "solve", "conv-output-size", "input_size=5"], "needs the parameter 'kernel_size'"),
        (["problems", "solve", "conv-output-size", "input_size=5", "kernel_size=3", "bogus=1"], "unknown parameter 'bogus'"),
        (["problems", "solve", "conv-output-size", "input_size"], "parameters are written name=value"),
        (["problems", "solve", "conv-output-size", "input_size=x", "kernel_size=3"], "input_size must be an integer"),
        (["problems", "solve", "conv-params", "in_channels=3", "out_channels=4", "kernel_size=3", "groups=2"], "groups"),
        (["problems", "frobnicate"], "No such command"),
        (["quiz", "grade", "--key", "/nonexistent.json", "/nonexistent.csv", "--out", "/tmp/x.csv"], "cannot read key"),
    ],
)
def test_usage_errors_exit_2_with_one_line(run_cli, args, message):
    r = run_cli(*args)
    assert r.code == 2
    assert message in r.err, r.err
    assert len(r.err.strip().splitlines()) == 1 and "Traceback" not in r.err


def test_sample_is_reproducible(run_cli):
    a = run_cli("problems", "sample", "im2col-shape", "--seed", "5", "--json")
    b = run_cli("problems", "sample", "im2col-shape", "--seed", "5", "--json")
    assert a.code == 0 and a.out == b.out
    data = json.loads(a.out)
    assert {"problem", "seed", "params", "answer", "statement"} <= set(data)


def test_check_names_the_mistake(run_cli):
    r = run_cli("problems", "check", "conv-params", "in_channels=3", "out_channels=10", "kernel_size=3",
                "--answer", "270", "--json")
    assert r.code == 0
    data = json.loads(r.out)
    assert data["score"] == 0 and "forgot the bias" in data["feedback"]


def test_the_console_script_runs_as_a_process():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run([sys.executable, "-m", "grader", "problems", "solve", "fc-params", "in_features=196608",
                           "out_features=1000", "--json"], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["answer"] == 196_609_000
    bad = subprocess.run([sys.executable, "-m", "grader", "problems", "solve", "nope"], capture_output=True, text=True,
                         env=env, timeout=60)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1


def test_readme_setup_commands_are_what_ci_runs():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(root, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    with open(os.path.join(root, ".ci", "run"), encoding="utf-8") as f:
        ci = [line.strip() for line in f if line.strip() and not line.startswith("#")]
    blocks = readme.split("```")
    setup = [line.strip() for line in blocks[1].splitlines()[1:] if line.strip() and not line.startswith("#")]
    assert setup and all(line in ci for line in setup), (setup, ci)


# ---------------------------------------------------------------- paths and files: one line, exit 2, every command


@pytest.fixture
def paths(tmp_path):
    """A file where a folder is expected, a folder where a file is expected, a path that is not there."""
    afile, adir = tmp_path / "afile", tmp_path / "adir"
    afile.write_text("x\n")
    adir.mkdir()
    return {"file": str(afile), "under_file": str(afile / "out"), "dir": str(adir), "missing": str(tmp_path / "nope")}


EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")
PATH_CASES = [
    # an --out that cannot be written: under a regular file
    (["check", f"{EXAMPLES}/submission", "--parts", "max_pool", "--format", "json", "--out", "{under_file}/r.json"],
     "{file}"),
    (["batch", EXAMPLES, "--out", "{under_file}", "--parts", "max_pool"], "{under_file}"),
    (["batch", EXAMPLES, "--out", "{file}", "--parts", "max_pool"], "{file}"),
    (["export", "gradescope", "--out", "{under_file}/bundle.zip"], "{file}"),
    (["export", "github", "--out", "{under_file}"], "{under_file}"),
    (["quiz", "generate", "--count", "2", "--out", "{under_file}"], "{under_file}"),
    (["quiz", "grade", "--key", "{key}", f"{EXAMPLES}/responses.csv", "--out", "{under_file}/g.csv"], "{file}"),
    # a missing file, and a folder where a file is expected
    (["check", "{missing}"], "{missing}"),
    (["check", f"{EXAMPLES}/submission", "--config", "{missing}"], "{missing}"),
    (["check", f"{EXAMPLES}/submission", "--config", "{dir}"], "{dir}"),
    (["batch", "{missing}", "--out", "{dir}/o"], "{missing}"),
    (["batch", EXAMPLES, "--out", "{dir}/o", "--roster", "{dir}"], "{dir}"),
    (["batch", EXAMPLES, "--out", "{dir}/o", "--roster", "{missing}"], "{missing}"),
    (["export", "gradescope", "--config", "{dir}", "--out", "{dir}/b.zip"], "{dir}"),
    (["quiz", "generate", "--count", "2", "--roster", "{dir}", "--out", "{dir}/q"], "{dir}"),
    (["quiz", "grade", "--key", "{dir}", f"{EXAMPLES}/responses.csv", "--out", "{dir}/g.csv"], "{dir}"),
    (["quiz", "grade", "--key", "{missing}", f"{EXAMPLES}/responses.csv", "--out", "{dir}/g.csv"], "{missing}"),
]


CASE_IDS = [f"{' '.join(args[:2])} {i}" for i, (args, _) in enumerate(PATH_CASES)]


@pytest.mark.parametrize("args, named", PATH_CASES, ids=CASE_IDS)
def test_a_path_problem_is_one_line_naming_the_path(run_cli, paths, tmp_path, args, named):
    key = tmp_path / "quiz"
    assert run_cli("quiz", "generate", "--count", "2", "--format", "json", "--out", str(key)).code == 0
    values = {**paths, "key": str(key / "key.json")}
    r = run_cli(*[a.format(**values) for a in args])
    assert r.code == 2, (r.code, r.err)
    assert len(r.err.strip().splitlines()) == 1 and "Traceback" not in r.err and "internal error" not in r.err, r.err
    assert named.format(**values) in r.err, r.err


def test_config_typos_and_encodings_are_one_line_naming_the_key(run_cli, tmp_path):
    cases = [(b"[tolerance]\nbackwards = 3\n", "unknown key [tolerance] backwards: did you mean backward?"),
             (b"[tolerence]\nforward = 1e-6\n", "unknown section [tolerence]: did you mean tolerance?"),
             (b"[limits]\nmemory_mb = \"lots\"\n", "[limits] memory_mb must be a number, got 'lots'"),
             (b"[assignment]\nparts = [\"conv\", \"maxpool\"]\n", "unknown part 'maxpool': did you mean max_pool?"),
             (b"[speed]\nbands = [{ ratio = 2, fractoin = 1 }]\n", "unknown key fractoin in a [speed] band: did you "
                                                                     "mean fraction?"),
             (b"[assignment]\nname = \"Caf\xe9\"\n", "not UTF-8 text (byte 0xe9 at offset 24)")]
    for text, message in cases:
        config = tmp_path / "assignment.toml"
        config.write_bytes(text)
        for args in (["check", f"{EXAMPLES}/submission"], ["batch", EXAMPLES, "--out", str(tmp_path / "o")]):
            r = run_cli(*args, "--config", str(config))
            assert r.code == 2 and message in r.err and len(r.err.strip().splitlines()) == 1, (args, r.err)
