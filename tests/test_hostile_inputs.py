"""Bad inputs through the `ttc` command line, as a careless or hostile user would give them.

Every case of the table runs in-process through ``router.cli.main`` and must end with
exit code 2, exactly one ``error`` line naming the file, line or flag at fault, no
traceback, and every file it was pointed at unchanged. After the table: the five defects
of issue 12 that were ours (stale answers, e-notation references, pickles in artifacts,
``--out`` destroying files), kill-and-resume and two runs on one answers file (these two
in subprocesses, since a kill needs a process), leftover temporaries, and the messages for
repaired or unfinished work. The README's "Hostile inputs" table lists the same cases.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from sim_calibration import calibrate_simulator
from slow_ttc import SLOW_TTC

from calibration.store.artifact import MANIFEST, PREDICTOR, sha256_file
from router.cli import main
from router.commands.output import AnswersWriter
from router.evaluation.summary import format_summary, summarize
from router.records import AnswerRecord, Compute
from strategies.problems import load_problems

ROOT = Path(__file__).resolve().parents[1]
PROBLEMS = "simulator:12:1"


@pytest.fixture(scope="module")
def calibration(tmp_path_factory) -> Path:
    return calibrate_simulator(tmp_path_factory.mktemp("hostile") / "sim")


@pytest.fixture(scope="module")
def answered(calibration, tmp_path_factory) -> Path:
    """An answers file of PROBLEMS made with the default settings."""
    out = tmp_path_factory.mktemp("answered") / "answers.jsonl"
    assert solve(calibration, out) == 0
    return out


def solve(calibration: Path, out: Path | str, *extra: str, problems: str = PROBLEMS) -> int:
    args = ["solve", problems, "--calibration", str(calibration), "--out", str(out)]
    return main([*args, "--no-progress", *extra])


@dataclass(frozen=True)
class Case:
    """One hostile input: ``make(tmp, calibration, answered)`` sets it up and returns the
    argv and the files that must come out unchanged; ``says`` must be in the error line."""

    name: str
    make: Callable[[Path, Path, Path], tuple[list[str], list[Path]]]
    says: str


def _solve_argv(calibration: Path, out: Path | str, *extra: str, problems: str = PROBLEMS):
    return ["solve", problems, "--calibration", str(calibration), "--out", str(out), *extra]


def _copy(answered: Path, tmp: Path) -> Path:
    target = tmp / "answers.jsonl"
    shutil.copyfile(answered, target)
    return target


def _file(tmp: Path, name: str, text: str) -> Path:
    path = tmp / name
    path.write_text(text)
    return path


def _problems(tmp: Path, text: str) -> Path:
    return _file(tmp, "problems.jsonl", text)


def _other_calibration(calibration: Path, tmp: Path) -> Path:
    """The same artifact with another manifest (as a recalibration would give)."""
    other = tmp / "other-calibration"
    shutil.copytree(calibration, other, ignore=shutil.ignore_patterns("shards"))
    manifest = json.loads((other / MANIFEST).read_text())
    manifest["created"] = "2000-01-01T00:00:00+00:00"
    (other / MANIFEST).write_text(json.dumps(manifest))
    return other


def _edited_artifact(calibration: Path, tmp: Path, edit: Callable[[Path, dict], None]) -> Path:
    folder = tmp / "edited"
    shutil.copytree(calibration, folder, ignore=shutil.ignore_patterns("shards"))
    manifest = json.loads((folder / MANIFEST).read_text())
    edit(folder, manifest)
    (folder / MANIFEST).write_text(json.dumps(manifest))
    return folder


def _pickled(folder: Path, manifest: dict) -> None:
    import joblib

    joblib.dump({"classifiers": {}, "regressor": None}, folder / "predictor.joblib")
    (folder / PREDICTOR).unlink()
    manifest["schema_version"] = 1
    del manifest["files"][PREDICTOR]
    manifest["files"]["predictor.joblib"] = sha256_file(folder / "predictor.joblib")


def _tampered(folder: Path, manifest: dict) -> None:
    with open(folder / PREDICTOR, "a") as stream:
        stream.write(" ")


def _unlisted(folder: Path, manifest: dict) -> None:
    del manifest["files"][PREDICTOR]


def _shards_of_another_problem(calibration: Path, tmp: Path) -> Path:
    """A calibration folder one of whose sample records answers another problem's text."""
    folder = tmp / "cal"
    shutil.copytree(calibration, folder)
    shard = folder / "shards" / "samples-000-of-001.jsonl"
    header, first, *rest = shard.read_text().splitlines()
    record = json.loads(first)
    record["problem_sha256"] = "0" * 64
    shard.write_text("\n".join([header, json.dumps(record), *rest]) + "\n")
    return folder


def _fifo(tmp: Path) -> Path:
    path = tmp / "pipe"
    os.mkfifo(path)
    return path


def _unlocked_copy(answered: Path, tmp: Path) -> Path:
    return _copy(answered, tmp)


def _bad_problems(name: str, text: str, says: str) -> Case:
    """A case whose problems file holds ``text``; the file must stay as it was."""

    def make(tmp: Path, calibration: Path, answered: Path) -> tuple[list[str], list[Path]]:
        problems = _problems(tmp, text)
        return _solve_argv(calibration, tmp / "o.jsonl", problems=str(problems)), [problems]

    return Case(name, make, says)


def _bad_flags(name: str, flags: list[str], says: str) -> Case:
    def make(tmp: Path, calibration: Path, answered: Path) -> tuple[list[str], list[Path]]:
        return _solve_argv(calibration, tmp / "o.jsonl", *flags), []

    return Case(name, make, says)


CASES: list[Case] = [
    # --- stale answers (defect 1): another problem set, seed, calibration or budget
    Case(
        "another problem set with the same ids",
        lambda t, c, a: (
            _solve_argv(c, _copy(a, t), problems="simulator:12:2"),
            [t / "answers.jsonl"],
        ),
        "with another text or reference answer",
    ),
    Case(
        "another --seed",
        lambda t, c, a: (_solve_argv(c, _copy(a, t), "--seed", "3"), [t / "answers.jsonl"]),
        "--seed 0 (this run: 3)",
    ),
    Case(
        "another --calibration",
        lambda t, c, a: (_solve_argv(_other_calibration(c, t), _copy(a, t)), [t / "answers.jsonl"]),
        "--calibration: another calibration artifact",
    ),
    Case(
        "another --budget",
        lambda t, c, a: (_solve_argv(c, _copy(a, t), "--budget", "4"), [t / "answers.jsonl"]),
        "--budget auto (this run: 4)",
    ),
    Case(
        "another --model",
        lambda t, c, a: (_solve_argv(c, _copy(a, t), "--model", "x/y"), [t / "answers.jsonl"]),
        "--model smollm2 (this run: x/y)",
    ),
    Case(
        "an answers file from before fingerprints",
        lambda t, c, a: (
            _solve_argv(c, _file(t, "old.jsonl", _without_run(a))),
            [t / "old.jsonl"],
        ),
        "older ttc-router that recorded no run settings",
    ),
    # --- --out that is not an answers file, or not a file (defect 4)
    Case(
        "--out: one line of JSON without a newline",
        lambda t, c, a: (_solve_argv(c, _file(t, "cfg.json", '{"name":"cfg"}')), [t / "cfg.json"]),
        "cfg.json, line 1: not a `ttc solve` answer record",
    ),
    Case(
        "--out: a pretty-printed JSON file",
        lambda t, c, a: (
            _solve_argv(c, _file(t, "cfg.json", '{\n  "name": "cfg"\n}\n')),
            [t / "cfg.json"],
        ),
        "cfg.json, line 1: not a `ttc solve` answer record",
    ),
    Case(
        "--out: a problems file",
        lambda t, c, a: (
            _solve_argv(c, _problems(t, '{"id": "p", "problem": "1+1?", "answer": "2"}')),
            [t / "problems.jsonl"],
        ),
        "problems.jsonl, line 1: not a `ttc solve` answer record",
    ),
    Case(
        "--out: a problems file with --overwrite",
        lambda t, c, a: (
            _solve_argv(
                c, _problems(t, '{"id": "p", "problem": "1+1?", "answer": "2"}\n'), "--overwrite"
            ),
            [t / "problems.jsonl"],
        ),
        "problems.jsonl, line 1: not a `ttc solve` answer record",
    ),
    Case("--out /dev/null", lambda t, c, a: (_solve_argv(c, "/dev/null"), []), "character device"),
    Case("--out /dev/zero", lambda t, c, a: (_solve_argv(c, "/dev/zero"), []), "character device"),
    Case(
        "--out /dev/stdout",
        lambda t, c, a: (_solve_argv(c, "/dev/stdout"), []),
        "--out /dev/stdout is",
    ),
    Case("--out a folder", lambda t, c, a: (_solve_argv(c, t), []), "is a folder"),
    Case("--out a named pipe", lambda t, c, a: (_solve_argv(c, _fifo(t)), []), "is a pipe"),
    Case(
        "--out below a file",
        lambda t, c, a: (_solve_argv(c, _file(t, "f.txt", "x\n") / "a.jsonl"), [t / "f.txt"]),
        "f.txt is a file, so no folder can go there",
    ),
    Case(
        "--out where nothing can be created",
        lambda t, c, a: (_solve_argv(c, "/proc/ttc-answers.jsonl"), []),
        "--out /proc/ttc-answers.jsonl: cannot open it for writing",
    ),
    # --- problems
    Case(
        "problems: simulator:0",
        lambda t, c, a: (_solve_argv(c, t / "o.jsonl", problems="simulator:0"), []),
        "'simulator:0': COUNT must be >= 1",
    ),
    Case(
        "problems: simulator:x",
        lambda t, c, a: (_solve_argv(c, t / "o.jsonl", problems="simulator:x"), []),
        "expected simulator:COUNT or simulator:COUNT:SEED",
    ),
    _bad_problems("problems: an empty file", "", "problems.jsonl holds no problems"),
    _bad_problems(
        "problems: a cut line", '{"id": "a", "problem": \n', "problems.jsonl, line 1: invalid JSON"
    ),
    _bad_problems(
        "problems: an answer of NaN",
        '\n{"problem": "?", "answer": NaN}',
        "problems.jsonl, line 2: field 'answer': 'nan' is not a finite number",
    ),
    _bad_problems(
        "problems: an answer of 1e999999",
        '{"problem": "?", "answer": 1e999999}',
        "give the reference answer as a string",
    ),
    _bad_problems(
        "problems: a 5000-digit integer",
        '{"problem": "?", "answer": ' + "7" * 5000 + "}",
        "line 1: invalid JSON (an integer of 5000 digits",
    ),
    Case(
        "problems: a folder",
        lambda t, c, a: (_solve_argv(c, t / "o.jsonl", problems=str(t)), []),
        "is a directory; pass a JSONL file",
    ),
    Case(
        "problems: a missing file",
        lambda t, c, a: (_solve_argv(c, t / "o.jsonl", problems=str(t / "nope.jsonl")), []),
        "is neither an existing file nor a known dataset name",
    ),
    # --- flags
    _bad_flags("--budget nonsense", ["--budget", "lots"], "--budget 'lots': unknown budget policy"),
    _bad_flags("--budget below one per problem", ["--budget", "0"], "must be >= 1"),
    _bad_flags(
        "--backend-option without =",
        ["--backend-option", "x"],
        "--backend-option 'x': expected KEY=VALUE",
    ),
    _bad_flags("--batch-size 0", ["--batch-size", "0"], "--batch-size must be >= 1"),
    # --- calibrations (defect 3 and friends)
    Case(
        "--calibration: a missing folder",
        lambda t, c, a: (_solve_argv(t / "nowhere", t / "o.jsonl"), []),
        "is not a folder",
    ),
    Case(
        "--calibration: an old artifact with a pickled predictor",
        lambda t, c, a: (_solve_argv(_edited_artifact(c, t, _pickled), t / "o.jsonl"), []),
        "predictor.joblib is a pickle",
    ),
    Case(
        "--calibration: an edited predictor.json",
        lambda t, c, a: (_solve_argv(_edited_artifact(c, t, _tampered), t / "o.jsonl"), []),
        "predictor.json does not match the sha256",
    ),
    Case(
        "--calibration: the predictor's manifest entry removed",
        lambda t, c, a: (_solve_argv(_edited_artifact(c, t, _unlisted), t / "o.jsonl"), []),
        "lists no predictor.json",
    ),
    # --- other commands
    Case(
        "calibrate: an empty problems file",
        lambda t, c, a: (
            ["calibrate", "--problems", str(_problems(t, "\n\n")), "--out", str(t / "cal")],
            [],
        ),
        "problems.jsonl holds no problems",
    ),
    Case(
        "calibrate: simulator:0",
        lambda t, c, a: (["calibrate", "--problems", "simulator:0", "--out", str(t / "cal")], []),
        "COUNT must be >= 1",
    ),
    Case(
        "calibrate: --tree-budgets beam search cannot spend",
        lambda t, c, a: (
            [
                "calibrate",
                "--problems",
                "simulator:5",
                "--budgets",
                "3,5,7",
                "--tree-budgets",
                "3,5",
                "--out",
                str(t / "cal"),
            ],
            [],
        ),
        "--tree-budgets: beam_search rounds a budget down",
    ),
    Case(
        "calibrate --merge: a shard record of another problem text",
        lambda t, c, a: (
            ["calibrate", "--merge", "--out", str(_shards_of_another_problem(c, t))],
            [t / "cal" / "shards" / "samples-000-of-001.jsonl"],
        ),
        "samples-000-of-001.jsonl:2: problem 'sim-0000' was sampled with another text",
    ),
    # --- issue 26: inputs and --out checked before any compute is spent
    Case(
        "calibrate: --temperature nan",
        lambda t, c, a: (
            [
                "calibrate",
                "--problems",
                "simulator:5",
                "--temperature",
                "nan",
                "--out",
                str(t / "x"),
            ],
            [],
        ),
        "--temperature must be a finite number >= 0, got nan",
    ),
    Case(
        "calibrate: --top-p inf",
        lambda t, c, a: (
            ["calibrate", "--problems", "simulator:5", "--top-p", "inf", "--out", str(t / "x")],
            [],
        ),
        "--top-p must be in (0, 1], got inf",
    ),
    Case(
        "calibrate: --out a file",
        lambda t, c, a: (
            ["calibrate", "--problems", "simulator:5", "--out", str(_file(t, "afile.txt", "x\n"))],
            [t / "afile.txt"],
        ),
        "afile.txt is a file; ttc calibrate writes an artifact folder",
    ),
    Case(
        "calibrate --merge: --out below a file",
        lambda t, c, a: (
            ["calibrate", "--merge", "--out", str(_file(t, "f.txt", "x\n") / "cal")],
            [t / "f.txt"],
        ),
        "f.txt is a file, so no folder can go there",
    ),
    Case(
        "evaluate: --out a folder",
        lambda t, c, a: (["evaluate", PROBLEMS, "--calibration", str(c), "--out", str(t)], []),
        "is a folder, not a regular file",
    ),
    Case(
        "evaluate: --out /dev/full",
        lambda t, c, a: (["evaluate", PROBLEMS, "--calibration", str(c), "--out", "/dev/full"], []),
        "/dev/full is a character device",
    ),
    Case(
        "evaluate: --out below a file",
        lambda t, c, a: (
            [
                "evaluate",
                PROBLEMS,
                "--calibration",
                str(c),
                "--out",
                str(_file(t, "f.txt", "x\n") / "r.json"),
            ],
            [t / "f.txt"],
        ),
        "f.txt is a file, so no folder can go there",
    ),
    _bad_flags("--budget with a Unicode digit", ["--budget", "\u0664"], "only ASCII"),
    _bad_flags("--budget price:1e-400", ["--budget", "price:1e-400"], "too small (it reads as 0)"),
    _bad_flags(
        "--backend-option timeout_s=nan",
        ["--backend-option", "timeout_s=nan"],
        "--backend-option 'timeout_s=nan': nan is not a finite number",
    ),
    _bad_flags(
        "--backend-option timeout_s=1e999",
        ["--backend-option", "timeout_s=1e999"],
        "1e999 is not a finite number",
    ),
    Case(
        "curves: --png where nothing can be written",
        lambda t, c, a: (["curves", str(c), "--png", "/proc/ttc-curves.png"], []),
        "--png /proc/ttc-curves.png: cannot write",
    ),
    Case(
        "curves: an old artifact with a pickled predictor",
        lambda t, c, a: (["curves", str(_edited_artifact(c, t, _pickled))], []),
        "predictor.joblib is a pickle",
    ),
]


def _without_run(answered: Path) -> str:
    lines = []
    for line in answered.read_text().splitlines():
        data = json.loads(line)
        data.pop("run"), data.pop("problem_sha256")
        lines.append(json.dumps(data))
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_a_bad_input_gets_one_clear_line_and_changes_nothing(
    case, calibration, answered, tmp_path, capsys
):
    argv, kept = case.make(tmp_path, calibration, answered)
    before = {path: path.read_bytes() for path in kept}
    listing = sorted(p.name for p in tmp_path.iterdir())
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 2, captured.err
    assert "Traceback" not in captured.err + captured.out
    errors = [
        line
        for line in captured.err.splitlines()
        if line.startswith("ttc ") and ": error: " in line
    ]
    assert len(errors) == 1, captured.err
    assert case.says in errors[0], errors[0]
    for path, content in before.items():
        assert path.read_bytes() == content, f"{path} was changed"
    assert sorted(p.name for p in tmp_path.iterdir()) == listing  # nothing left behind


def test_a_bad_input_while_another_run_holds_the_file(calibration, answered, tmp_path, capsys):
    out = _copy(answered, tmp_path)
    before = out.read_bytes()
    with AnswersWriter(out):
        assert solve(calibration, out) == 2
    err = capsys.readouterr().err
    assert "being written by another `ttc solve` run" in err and "Traceback" not in err
    assert out.read_bytes() == before


def test_calibrate_without_the_engine_package_says_what_to_install(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)  # import vllm now fails, as without it
    args = ["calibrate", "--problems", "arithmetic:2", "--backend", "vllm"]
    code = main([*args, "--out", str(tmp_path / "cal"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert err.count("needs vllm") == 1 and "pip install vllm" in err


# ---------------------------------------------------------------- the numbered defects


def test_defect_1_another_problem_set_with_the_same_ids_is_not_passed_off(calibration, tmp_path):
    """`simulator:12:1` then `simulator:12:2` into one file: the second run used to report
    the first set's answers as its own ("12 finished by an earlier run")."""
    out = tmp_path / "d.jsonl"
    assert solve(calibration, out, "--budget", "total:60") == 0
    first = out.read_bytes()
    assert solve(calibration, out, "--budget", "total:60", problems="simulator:12:2") == 2
    assert out.read_bytes() == first
    fresh = tmp_path / "fresh.jsonl"
    assert solve(calibration, fresh, "--budget", "total:60", problems="simulator:12:2") == 0
    # --overwrite starts afresh and gives what a fresh run gives
    code = solve(calibration, out, "--budget", "total:60", "--overwrite", problems="simulator:12:2")
    assert code == 0
    assert _answers(out) == _answers(fresh)


def _answers(path: Path) -> dict[str, tuple]:
    return {
        r["id"]: (r["answer"], r["reference"], r["strategy"], r["budget"])
        for r in map(json.loads, path.read_text().splitlines())
    }


def test_defect_2_json_number_references_keep_their_digits(tmp_path):
    path = tmp_path / "numbers.jsonl"
    rows = ["1e20", "2.5e-7", "1.50", "-3", "1E+2", '" 42 "', "0.1"]
    path.write_text(
        "".join(
            f'{{"id": "p{i}", "problem": "?", "answer": {a}, "w": 1e3}}\n'
            for i, a in enumerate(rows)
        )
    )
    problems = load_problems(path)
    assert [p.answer for p in problems] == [
        "100000000000000000000",
        "0.00000025",
        "1.50",
        "-3",
        "100",
        "42",
        "0.1",
    ]
    assert problems[0].metadata["w"] == 1000.0 and type(problems[0].metadata["w"]) is float


def test_defect_4_a_one_line_file_without_newline_is_not_wiped(calibration, tmp_path):
    """`printf '{"name":"cfg"}' > cfg.json; ttc solve ... --out cfg.json` used to empty it
    and exit 0 (the line was taken for one cut by a kill)."""
    cfg = tmp_path / "cfg.json"
    cfg.write_text('{"name":"cfg"}')
    assert solve(calibration, cfg) == 2
    assert cfg.read_text() == '{"name":"cfg"}'


def test_defect_4_stdout_into_a_pipe_is_refused_not_hung(calibration):
    args = _solve_argv(calibration, "/dev/stdout", "--no-progress")
    process = subprocess.run(
        [sys.executable, "-m", "router.cli", *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        timeout=120,
    )
    assert process.returncode == 2
    assert b"is a pipe, not a regular file" in process.stderr
    assert b"Traceback" not in process.stderr


# ---------------------------------------------------------------- kills, concurrency


def _slow_solve(calibration: Path, out: Path, delay: str = "0.3") -> subprocess.Popen:
    args = _solve_argv(calibration, out, "--no-progress", "--batch-size", "2")
    return subprocess.Popen(
        [sys.executable, "-c", SLOW_TTC, delay, *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _wait_for_lines(process: subprocess.Popen, out: Path, count: int) -> None:
    deadline = time.monotonic() + 120
    while not out.exists() or len(out.read_text().splitlines()) < count:
        if process.poll() is not None:
            pytest.fail(f"solve ended early: {process.stderr.read()!r}")  # type: ignore[union-attr]
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail("solve made no progress")
        time.sleep(0.01)


def test_a_second_run_on_the_same_file_stops_at_once_and_nothing_is_doubled(
    calibration, answered, tmp_path, capsys
):
    out = tmp_path / "answers.jsonl"
    process = _slow_solve(calibration, out)
    try:
        _wait_for_lines(process, out, 1)
        assert solve(calibration, out) == 2
        assert "being written by another `ttc solve` run" in capsys.readouterr().err
    finally:
        _stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr
    ids = [json.loads(line)["id"] for line in out.read_text().splitlines()]
    assert sorted(ids) == sorted(set(ids)) and len(ids) == 12
    assert _answers(out) == _answers(answered)


def test_a_kill_mid_line_is_repaired_with_a_message_and_resumes_to_the_same_answers(
    calibration, answered, tmp_path, capsys
):
    out = tmp_path / "answers.jsonl"
    process = _slow_solve(calibration, out)
    try:
        _wait_for_lines(process, out, 2)
        process.send_signal(signal.SIGKILL)
    finally:
        process.communicate(timeout=60)
    with out.open("a") as stream:  # as if the kill landed in the middle of a line
        stream.write('{"id": "sim-0011", "status": "ok", "answ')
    stale = tmp_path / ".answers.jsonl.abc123.tmp"  # a kill in the middle of a rewrite
    stale.write_text("half")
    assert solve(calibration, out) == 0
    err = capsys.readouterr().err
    assert "discarded a half-written last line" in err
    assert _answers(out) == _answers(answered)
    assert not stale.exists()


def test_an_artifact_rewrite_removes_temporaries_a_kill_left(calibration, tmp_path, capsys):
    folder = tmp_path / "sim"
    shutil.copytree(calibration, folder)
    stale = [folder / ".table.json.k1ll3d.tmp", folder / ".predictor.json.x.tmp"]
    for path in stale:
        path.write_text("half")
    keep = folder / ".notes.tmp"  # not a name the artifact writer uses
    keep.write_text("mine")
    args = ["calibrate", "--merge", "--draws", "4", "--probe-k", "2", "--probe-draws", "2",
            "--bootstrap", "10", "--cv-repeats", "1"]  # fmt: skip
    assert main([*args, "--out", str(folder), "--no-progress"]) == 0
    assert not any(path.exists() for path in stale) and keep.exists()


def test_unmeasurable_tree_budgets_are_named_in_the_summary(tmp_path, capsys):
    args = ["calibrate", "--problems", "simulator:12", "--samples", "8", "--budgets", "3,5,7",
            "--seeds", "1", "--draws", "2", "--bootstrap", "5", "--cv-repeats", "1"]  # fmt: skip
    assert main([*args, "--out", str(tmp_path / "cal"), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "beam_search rounds a budget down to a multiple of its beam width" in out
    assert "not run at N=5, 7" in out


def test_a_failed_problem_with_a_reference_is_not_reported_as_having_none():
    record = AnswerRecord(
        id="big", status="failed", policy="auto", reference="4", compute=Compute(0, 0, 0),
        error="GenerationError: prompt too long",
    )  # fmt: skip
    text = format_summary(summarize([record]))
    assert "none of the problems with a reference answer finished (1 failed)" in text
    assert "no reference answers" not in text
