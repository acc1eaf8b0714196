"""The domain check of `ttc solve` / `ttc evaluate` against the shipped SmolLM2
arithmetic calibration: silent on arithmetic, one line with the calibrate command on
MATH-500 or GSM8K, and on answer records that leave far more problems unanswered."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import pytest

from calibration.store.artifact import load_artifact
from router.commands.domain_check import (
    CalibrationDomain,
    DomainCheck,
    answer_differences,
    answer_kind,
    binomial_tail,
    dataset_name,
    problem_differences,
)
from router.problem_source import ProblemSet, load_problem_set
from router.records import AnswerRecord
from router.setup import DEFAULT_CALIBRATION

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
EXAMPLES = ROOT / "scripts" / "examples" / "arithmetic.jsonl"


@pytest.fixture(scope="module")
def artifact():
    return load_artifact(DEFAULT_CALIBRATION)


@pytest.fixture(scope="module")
def domain(artifact):
    return CalibrationDomain.of(artifact)


def test_answer_kinds():
    kinds = {
        "12": "integer",
        "-3": "integer",
        "1,000": "integer",
        "$42$": "integer",
        "0.5": "decimal",
        "3/4": "fraction",
        "\\frac{1}{2}": "fraction",
        "\\left( 3, \\frac{\\pi}{2} \\right)": "expression",
        "x^2 + 1": "expression",
        "Monday": "text",
    }
    assert {a: answer_kind(a) for a in kinds} == kinds


def test_the_shipped_calibration_describes_its_problems(domain):
    assert domain.source == "arithmetic:100" and domain.name == "arithmetic"
    assert domain.answer_kinds == frozenset({"integer"})
    assert domain.longest is not None and 100 < domain.longest < 200
    assert domain.samples_k == 4
    # the extraction cascade reads an answer from nearly every SmolLM2 sample (issue 11)
    assert domain.unanswered_rate is not None and 0.0 <= domain.unanswered_rate < 0.05


def test_arithmetic_problems_raise_nothing(domain):
    for spec in (str(EXAMPLES), "arithmetic:40:1"):
        problems = load_problem_set(spec)
        assert problem_differences(domain, spec, problems.problems) == []


def test_math500_differs_in_answer_kinds_and_length(domain):
    problems = load_problem_set(str(DATA / "math500_test.jsonl")).problems
    differences = problem_differences(domain, "math500_test.jsonl", problems)
    assert len(differences) == 2
    assert differences[0].startswith("answers of kinds it never saw (")
    assert "of 500; it had integer)" in differences[0]
    assert "problems longer than its longest" in differences[1]


def test_gsm8k_differs_in_length_only(domain):
    problems = load_problem_set(str(DATA / "gsm8k_test.jsonl")).problems[:50]
    differences = problem_differences(domain, "gsm8k_test.jsonl", problems)
    assert len(differences) == 1 and "of 50 problems longer than its longest" in differences[0]


def test_dataset_names_count_only_when_both_sides_name_one(domain):
    problems = load_problem_set(str(EXAMPLES)).problems
    assert dataset_name("x.jsonl", problems) == "arithmetic"  # its records say "source"
    assert dataset_name("simulator:5", []) == "simulator"
    renamed = [p.__class__(p.id, p.text, p.answer, {"source": "gsm8k"}) for p in problems]
    assert problem_differences(domain, "x.jsonl", renamed) == [
        "dataset 'gsm8k', calibrated on 'arithmetic'"
    ]
    unnamed = [p.__class__(p.id, p.text, p.answer) for p in problems]
    assert dataset_name("x.jsonl", unnamed) is None


def test_two_problems_tell_nothing(domain):
    problems = load_problem_set(str(DATA / "math500_test.jsonl")).problems[:2]
    assert problem_differences(domain, "m.jsonl", problems) == []


def record(i: int, status: str) -> AnswerRecord:
    return AnswerRecord(id=f"p{i}", status=status, policy="auto")  # type: ignore[arg-type]


def test_unanswered_share_far_above_the_calibrations_warns(domain):
    domain = replace(domain, unanswered_rate=0.2)  # a calibration where 1 in 5 draws of 4 miss
    assert answer_differences(domain, [record(i, "no_answer") for i in range(3)]) == [
        f"3 of 3 problems without any answer, where its 4 samples all missed one on "
        f"{100 * domain.unanswered_rate:.0f}% of its own"
    ]
    usual = [record(i, "ok") for i in range(6)] + [record(6, "no_answer"), record(7, "no_answer")]
    assert answer_differences(domain, usual) == []  # 2 of 8 is within chance
    failed = [record(i, "failed") for i in range(5)]
    assert answer_differences(domain, failed) == []  # failures are no evidence


def test_binomial_tail():
    assert binomial_tail(0, 5, 0.3) == 1.0
    assert binomial_tail(3, 3, 0.2) == pytest.approx(0.008)
    assert binomial_tail(1, 2, 0.5) == pytest.approx(0.75)


def test_one_line_with_the_calibrate_command_and_only_once(artifact):
    math = load_problem_set(str(DATA / "math500_test.jsonl")).problems[:3]
    stream = io.StringIO()
    check = DomainCheck(artifact, ProblemSet("data/math3.jsonl", math), "solve", stream)
    check.before_run()
    check.after_run([record(i, "no_answer") for i in range(3)])
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(
        "ttc solve: warning: these problems do not look like the calibration's "
        "(arithmetic:100): answers of kinds it never saw"
    )
    assert (
        "`ttc calibrate --problems data/math3.jsonl --model smollm2 --verifier arithmetic "
        "--out runs/math3-calibration`, then pass --calibration runs/math3-calibration."
    ) in lines[0]


def test_answers_alone_can_raise_the_warning_after_the_run(artifact):
    problems = load_problem_set(str(EXAMPLES))
    stream = io.StringIO()
    check = DomainCheck(artifact, problems, "solve", stream)
    check.before_run()
    assert stream.getvalue() == ""
    check.after_run([record(i, "no_answer") for i in range(8)])
    assert "8 of 8 problems without any answer" in stream.getvalue()
