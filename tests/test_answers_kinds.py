"""Grading v2: answers written the way models and people write them.

One table per kind of writing (issue 11), each with the negatives that must stay unequal.
Every pair is checked both ways through ``is_equivalent`` and through ``canonical_key``,
so votes and grades follow the same rules. The cases are written for this project.
"""

from __future__ import annotations

import pytest

from strategies.answers import canonical_key, extract_answer, is_equivalent

EQUAL = {
    "units and words": [
        ("12 square units", "12"),
        ("7 weeks", "7"),
        ("15 cm", "15"),
        ("3 \\text{ meters}", "3"),
        ("4\\text{ cm}^2", "4"),
        ("20\\textbf{R}", "20"),
        ("8 km/h", "8"),
        ("2\\pi \\text{ radians}", "2\\pi"),
    ],
    "percent words": [
        ("35 percent", "35\\%"),
        ("35 pct", "35\\%"),
        ("$35$ percent", "35\\%"),
        ("35%", "35\\%"),
        ("35 per cent", "35\\%"),
    ],
    "currency and degrees": [
        ("\\$42", "42"),
        ("42€", "42"),
        ("£7.50", "7.5"),
        ("60°", "60"),
        ("60^\\circ", "60"),
        ("60^{\\circ}", "60"),
    ],
    "decimal commas and thousands": [
        ("0,25", "0.25"),
        ("3,75", "3.75"),
        ("0,125", "0.125"),
        ("2,500", "2500"),
        ("2,500.75", "2500.75"),
        ("12 500", "12500"),
        ("12\\,500", "12500"),
        ("12{,}500", "12500"),
        ("-4,000", "-4000"),
    ],
    "stray characters": [
        ("314\\", "314"),
        ("314.", "314"),
        ("314!", "314"),
    ],
    "juxtaposed products": [
        ("2^3 3^2 7", "2^3 \\cdot 3^2 \\cdot 7"),
        ("2^{4} 5^{2}", "400"),
        ("3^2 5^3", "3^2 * 5^3"),
    ],
    "mixed numbers": [
        ("2 3/4", "2.75"),
        ("2 3/4", "\\frac{11}{4}"),
        ("-1 1/4", "-1.25"),
        ("3\\frac{1}{2}", "3.5"),
    ],
    "scientific notation": [
        ("1e20", "100000000000000000000"),
        ("1e+20", "10^{20}"),
        ("2.5e-7", "0.00000025"),
        ("3E5", "300000"),
        ("1.5 \\times 10^{3}", "1500"),
        ("4 \\cdot 10^{-2}", "0.04"),
        ("6.02\\times10^{23}", "602000000000000000000000"),
    ],
    "worked arithmetic lines": [
        ("3 + 4 = 7", "7"),
        ("12 \\times 3 = 36", "36"),
        ("x = 5", "5"),
    ],
    "sentences": [
        ("The final answer is 9.", "9"),
        ("Answer: $\\frac{1}{3}$", "\\frac{1}{3}"),
        ("the answer is $4$ apples", "4"),
        ("#### 1,250", "1250"),
    ],
}

UNEQUAL = {
    "units and words": [
        ("12 square units", "13"),
        ("3 xy", "3"),  # letters of its own: not a unit
        ("x weeks", "5"),
        ("2 \\sin", "2"),
    ],
    "percent words": [("35 percent", "36\\%")],
    "currency and degrees": [("\\$42", "43"), ("60°", "61")],
    "decimal commas and thousands": [
        ("1,2", "12"),  # a list of two numbers, not a decimal nor a thousand
        ("1,2", "1.2"),
        ("0,25", "25"),
        ("2,500", "2.5"),
        ("3, 75", "3.75"),
        ("12 500", "12.5"),
    ],
    "juxtaposed products": [("2^3 3^2", "2^{33^2}"), ("2^3 3^2", "23")],
    "mixed numbers": [("2 3/4", "1.5"), ("3\\frac{1}{2}", "1.5"), ("2 5/4", "3.25")],
    "scientific notation": [
        ("1e20", "22.718282"),  # not Euler's number times 20
        ("1e+20", "22.718282"),  # as JSON writes 1e20
        ("1e20", "2e20"),
        ("2.5e-7", "2.5"),
        ("1.5 \\times 10^{3}", "150"),
        ("2e", "2"),
    ],
    "worked arithmetic lines": [
        ("3 + 4 = 8", "7"),
        ("x + 1 = 5", "4"),  # an equation, not an assignment x = 4
        ("x < 5", "5"),
    ],
    "sentences": [("The final answer is 9.", "8"), ("Answer: 10", "1")],
}


def _cases(table: dict[str, list[tuple[str, str]]]) -> list[tuple[str, str, str]]:
    return [(kind, first, second) for kind, pairs in table.items() for first, second in pairs]


@pytest.mark.parametrize(("kind", "first", "second"), _cases(EQUAL))
def test_equal_answers_are_equivalent_and_share_a_key(kind: str, first: str, second: str) -> None:
    assert is_equivalent(first, second), (kind, first, second)
    assert is_equivalent(second, first), (kind, second, first)
    assert canonical_key(first) == canonical_key(second), (kind, first, second)


@pytest.mark.parametrize(("kind", "first", "second"), _cases(UNEQUAL))
def test_different_answers_stay_unequal(kind: str, first: str, second: str) -> None:
    assert not is_equivalent(first, second), (kind, first, second)
    assert not is_equivalent(second, first), (kind, second, first)
    assert canonical_key(first) != canonical_key(second), (kind, first, second)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The final answer is 7.", "7"),
        ("Answer $9$", "9"),
        ("Answer $$ 9 $$", "9"),
        ("**Answer:** $x = 2$", "x = 2"),
        ("so the number is 1,000.99€", "1000.99"),
        ("Therefore $x \\geq 5$ is the solution.", "x \\geq 5"),
        ("## Step 1\n4 + 4 = 8\n\nThe answer is 8 apples.", "8"),
        ("**Final Answer**\n\n$\\frac{2}{3}$", "\\frac{2}{3}"),
        ("We add them: $3 + 4 = 7$", "7"),
    ],
)
def test_sentences_without_a_box_are_read_and_graded(text: str, expected: str) -> None:
    answer = extract_answer(text)
    assert answer is not None, text
    assert is_equivalent(answer, expected), (text, answer)


@pytest.mark.parametrize(
    ("text", "gold"),
    [
        ("The final answer is 7.", "8"),
        ("No answer here, only 3 + 4 = 7.", "3"),
        ("The final answer is no, it does not exist.", "no"),
    ],
)
def test_sentences_do_not_pass_for_other_answers(text: str, gold: str) -> None:
    answer = extract_answer(text)
    assert answer is None or not is_equivalent(answer, gold), (text, answer)
