"""Grading v3 (issue 24): the last-expression tier reads the whole final expression.

The cases the issue names came back cut ("\\frac{1}{2}" -> "2", "Hence y = 2x + 3." -> "3");
here each comes back whole and grades right against its reference.
"""

from __future__ import annotations

import time

import pytest

from strategies.answers import extract_answer, is_equivalent
from strategies.answers.expression import final_side, last_expression

ALREADY_ANSWERS = [
    "\\frac{1}{2}",
    "x^2+2x+1",
    "\\tfrac83",
    "(x-2)(x+2)",
    "4210_7",
    "0.1, 4",
    "\\sqrt{3}/3",
    "[0, 1)",
    "\\{1, 2\\}",
    "\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}",
    "10 square units",
    "x = 5",
    "8:34 PM",
    "-\\frac{\\pi}{6}",
    "2^{10} \\cdot 3",
    "(1, -2, 3)",
    "Monday",
]


@pytest.mark.parametrize("answer", ALREADY_ANSWERS)
def test_a_string_that_already_is_an_answer_comes_back_unchanged(answer: str) -> None:
    assert extract_answer(answer) == answer
    if " " not in answer or "\\" in answer:  # "$10 square units$" reads as two currency signs
        assert extract_answer(f"${answer}$") == answer  # a math span: its content


@pytest.mark.parametrize(
    ("text", "expected", "gold"),
    [
        ("Therefore x = \\frac{3}{4}", "x = \\frac{3}{4}", "\\frac34"),
        ("Hence y = 2x + 3.", "y = 2x + 3", "2x+3"),
        ("So the answer we want is \\frac{1}{2}.", "\\frac{1}{2}", "0.5"),
        ("The product equals (x-2)(x+2).", "(x-2)(x+2)", "x^2-4"),
        ("Thus the sum is x^2+2x+1", "x^2+2x+1", "(x+1)^2"),
        ("In base 7 the number is 4210_7.", "4210_7", "4210_7"),
        ("The two values are 0.1, 4.", "0.1, 4", "4, 0.1"),
        ("So $\\sin\\theta = \\sqrt{3}/3$.", "\\sqrt{3}/3", "\\frac{\\sqrt3}{3}"),
        ("## Step 2: Add\n3 + 4 = 7", "7", "7"),
        ("x = 2 + 3 = 5, as required.", "5", "5"),
        ("We find $a = 3$, and then the total is $12\\pi$ square units.", "12\\pi", "12\\pi"),
        ("The value of $x$ is $5$.", "5", "5"),
        ("She makes 9 * 2 = $<<9*2=18>>18.", "18", "18"),
        ("He paid $5 each, so the total is $10.", "10", "10"),
        ("The count is 5, which is a prime.", "5", "5"),
        ("The matrix is\n\\[\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}.\\]", None, None),
        ("so $f(x) = 2x + 3$", "f(x) = 2x + 3", "2x+3"),
        ("The meeting starts at 20:34.", "20:34", "20:34"),
        ("So x = -1 or x = 1.", "-1, 1", "\\{1, -1\\}"),
        ("The roots are $x = 2$ and $x = 3$.", "2, 3", "3, 2"),
        ("so x = 2 or y = 3", "y = 3", None),  # two unknowns: not one list
        ("The solutions are 1, 2, and 3.", "1, 2, 3", "3, 2, 1"),
        ("so the roots are -2, 1 and 4", "-2, 1, 4", "\\{4, 1, -2\\}"),
        ("I multiply 3 and 4", "4", None),  # no list before the "and"
        ("1 and 2", "1, 2", "\\{2, 1\\}"),  # a whole text of values joined by "and"
        ("The speed is 8 km/h.", "8", "8"),
        ("Final Answer: The largest $n$ is 34.", "34", "34"),
        ("The final answer is indeed $25$.", "25", "25"),
        ("Final Answer: Jane started growing Sphere 3 hours ago. I hope it is correct.", "3", "3"),
        ("Bobbi arrives at 4:30 p.m. that day", "4:30 p.m", "16:30"),
    ],
)
def test_final_statements_give_the_whole_expression(
    text: str, expected: str | None, gold: str | None
) -> None:
    answer = extract_answer(text)
    if expected is not None:
        assert answer == expected, text
    else:
        assert answer is not None and answer.startswith("\\begin{pmatrix}"), answer
    if gold is not None:
        assert answer is not None and is_equivalent(answer, gold), (text, answer, gold)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Nothing to see.", None),
        ("The final answer is no, it does not exist.", None),
        ("", None),
        ("\\boxed{", None),
        ("x", "x"),  # one letter on its own is an answer
        ("Then a prime follows.", None),  # "a" is an article, not an unknown
    ],
)
def test_texts_without_an_expression(text: str, expected: str | None) -> None:
    assert extract_answer(text) == expected


@pytest.mark.parametrize(
    ("expression", "side"),
    [
        ("3 + 4 = 7", "7"),
        ("x = \\frac{3}{4}", "x = \\frac{3}{4}"),
        ("f(x) = 2x + 3", "f(x) = 2x + 3"),
        ("x_1 = 4", "x_1 = 4"),
        ("x = 2 + 3 = 5", "5"),
        ("\\pi r^2 \\approx 12.57", "12.57"),
        ("x \\le 3", "x \\le 3"),
        ("a <= b", "a <= b"),
        ("f(\\{x = 1\\}) = 2", "2"),
        ("= 7", "7"),
        ("61 + 91 =", "61 + 91 ="),  # cut off: no value stated
    ],
)
def test_final_side_splits_at_top_level_equals_only(expression: str, side: str) -> None:
    assert final_side(expression) == side


def test_no_tier_returns_a_piece_of_a_group() -> None:
    """Whatever the wording around it, an answer with braces comes back with all of them."""
    answers = ["\\frac{1}{2}", "2^{10}", "\\sqrt[3]{x+1}", "\\left(1, \\frac{\\pi}{2}\\right)"]
    for answer in answers:
        for text in (
            f"Therefore the result is {answer}.",
            f"So we get {answer}",
            f"Hence $y = {answer}$.",
        ):
            got = extract_answer(text)
            assert got is not None and answer in got, (text, got)
            assert got.count("{") == got.count("}"), got


@pytest.mark.parametrize(
    "text",
    [
        "$" * 50_000 + "7",
        "{" * 20_000,
        "\\begin{pmatrix}" * 5_000,
        "word " * 10_000 + "x = 1",
        "(" * 20_000 + "1",
        "\\[" * 10_000,
        "a = " * 10_000,
    ],
)
def test_the_last_expression_is_read_in_linear_time(text: str) -> None:
    start = time.monotonic()
    last_expression(text[-20_000:])
    assert time.monotonic() - start < 2.0


FRAGMENTS = [
    "$",
    "$$",
    "\\(",
    "\\)",
    "\\[",
    "\\]",
    "{",
    "}",
    "\\{",
    "\\}",
    "\\begin",
    "\\begin{pmatrix}",
    "\\end{pmatrix}",
    "\\end",
    "\\frac",
    "\\boxed{",
    "\\text{",
    "=",
    "\\approx",
    "<=",
    "(",
    ")",
    "[",
    "]",
    ",",
    ".",
    ":",
    "\n",
    "\n\n",
    " ",
    "x",
    "a",
    "I",
    "is",
    "answer",
    "The final answer is",
    "12",
    "3.5",
    "8:34",
    "p.m.",
    "km/h",
    "it's",
    "\\",
    "^",
    "_",
    "&",
    "\\\\",
    "####",
    "<<2*3=6>>",
]


def test_any_mix_of_latex_fragments_extracts_without_error() -> None:
    """Unparseable LaTeX gives an answer or None, never an exception."""
    import random

    from strategies.answers.normalise import clean_answer

    rng = random.Random(24)
    for _ in range(3_000):
        text = "".join(rng.choice(FRAGMENTS) for _ in range(rng.randint(1, 12)))
        for mode in ("boxed", "stated", "full"):
            answer = extract_answer(text, mode)
            assert answer is None or isinstance(answer, str)
        clean_answer(text)
