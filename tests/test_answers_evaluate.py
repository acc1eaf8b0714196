"""The local reading of numeric expressions gives the key math-verify's worker gives."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from strategies.answers.evaluate import numeric_key
from strategies.answers.normalise import clean_answer
from strategies.answers.pool import worker_pool

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def _worker_key(cleaned: str) -> object:
    return worker_pool().call({"op": "key", "answer": cleaned}, 30)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("3\\sqrt{13}", "n:10.816654"),
        ("-\\frac{\\pi}{6}", "n:-0.523599"),
        ("2^6\\cdot3^5", "n:15552"),
        ("\\sqrt[3]{27}", "n:3"),
        ("\\frac12", "n:0.5"),
        ("{\\frac{3}{4}}^{-1}", "n:1.333333"),
        ("{\\pi^{30}}-{\\pi^{30}}+1", "n:1"),  # no digits lost to the cancellation
        ("2^{256}", "n:" + str(2**256)),  # exact integers keep every digit
    ],
)
def test_numeric_expressions_are_valued_locally(text: str, key: str) -> None:
    assert numeric_key(text) == key


@pytest.mark.parametrize(
    "text",
    [
        "x+1",
        "1.5\\sqrt2",
        "2\\frac{1}{3}",
        "2{3}",
        "(9)(2)",
        "(1,2)",
        "2^{100000}",
        "\\sqrt{-4}",
        "\\pi^{200}",  # a large irrational: its key needs every integer digit
        "{{{\\pi^{256}}^{256}}^{256}}",
    ],
)
def test_what_math_verify_reads_its_own_way_is_left_to_it(text: str) -> None:
    assert numeric_key(text) is None


def test_keys_agree_with_the_worker_on_math500_expressions() -> None:
    references = [
        json.loads(line)["answer"]
        for line in (DATA / "math500_test.jsonl").read_text().splitlines()
    ]
    checked, disagreements = 0, []
    for reference in references:
        group = "{" + reference + "}"
        for text in (
            reference,
            f"2\\cdot{group}",
            f"-{group}",
            f"{group}^2",
            f"\\sqrt{{{reference}}}",
        ):
            cleaned = clean_answer(text)
            local = numeric_key(cleaned)
            if local is None:
                continue
            checked += 1
            if local != _worker_key(cleaned):
                disagreements.append((text, local, _worker_key(cleaned)))
    assert checked > 1_000
    assert not disagreements, disagreements[:5]


_atoms = st.one_of(
    st.integers(0, 60).map(str),
    st.sampled_from(
        ["\\pi", "\\sqrt{2}", "\\sqrt{12}", "\\sqrt[3]{16}", "\\frac{3}{8}", "\\frac76"]
    ),
)


@st.composite
def _expressions(draw: st.DrawFn, depth: int = 0) -> str:
    if depth >= 2 or draw(st.booleans()):
        return draw(_atoms)
    left = draw(_expressions(depth + 1))
    right = draw(_expressions(depth + 1))
    form = draw(st.sampled_from(["{a}+{b}", "{a}-{b}", "{a}\\cdot{b}", "\\frac{{{a}}}{{{b}}}",
                                 "({a})^{{2}}", "-({a})", "\\sqrt{{{a}+{b}}}", "{a}\\div({b})"]))  # fmt: skip
    return form.format(a=left, b=right)


@settings(
    max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(_expressions())
def test_keys_agree_with_the_worker_on_generated_expressions(text: str) -> None:
    local = numeric_key(text)
    if local is not None:
        assert local == _worker_key(text), text
