"""Grading v3 (issue 24): each equivalence rule beyond math-verify, with the negatives it
must not let through. Every pair is checked both ways."""

from __future__ import annotations

from fractions import Fraction

import pytest

from strategies.answers import canonical_key, is_equivalent
from strategies.answers.forms import bracket_matrix, function_value, glued_unit, time_of_day
from strategies.answers.precision import approximates_fraction, terminates, written_precision

EQUAL = {
    "written precision": [
        ("125.66", "40\\pi"),
        ("1.732", "\\sqrt3"),
        ("(1.732, 2)", "(\\sqrt{3}, 2)"),
        ("\\{1.732, 2\\}", "\\{2, \\sqrt{3}\\}"),
        ("0.3333", "\\frac13"),
        ("1.6667", "\\frac{5}{3}"),
        ("3.1415", "\\pi"),  # truncated, not rounded: under one unit in the last place
        ("x = 2.236", "\\sqrt5"),
    ],
    "matrices and bracket lists": [
        ("\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", "[[1,2],[3,4]]"),
        ("\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", "[[1, 2], [3, 4]]"),
        ("\\begin{pmatrix}1\\\\2\\end{pmatrix}", "[1,2]"),
        ("\\begin{pmatrix}1\\\\2\\end{pmatrix}", "(1,2)"),
        ("\\begin{pmatrix}1\\\\2\\\\3\\end{pmatrix}", "(1,2,3)"),
        ("\\begin{bmatrix}1 & -2\\end{bmatrix}", "(1,-2)"),
    ],
    "functions": [
        ("y = 2x + 3", "f(x) = 2x + 3"),
        ("f(x) = 2x + 3", "2x+3"),
        ("g(t) = t^2", "t^2"),
        ("f^{-1}(x) = \\frac{x-3}{2}", "\\frac{x-3}{2}"),
    ],
    "times of day": [
        ("20:34", "8:34 PM"),
        ("8:34 p.m.", "20:34"),
        ("8:34pm", "20:34"),
        ("8:05 AM", "8:05"),
        ("12:15 AM", "0:15"),
        ("12:15 PM", "12:15"),
        ("08:05", "8:05"),
        ("8:34 \\text{ PM}", "20:34"),
        ("3pm", "15:00"),
        ("3 PM", "3:00 p.m."),
    ],
    "glued units": [
        ("10weeks", "10"),
        ("12cm", "12"),
        ("3.5km/h", "3.5"),
        ("40dollars", "40"),
    ],
    "inequalities and intervals": [
        ("x \\le 3", "(-\\infty, 3]"),
        ("x > 2", "(2, \\infty)"),
        ("-1 < x \\le 4", "(-1, 4]"),
    ],
    "words": [("East", "\\text{east}"), ("\\text{Monday}", "monday")],
    "empty set": [("\\emptyset", "\\varnothing"), ("\u2205", "\\emptyset")],
    "complex numbers": [
        ("i", "\\sqrt{-1}"),
        ("1+2i", "i(2-i)"),
        ("-i", "\\frac{1}{i}"),
        ("3-4i", "(2-i)^2"),
    ],
}

UNEQUAL = {
    "written precision": [
        ("0.33", "\\frac13"),  # two significant digits: too coarse to tell
        ("1.41", "\\sqrt2"),
        ("2.9999", "3"),  # 3 can be written exactly
        ("0.12", "\\frac18"),
        ("0.1251", "\\frac18"),
        ("125.68", "40\\pi"),
        ("3.14", "3.1416"),  # two decimals: math-verify's rule
        ("(1.732, 2)", "(2, \\sqrt{3})"),  # ordered
        ("(1.732, 2)", "[\\sqrt{3}, 2]"),  # other brackets
    ],
    "matrices and bracket lists": [
        ("\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", "[[1,2],[4,3]]"),
        ("\\begin{pmatrix}1\\\\2\\end{pmatrix}", "(2,1)"),
        ("\\begin{pmatrix}1\\\\2\\end{pmatrix}", "(1,2,3)"),
        ("[1,2]", "(1,2)"),
    ],
    "functions": [("f(x) = 2x + 3", "2x+4"), ("y = 2x + 3", "x = 2y + 3")],
    "times of day": [
        ("20:34", "8:34 AM"),
        ("20:34", "10:17"),
        ("8:34", "20:34"),
        ("3 PM", "3"),
        ("12", "12:00"),
    ],
    "glued units": [("10weeks", "11"), ("3xy", "3"), ("2pi", "2")],
    "inequalities and intervals": [
        ("x \\le 3", "(-\\infty, 3)"),
        ("x < 3", "(-\\infty, 3]"),
        ("x + y < 3", "(-\\infty, 3)"),  # two unknowns: no interval
    ],
    "words": [("East", "West"), ("xy", "yz")],
    "complex numbers": [("1+2i", "1-2i"), ("i", "1"), ("2i", "2")],
}


def _cases(table: dict[str, list[tuple[str, str]]]) -> list[tuple[str, str, str]]:
    return [(kind, first, second) for kind, pairs in table.items() for first, second in pairs]


@pytest.mark.parametrize(("kind", "first", "second"), _cases(EQUAL))
def test_rule_makes_equal(kind: str, first: str, second: str) -> None:
    assert is_equivalent(first, second), (kind, first, second)
    assert is_equivalent(second, first), (kind, second, first)


@pytest.mark.parametrize(("kind", "first", "second"), _cases(UNEQUAL))
def test_rule_keeps_unequal(kind: str, first: str, second: str) -> None:
    assert not is_equivalent(first, second), (kind, first, second)
    assert not is_equivalent(second, first), (kind, second, first)
    assert canonical_key(first) != canonical_key(second), (kind, first, second)


@pytest.mark.parametrize(
    "forms",
    [
        ["20:34", "8:34 PM", "8:34pm"],
        ["10weeks", "10", "10 weeks"],
        ["1+2i", "i(2-i)", "2i+1"],
        ["y = 2x + 3", "f(x) = 2x + 3", "2x+3"],
        ["\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", "[[1,2],[3,4]]"],
    ],
)
def test_exact_rules_share_a_canonical_key(forms: list[str]) -> None:
    """Votes follow the exact rules; the precision rule is a tolerance and stays out of keys."""
    assert len({canonical_key(form) for form in forms}) == 1, [canonical_key(f) for f in forms]


def test_precision_rule_pieces() -> None:
    assert written_precision("125.66") == (2, 5)
    assert written_precision("0.0333") == (4, 3)
    assert written_precision("12") is None
    assert terminates(Fraction(3, 8)) and not terminates(Fraction(1, 3))
    assert approximates_fraction("0.6667", Fraction(2, 3))
    assert approximates_fraction("0.6666", Fraction(2, 3))  # truncated
    assert not approximates_fraction("0.6665", Fraction(2, 3))
    assert not approximates_fraction("0.375", Fraction(3, 8))  # exact, not approximate


def test_shape_rules_apply_to_whole_answers_only() -> None:
    assert time_of_day("8:34PM") == "20:34"
    assert time_of_day("25:00") is None and time_of_day("13:00pm") is None
    assert time_of_day("1:2") is None  # a ratio
    assert glued_unit("10weeks") == "10" and glued_unit("3xy") is None
    assert glued_unit("x10weeks") is None
    assert function_value("f(x)=2x+3") == "2x+3"
    assert function_value("f(x)=2x+3=y") is None
    assert function_value("f(2)=5") is None  # a value at a point, not the function
    assert bracket_matrix("[[1,2],[3,4]]") == "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}"
    assert bracket_matrix("[[1,2],[3]]") is None
    assert bracket_matrix("[[\\frac{1}{2},2],[3,4]]") is not None
