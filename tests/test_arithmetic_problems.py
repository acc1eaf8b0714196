"""The seeded arithmetic generator: deterministic, evenly levelled, exactly answered."""

from __future__ import annotations

import ast
import itertools
import re
import statistics
from collections import Counter

import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from strategies.arithmetic_problems import ARITHMETIC_LEVELS, generate_arithmetic_problems
from strategies.problems import Problem


def _as_tuples(problems: list[Problem]) -> list[tuple]:
    # Problem equality ignores metadata, so compare it explicitly.
    return [(p.id, p.text, p.answer, p.metadata) for p in problems]


def _operators(expression: str) -> list[type]:
    return [
        type(node.op) for node in ast.walk(ast.parse(expression)) if isinstance(node, ast.BinOp)
    ]


def _numbers(expression: str) -> list[int]:
    return [
        node.value for node in ast.walk(ast.parse(expression)) if isinstance(node, ast.Constant)
    ]


def _every_partial_result(expression: str) -> list[int]:
    """Values of every sub-expression, by sympy on each BinOp's source."""
    return [
        int(sympy.sympify(ast.unparse(node)))
        for node in ast.walk(ast.parse(expression))
        if isinstance(node, ast.BinOp)
    ]


def test_same_seed_gives_the_same_problems():
    assert _as_tuples(generate_arithmetic_problems(40, seed=7)) == _as_tuples(
        generate_arithmetic_problems(40, seed=7)
    )


def test_distinct_seeds_give_distinct_problems():
    texts = {
        seed: [p.text for p in generate_arithmetic_problems(20, seed=seed)] for seed in range(5)
    }
    for seed in range(1, 5):
        assert texts[seed] != texts[0]
        # Not just a reshuffle: most problems differ position by position.
        assert sum(a != b for a, b in zip(texts[seed], texts[0], strict=True)) >= 15


def test_shorter_list_is_a_prefix_of_a_longer_one():
    short = generate_arithmetic_problems(12, seed=3)
    long = generate_arithmetic_problems(50, seed=3)
    assert _as_tuples(long[:12]) == _as_tuples(short)


def test_ids_and_metadata():
    problems = generate_arithmetic_problems(10, seed=42)
    assert [p.id for p in problems] == [f"arith-42-{i}" for i in range(10)]
    for problem in problems:
        assert problem.metadata["source"] == "arithmetic"
        assert problem.metadata["level"] in ARITHMETIC_LEVELS
        assert problem.metadata["form"] in {"word", "bare"}


@pytest.mark.parametrize(
    ("count", "levels"), [(23, (1, 2, 3, 4, 5)), (100, (1, 2, 3, 4, 5)), (9, (2, 4))]
)
def test_levels_spread_evenly(count, levels):
    problems = generate_arithmetic_problems(count, seed=0, levels=levels)
    counts = Counter(p.metadata["level"] for p in problems)
    assert set(counts) == set(levels)
    assert max(counts.values()) - min(counts.values()) <= 1
    # Taken in turn, so any prefix spans the levels too.
    assert [p.metadata["level"] for p in problems[: len(levels)]] == list(levels)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32))
def test_answers_are_exact_and_match_the_text(seed):
    for problem in generate_arithmetic_problems(15, seed=seed):
        expression = problem.metadata["expression"]
        assert problem.answer == str(sympy.sympify(expression))
        assert all(value > 0 for value in _every_partial_result(expression)), expression
        in_text = [int(n) for n in re.findall(r"\d+", problem.text)]
        assert sorted(in_text) == sorted(_numbers(expression)), problem.text
        if problem.metadata["form"] == "bare":
            assert expression.replace("*", "\u00d7") in problem.text


def test_word_and_bare_forms_are_both_used_with_more_stories_at_hard_levels():
    problems = generate_arithmetic_problems(1000, seed=1)
    forms = Counter(p.metadata["form"] for p in problems)
    assert forms["word"] > 250
    assert forms["bare"] > 250
    story_share = {
        level: statistics.mean(
            p.metadata["form"] == "word" for p in problems if p.metadata["level"] == level
        )
        for level in ARITHMETIC_LEVELS
    }
    assert story_share[1] < story_share[5]
    assert story_share[2] < story_share[4]


@pytest.mark.parametrize(("share", "form"), [(0.0, "bare"), (1.0, "word")])
def test_word_share_can_force_one_form(share, form):
    problems = generate_arithmetic_problems(30, seed=2, word_share=share)
    assert {p.metadata["form"] for p in problems} == {form}
    if form == "bare":
        assert all(p.text.startswith("What is ") for p in problems)


def test_expressions_do_not_repeat_within_a_level_until_the_level_runs_out():
    problems = generate_arithmetic_problems(125, seed=5)  # 25 a level; level 1 has 35 sums
    expressions = [p.metadata["expression"] for p in problems]
    assert len(set(expressions)) == len(expressions)
    level_one = generate_arithmetic_problems(100, seed=5, levels=(1,))
    assert len({p.metadata["expression"] for p in level_one}) == 35


def _by_level(problems: list[Problem]) -> dict[int, list[str]]:
    expressions: dict[int, list[str]] = {level: [] for level in ARITHMETIC_LEVELS}
    for problem in problems:
        expressions[problem.metadata["level"]].append(problem.metadata["expression"])
    return expressions


def test_each_level_has_its_documented_shape():
    by_level = _by_level(generate_arithmetic_problems(500, seed=11))
    for expression in by_level[1]:
        assert _operators(expression) == [ast.Add]
        assert max(_numbers(expression)) <= 9
        assert sum(_numbers(expression)) <= 10
    for expression in by_level[2]:
        assert _operators(expression) in ([ast.Add], [ast.Sub])
        assert max(_numbers(expression)) <= 9
        if _operators(expression) == [ast.Add]:
            assert sum(_numbers(expression)) >= 11
    for expression in by_level[3]:
        assert len(_operators(expression)) == 1
        assert max(_numbers(expression)) >= 10 or _operators(expression) == [ast.Mult]
    for expression in by_level[4]:
        two_steps = len(_operators(expression)) == 2
        assert two_steps or max(_numbers(expression)) >= 11
    for expression in by_level[5]:
        assert len(_operators(expression)) == 3
        assert max(_numbers(expression)) >= 11


def test_difficulty_grows_with_level():
    """Difficulty as the model meets it: how many digits it handles, how many steps."""
    by_level = _by_level(generate_arithmetic_problems(500, seed=11))
    mean_digits = [
        statistics.mean(sum(len(str(n)) for n in _numbers(e)) for e in by_level[level])
        for level in ARITHMETIC_LEVELS
    ]
    assert mean_digits == sorted(mean_digits)
    assert all(low < high for low, high in itertools.pairwise(mean_digits[1:])), mean_digits
    mean_operations = [
        statistics.mean(len(_operators(e)) for e in by_level[level]) for level in ARITHMETIC_LEVELS
    ]
    assert mean_operations == sorted(mean_operations)
    assert mean_operations[4] == 3


def test_bad_arguments_are_refused():
    assert generate_arithmetic_problems(0) == []
    with pytest.raises(ValueError, match="count"):
        generate_arithmetic_problems(-1)
    with pytest.raises(ValueError, match="at least one level"):
        generate_arithmetic_problems(3, levels=())
    with pytest.raises(ValueError, match=r"unknown arithmetic levels \[6\]"):
        generate_arithmetic_problems(3, levels=(1, 6))
    with pytest.raises(ValueError, match="word_share"):
        generate_arithmetic_problems(3, word_share=1.5)
