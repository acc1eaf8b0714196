"""is_equivalent and canonical_key on numbers written in many notations, and majority_vote
against a brute-force pairwise vote."""

from __future__ import annotations

import random
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from strategies.answers import canonical_key, is_equivalent, majority_vote, numbers, pool

PROPERTY_SETTINGS = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)

# A value is ("rational", Fraction), ("root", (a, b, c)) meaning a*sqrt(b)/c, or
# ("tuple", (value, value)).
Value = tuple


def _is_terminating(value: Fraction) -> bool:
    denominator = value.denominator
    for prime in (2, 5):
        while denominator % prime == 0:
            denominator //= prime
    return denominator == 1


def rational_notations(value: Fraction) -> list[str]:
    numerator, denominator = value.numerator, value.denominator
    sign = "-" if numerator < 0 else ""
    size = abs(numerator)
    if denominator == 1:
        forms = [
            str(numerator),
            f"{numerator}.0",
            f"\\frac{{{2 * numerator}}}{{2}}",
            f"{numerator}.00",
        ]
    else:
        forms = [
            f"{sign}\\frac{{{size}}}{{{denominator}}}",
            f"{sign}\\dfrac{{{size}}}{{{denominator}}}",
            f"{numerator}/{denominator}",
            f"\\frac{{{numerator}}}{{{denominator}}}",
            f"{sign}\\frac{{{2 * size}}}{{{2 * denominator}}}",
        ]
        if size < 10 and denominator < 10:
            forms.append(f"{sign}\\frac{size}{denominator}")
        if _is_terminating(value):
            forms.append(str(float(value)))
    return forms


def root_notations(a: int, b: int, c: int) -> list[str]:
    """a*sqrt(b)/c with b square-free and a, c coprime."""
    if c == 1:
        forms = [f"{a}\\sqrt{{{b}}}", f"\\sqrt{{{a * a * b}}}", f"\\sqrt{{{b}}}\\cdot {a}"]
        if a == 1:
            forms += [f"\\sqrt{{{b}}}", f"\\sqrt {b}"]
    else:
        forms = [
            f"\\frac{{{a}\\sqrt{{{b}}}}}{{{c}}}",
            f"\\frac{{{a}}}{{{c}}}\\sqrt{{{b}}}",
            f"\\frac{{\\sqrt{{{a * a * b}}}}}{{{c}}}",
        ]
    return [form.replace("1\\sqrt", "\\sqrt") if a == 1 else form for form in forms]


def notations(value: Value) -> list[str]:
    kind, payload = value
    if kind == "rational":
        return rational_notations(payload)
    if kind == "root":
        return root_notations(*payload)
    first, second = (notations(element) for element in payload)
    pairs = [(x, y) for x in first[:3] for y in second[:3]]
    return [f"({x}, {y})" for x, y in pairs] + [f"\\left( {x}, {y} \\right)" for x, y in pairs[:2]]


def numeric(value: Value) -> tuple[float, ...]:
    kind, payload = value
    if kind == "rational":
        return (float(payload),)
    if kind == "root":
        a, b, c = payload
        return (a * b**0.5 / c,)
    return numeric(payload[0]) + numeric(payload[1])


integers = st.integers(-60, 400).map(lambda n: ("rational", Fraction(n)))
fractions = (
    st.tuples(st.integers(-40, 40), st.integers(2, 12))
    .filter(lambda pair: pair[0] % pair[1] != 0)
    .map(lambda pair: ("rational", Fraction(*pair)))
)
decimals = (
    st.integers(-999, 999)
    .filter(lambda n: n % 10 != 0)
    .map(lambda n: ("rational", Fraction(n, 100)))
)
roots = (
    st.tuples(st.integers(1, 5), st.sampled_from([2, 3, 5, 6, 7]), st.sampled_from([1, 2, 3]))
    .filter(lambda triple: triple[0] % triple[2] != 0 or triple[2] == 1)
    .map(lambda triple: ("root", triple))
)
scalars = st.one_of(integers, fractions, decimals, roots)
pairs = st.tuples(st.one_of(integers, fractions), st.one_of(integers, fractions)).map(
    lambda pair: ("tuple", pair)
)
values = st.one_of(scalars, pairs)


@st.composite
def written(
    draw: st.DrawFn, value_strategy: st.SearchStrategy[Value] = values
) -> tuple[Value, str]:
    value = draw(value_strategy)
    return value, draw(st.sampled_from(notations(value)))


@PROPERTY_SETTINGS
@given(written())
def test_is_equivalent_is_reflexive(item: tuple[Value, str]) -> None:
    _, text = item
    assert is_equivalent(text, text)
    # The same through math-verify itself, past the string shortcut.
    verdict = pool.worker_pool().call({"op": "equiv", "pred": text, "gold": text}, 30)
    assert verdict is True, text


@PROPERTY_SETTINGS
@given(st.data())
def test_is_equivalent_is_symmetric_and_right(data: st.DataObject) -> None:
    pool = data.draw(st.lists(values, min_size=1, max_size=3, unique=True))
    first_value = data.draw(st.sampled_from(pool))
    second_value = data.draw(st.sampled_from(pool))
    first = data.draw(st.sampled_from(notations(first_value)))
    second = data.draw(st.sampled_from(notations(second_value)))
    forward, backward = is_equivalent(first, second), is_equivalent(second, first)
    assert forward == backward, (first, second)
    same = first_value == second_value
    assert forward == same, (first, second)


@PROPERTY_SETTINGS
@given(values, st.data())
def test_every_notation_of_a_value_is_equivalent_and_shares_a_key(
    value: Value, data: st.DataObject
) -> None:
    forms = notations(value)
    first = data.draw(st.sampled_from(forms))
    second = data.draw(st.sampled_from(forms))
    assert is_equivalent(first, second), (first, second)
    assert canonical_key(first) == canonical_key(second), (first, second)


@PROPERTY_SETTINGS
@given(written(scalars), written(scalars))
def test_distinct_numbers_are_not_equivalent_and_have_distinct_keys(
    first: tuple[Value, str], second: tuple[Value, str]
) -> None:
    (first_value, first_text), (second_value, second_text) = first, second
    if abs(numeric(first_value)[0] - numeric(second_value)[0]) < 1e-4:
        return
    assert not is_equivalent(first_text, second_text), (first_text, second_text)
    assert canonical_key(first_text) != canonical_key(second_text), (first_text, second_text)


@pytest.mark.parametrize(
    "forms",
    [
        [
            "0.5",
            "\\frac12",
            "1/2",
            "\\frac{1}{2}",
            "\\dfrac{1}{2}",
            "50\\%",
            "0.50",
            "\\frac{2}{4}",
        ],
        ["0.25", "\\frac14", "1/4", "25\\%"],
        ["-3", "-3.0", "\\frac{-6}{2}", "-\\frac{6}{2}", "x = -3"],
        ["\\frac{\\sqrt{2}}{2}", "\\frac{1}{\\sqrt{2}}", "\\sqrt{2}/2", "\\frac{\\sqrt2}{2}"],
        ["(1, 2)", "\\left( 1, 2 \\right)", "(1,2)", "(\\frac{2}{2}, 2)"],
        ["\\{1, 2\\}", "\\{2, 1\\}", "1, 2", "2,1"],
        ["[1, 2)", "\\left[ 1, 2 \\right)"],
        ["x^2+2x+1", "(x+1)^2", "1 + 2x + x^2"],
        ["\\pi", "3.14159265358979"],
        ["1,000", "1000", "1{,}000"],
        ["90^\\circ", "90"],
        ["\\text{Monday}", "Monday", "\\text{monday}"],
        ["\\infty", "\\infty "],
    ],
)
def test_common_notations_are_equivalent(forms: list[str]) -> None:
    for form in forms[1:]:
        assert is_equivalent(form, forms[0]), (form, forms[0])
        assert is_equivalent(forms[0], form), (forms[0], form)


@pytest.mark.parametrize(
    "forms",
    [
        ["0.5", "\\frac12", "1/2", "\\frac{1}{2}", "0.50", "\\frac{2}{4}"],
        ["-3", "-3.0", "\\frac{-6}{2}", "x = -3"],
        ["\\frac{\\sqrt{2}}{2}", "\\frac{1}{\\sqrt{2}}", "\\sqrt{2}/2"],
        ["(1, 2)", "\\left( 1, 2 \\right)", "(\\frac{2}{2}, 2)"],
        ["\\{1, 2\\}", "\\{2, 1\\}", "1, 2"],
        ["x^2+2x+1", "(x+1)^2"],
        ["\\pi", "3.14159265358979"],
        ["1,000", "1000"],
        ["50\\%", "50"],
        ["\\text{Monday}", "Monday"],
        ["x < 3", "3 > x"],
    ],
)
def test_common_notations_share_a_canonical_key(forms: list[str]) -> None:
    assert len({canonical_key(form) for form in forms}) == 1, [canonical_key(f) for f in forms]


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("2+\\sqrt{3}", "2-\\sqrt{3}"),
        ("(1, 2)", "(2, 1)"),
        ("\\frac{1}{3}", "0.33"),
        ("x+1", "y+1"),
        ("[1, 2)", "[1, 2]"),
        ("\\text{Monday}", "\\text{Tuesday}"),
    ],
)
def test_different_answers_are_not_equivalent_and_do_not_share_a_key(
    first: str, second: str
) -> None:
    assert not is_equivalent(first, second)
    assert canonical_key(first) != canonical_key(second)


def brute_force_vote(answers_list: list[str | None], equivalent: object) -> str | None:
    """Majority by comparing every answer with every group found so far (ties: first seen)."""
    groups: list[list[str]] = []
    for answer in answers_list:
        if answer is None:
            continue
        for group in groups:
            if equivalent(answer, group[0]):  # type: ignore[operator]
                group.append(answer)
                break
        else:
            groups.append([answer])
    if not groups:
        return None
    largest = max(len(group) for group in groups)
    return next(group[0] for group in groups if len(group) == largest)


def test_majority_vote_agrees_with_a_brute_force_pairwise_vote() -> None:
    rng = random.Random(20_241_121)
    vocabulary: list[Value] = (
        [("rational", Fraction(n)) for n in (-4, 0, 3, 12, 250)]
        + [("rational", Fraction(p, q)) for p, q in ((1, 2), (-3, 4), (7, 3), (5, 8))]
        + [("root", (1, 2, 1)), ("root", (3, 5, 2))]
        + [("tuple", (("rational", Fraction(1)), ("rational", Fraction(1, 2))))]
    )
    verdicts: dict[tuple[str, str], bool] = {}

    def equivalent(first: str, second: str) -> bool:
        if (first, second) not in verdicts:
            verdicts[first, second] = is_equivalent(first, second)
        return verdicts[first, second]

    disagreements = []
    for case in range(100):
        chosen = rng.sample(vocabulary, rng.randint(1, 4))
        size = rng.randint(1, 14)
        answer_list: list[str | None] = []
        for _ in range(size):
            if rng.random() < 0.1:
                answer_list.append(None)
            else:
                answer_list.append(rng.choice(notations(rng.choice(chosen))))
        expected = brute_force_vote(answer_list, equivalent)
        got = majority_vote(answer_list)
        if got != expected:
            disagreements.append((case, answer_list, expected, got))
    assert not disagreements, disagreements[:3]


simple_answers = st.one_of(
    st.integers(-999, 999).map(str),
    st.integers(-9999, 9999).map(lambda n: f"{n / 100:.2f}"),
    st.integers(-9999, 9999).map(lambda n: f"{n / 1000}"),
    st.tuples(st.integers(-30, 30), st.integers(1, 12)).map(
        lambda pair: f"\\frac{{{pair[0]}}}{{{pair[1]}}}"
    ),
    st.tuples(st.integers(0, 30), st.integers(1, 12)).map(
        lambda pair: f"-\\frac{{{pair[0]}}}{{{pair[1]}}}"
    ),
    st.tuples(st.integers(-30, 30), st.integers(1, 12)).map(lambda pair: f"{pair[0]}/{pair[1]}"),
    st.tuples(st.integers(1, 9), st.integers(1, 9)).map(lambda pair: f"\\frac{pair[0]}{pair[1]}"),
    st.sampled_from(
        ["1,000", "12,500", "0.333333", "0.3333333", "0.6666667", "x=4", "y=-2", "x=0.25"]
    ),
)


@PROPERTY_SETTINGS
@given(simple_answers, simple_answers)
def test_local_reading_of_simple_answers_agrees_with_math_verify(first: str, second: str) -> None:
    """Simple answers skip the worker; math-verify must give the same verdicts and keys."""
    workers = pool.worker_pool()
    local = numbers.simple_verdict(first, second)
    if local is not None:
        assert local == workers.call({"op": "equiv", "pred": first, "gold": second}, 30), (
            first,
            second,
        )
    for text in (first, second):
        assert numbers.simple_key(text) == workers.call({"op": "key", "answer": text}, 30), text
