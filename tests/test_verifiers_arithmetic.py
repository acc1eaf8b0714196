"""The arithmetic step checker: which equations it finds, how it scores prefixes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strategies.verification import ScoreRequest, Verifier
from strategies.verifiers import arithmetic
from strategies.verifiers.arithmetic import (
    ArithmeticStepChecker,
    evaluate_operand,
    find_equations,
)

PASS, FAIL, NEUTRAL = 0.95, 0.05, 0.6


def _scores(*steps: str, **options) -> tuple[float, ...]:
    (result,) = ArithmeticStepChecker(**options).score([ScoreRequest("p", steps)])
    return result.scores


@pytest.mark.parametrize(
    "step",
    [
        "47 + 38 = 85",
        "$12 \\times 3 = 36$",
        "\\frac{1}{2} + 3 = 3.5",
        "2+3 = 5 = 5",
        "She has 16 - 3 = 13 eggs left.",
        "## Step 1: Multiply\n6 \\cdot 7 = 42\n\n",
        "$\\dfrac{3}{4} \\times 8 = 6$",
        "\\sqrt{16} + 2^{3} = 12",
        "1,000 + 2,500 = 3,500",
        "So, 8 + 5 = 13, and 13 * 2 = 26.",
        "9 * $2 = $18 every day",
        "10/3 = 3.33",
        "2(3+4) = 14",
        "47 + 38 = \\boxed{85}",
        "5+8 = <<5+8=13>>13",
        "**3 + 4 = 7**",
    ],
)
def test_true_equations_pass(step):
    assert find_equations(step), step
    assert _scores(step) == (PASS,)


@pytest.mark.parametrize(
    "step",
    [
        "47 + 38 = 125",
        "$12 \\times 3 = 38$",
        "\\frac{1}{2} + 3 = 4",
        "2+3 = 5 = 6",
        "120 - 45 = 85.",
        "So, 8 + 5 = 13, and 13 * 2 = 27.",
        "2/3 = 0.66",
        "1.25 * 2 = 2.4",
    ],
)
def test_false_equations_fail(step):
    assert _scores(step) == (FAIL,)


@pytest.mark.parametrize(
    "step",
    [
        "Add the two numbers together.",
        "The final answer is $\\boxed{85}$.",
        "x + 3 = 10",  # a variable: nothing to compute
        "3x + 2 = 11",
        "a*b = c",
        "20% of 50 = 10",  # would read "50 = 10" if the word were ignored
        "16 eggs - 3 = 13",  # would read "-3 = 13"
        "15 = 5 times 3",
        "12 = 1 dozen",
        "the ratio 5:8 = 13",
        "1/0 = 5",
        "9^9^9^9 = 1",  # an exponent tower is refused before sympy computes it
        "2 = 2 \\pi",
    ],
)
def test_uncheckable_steps_are_neutral(step):
    assert _scores(step) == (NEUTRAL,)


def test_failures_carry_forward_through_the_prefix():
    assert _scores("47 + 38 = 85", "85 * 2 = 171", "So the answer is 171.") == (PASS, FAIL, FAIL)
    assert _scores("Add them.", "47 + 38 = 85", "Done.") == (NEUTRAL, PASS, PASS)
    assert _scores("Add them.", "Then halve.") == (NEUTRAL, NEUTRAL)
    assert _scores("47 + 38 = 125", "125 / 5 = 25") == (FAIL, FAIL)


def test_scores_are_configurable():
    options = {"pass_score": 0.9, "fail_score": 0.1, "neutral_score": 0.5}
    assert _scores("Add.", "1 + 1 = 2", "1 + 1 = 3", **options) == (0.5, 0.9, 0.1)
    with pytest.raises(ValueError, match="neutral_score"):
        ArithmeticStepChecker(neutral_score=1.5)


def test_boxed_answer_check_is_opt_in():
    steps_ok = ("47 + 38 = 85", "The answer is $\\boxed{85}$.")
    steps_bad = ("47 + 38 = 85", "The answer is $\\boxed{86}$.")
    assert _scores(*steps_bad) == (PASS, PASS)
    assert _scores(*steps_ok, check_boxed=True) == (PASS, PASS)
    assert _scores(*steps_bad, check_boxed=True) == (PASS, FAIL)
    # Nothing computed before the box: nothing to compare it with.
    assert _scores("The answer is $\\boxed{86}$.", check_boxed=True) == (NEUTRAL,)


def test_one_score_per_step_and_protocol():
    checker = ArithmeticStepChecker()
    assert isinstance(checker, Verifier)
    assert checker.num_parameters == 0
    requests = [ScoreRequest("p", tuple(f"{k} + 1 = {k + 1}" for k in range(n))) for n in (1, 2, 5)]
    results = checker.score(requests)
    assert [len(r.scores) for r in results] == [1, 2, 5]
    assert all(0.0 <= s <= 1.0 for r in results for s in r.scores)
    assert results[0].num_tokens == 3  # ceil(len("0 + 1 = 1") / 4)
    assert checker.score([ScoreRequest("p", ())])[0].scores == ()


def test_equations_are_evaluated_once_per_distinct_string(monkeypatch):
    calls = []
    real = arithmetic.evaluate_equation

    def counting(lhs, rhs):
        calls.append((lhs, rhs))
        return real(lhs, rhs)

    monkeypatch.setattr(arithmetic, "evaluate_equation", counting)
    checker = ArithmeticStepChecker()
    beams = [ScoreRequest("p", ("47 + 38 = 85", f"85 - {k} = {85 - k}")) for k in range(3)]
    checker.score(beams)
    checker.score(beams)
    checker.score([ScoreRequest("p", ("It is 47 + 38 = 85 in total.",))])
    assert calls.count(("47 + 38", "85")) == 1
    assert len(calls) == 4


def test_operands_outside_the_whitelist_are_never_parsed():
    assert evaluate_operand("__import__('os')") is None
    assert evaluate_operand("2 + 3") == 5.0
    assert evaluate_operand("√((16))") == 4.0
    assert evaluate_operand("(1") is None


@pytest.mark.parametrize("operand", ["2()", "1+2*()", "() + 1", "(())+1", "5+3*(  )"])
def test_empty_parentheses_are_unchecked_not_a_crash(operand):
    # sympy parses "()" to a Tuple, whose evaluation raised and stopped a 600-problem run
    assert evaluate_operand(operand) is None


@settings(max_examples=60, deadline=None)
@given(
    a=st.integers(0, 10**6),
    b=st.integers(0, 10**6),
    op=st.sampled_from(["+", "-", "\\times", "*"]),
    off=st.integers(1, 1000),
)
def test_integer_arithmetic_is_judged_correctly(a, b, op, off):
    value = {"+": a + b, "-": a - b, "\\times": a * b, "*": a * b}[op]
    assert _scores(f"We get ${a} {op} {b} = {value}$.") == (PASS,)
    assert _scores(f"We get ${a} {op} {b} = {value + off}$.") == (FAIL,)
