"""Seeded arithmetic word problems with graded difficulty and exact answers.

This is the workload the CPU default model (SmolLM2-135M) can partly solve, so the levels
follow what it was measured to get right (DESIGN.md s.4: pass@1 about 0.8 on 3 + 4, 0.4
on 47 + 38 and 6 x 7, 0 on 120 - 45). Calibration needs a real spread of difficulty, so
levels 1-2 are easy for it and level 5 is out of its reach:

1. one step, single digits, sum at most 10: ``3 + 4``
2. one step, single digits: sums that carry and differences: ``8 + 5``, ``9 - 4``
3. one step with a two-digit number, or a times-table product: ``47 + 38``, ``61 - 6``,
   ``6 * 7``
4. three-digit differences, two-digit products, two-step sums: ``120 - 45``, ``23 * 4``,
   ``47 + 38 - 19``
5. three operations on larger numbers: ``(347 + 218) * 7 - 506``, ``23 * 41 + 17 * 56``

Answers are computed with Python ints from the operands (never by evaluating text) and
are positive, as is every intermediate result, so every story makes sense. Text is either
a short story or a bare expression ("What is 47 + 38?"), chosen by the seeded generator,
with more stories at the harder levels; ``metadata["expression"]`` always holds the
Python expression, so a checker can recompute the answer independently.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from strategies.problems import Problem

ARITHMETIC_LEVELS: tuple[int, ...] = (1, 2, 3, 4, 5)

# Draws that repeat an expression already used at the same level are retried this often
# before the repeat is accepted (level 1 has only 35 distinct sums, level 2 has 71 sums
# and differences).
_MAX_REDRAWS = 50

_PEOPLE: tuple[tuple[str, str], ...] = (
    ("Tom", "he"),
    ("Mia", "she"),
    ("Ben", "he"),
    ("Lily", "she"),
    ("Omar", "he"),
    ("Zoe", "she"),
    ("Ravi", "he"),
    ("Ana", "she"),
)
_ITEMS: tuple[str, ...] = (
    "apples",
    "marbles",
    "stickers",
    "pencils",
    "cookies",
    "stamps",
    "shells",
    "cards",
)

_ADD_STORIES = (
    "{name} has {a} {item} and buys {b} more. How many {item} does {pronoun} have now?",
    "A basket holds {a} {item}. {name} puts in {b} more. How many {item} are in the basket now?",
)
_SUB_STORIES = (
    "{name} has {a} {item} and gives away {b}. How many {item} does {pronoun} have left?",
    "A shop has {a} {item} and sells {b} of them. How many {item} are left?",
)
_MUL_STORIES = (
    "{name} buys {a} bags with {b} {item} in each bag. How many {item} does {pronoun} buy?",
    "There are {a} rows of {item} with {b} {item} in each row. How many {item} are there?",
)
# Bare expressions are asked exactly like the worked example in SmolLM2's prompt
# ("What is 9 + 6?"), so the easy levels stay easy for it.
_BARE_FORM = "What is {expression}?"

# Share of word problems per level. Stories are much harder than bare sums for a 135M
# model (measured: 0 of 40 samples right on five level-1 stories, 4 of 8 on "7 + 9"), so
# the easy levels are mostly bare and the word form grows with the level.
DEFAULT_WORD_SHARE: dict[int, float] = {1: 0.25, 2: 0.25, 3: 0.5, 4: 0.5, 5: 0.5}


@dataclass(frozen=True)
class _Shape:
    """An expression pattern: operand ranges, the exact value, and stories that tell it.

    ``pattern`` uses Python operators; ``value`` computes the answer from the operands
    directly, so a wrong pattern and a wrong value disagree and the tests notice.
    """

    pattern: str
    ranges: Mapping[str, tuple[int, int]]
    value: Callable[[Mapping[str, int]], int]
    stories: tuple[str, ...]
    answers: tuple[int, int]  # inclusive bounds on the answer; draws outside are redrawn


def _shape(
    pattern: str,
    value: Callable[[Mapping[str, int]], int],
    stories: tuple[str, ...],
    answers: tuple[int, int] = (1, 10**9),
    **ranges: tuple[int, int],
) -> _Shape:
    return _Shape(pattern, ranges, value, stories, answers)


_SHAPES: dict[int, tuple[_Shape, ...]] = {
    1: (_shape("{a} + {b}", lambda v: v["a"] + v["b"], _ADD_STORIES, (1, 10), a=(2, 8), b=(1, 8)),),
    2: (
        _shape("{a} + {b}", lambda v: v["a"] + v["b"], _ADD_STORIES, (11, 18), a=(2, 9), b=(2, 9)),
        _shape("{a} - {b}", lambda v: v["a"] - v["b"], _SUB_STORIES, a=(3, 9), b=(1, 8)),
    ),
    3: (
        _shape("{a} + {b}", lambda v: v["a"] + v["b"], _ADD_STORIES, a=(10, 99), b=(2, 99)),
        _shape("{a} - {b}", lambda v: v["a"] - v["b"], _SUB_STORIES, a=(10, 99), b=(2, 99)),
        _shape("{a} * {b}", lambda v: v["a"] * v["b"], _MUL_STORIES, a=(2, 9), b=(2, 9)),
    ),
    4: (
        _shape("{a} - {b}", lambda v: v["a"] - v["b"], _SUB_STORIES, a=(100, 999), b=(10, 99)),
        _shape("{a} * {b}", lambda v: v["a"] * v["b"], _MUL_STORIES, a=(11, 99), b=(2, 9)),
        _shape(
            "{a} + {b} - {c}",
            lambda v: v["a"] + v["b"] - v["c"],
            (
                "{name} has {a} {item}, buys {b} more and then gives away {c}. "
                "How many {item} does {pronoun} have now?",
            ),
            a=(10, 99),
            b=(10, 99),
            c=(10, 99),
        ),
    ),
    5: (
        _shape(
            "({a} + {b}) * {c} - {d}",
            lambda v: (v["a"] + v["b"]) * v["c"] - v["d"],
            (
                "Each box holds {a} red {item} and {b} blue {item}. {name} fills {c} boxes "
                "and then gives away {d} {item}. How many {item} does {pronoun} have left?",
            ),
            a=(100, 999),
            b=(100, 999),
            c=(3, 19),
            d=(100, 999),
        ),
        _shape(
            "{a} * {b} + {c} * {d}",
            lambda v: v["a"] * v["b"] + v["c"] * v["d"],
            (
                "{name} buys {a} packs of {b} {item} and {c} packs of {d} {item}. "
                "How many {item} does {pronoun} buy in total?",
            ),
            a=(11, 99),
            b=(11, 99),
            c=(11, 99),
            d=(11, 99),
        ),
        _shape(
            "({a} - {b}) * {c} + {d}",
            lambda v: (v["a"] - v["b"]) * v["c"] + v["d"],
            (
                "Each of {c} crates holds {a} {item}, but {b} {item} are taken out of every "
                "crate. Then {d} loose {item} are added. How many {item} are there now?",
            ),
            a=(200, 999),
            b=(10, 199),
            c=(3, 19),
            d=(100, 999),
        ),
    ),
}


@dataclass(frozen=True)
class _Draw:
    expression: str
    answer: int
    text: str
    form: str


def generate_arithmetic_problems(
    count: int,
    seed: int = 0,
    levels: Sequence[int] = ARITHMETIC_LEVELS,
    *,
    word_share: float | None = None,
) -> list[Problem]:
    """``count`` problems, levels taken in turn from ``levels`` so they spread evenly.

    ``word_share`` is the chance that a problem is told as a story rather than asked as a
    bare expression; None uses DEFAULT_WORD_SHARE per level. The same arguments always
    give the same problems, and a shorter list is a prefix of a longer one, so a quick run
    and a full run share their first problems.
    """
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    if word_share is not None and not 0.0 <= word_share <= 1.0:
        raise ValueError(f"word_share must be in [0, 1], got {word_share}")
    levels = tuple(levels)
    if not levels:
        raise ValueError("levels must name at least one level")
    unknown = [level for level in levels if level not in _SHAPES]
    if unknown:
        raise ValueError(f"unknown arithmetic levels {unknown}; known: {list(ARITHMETIC_LEVELS)}")
    rng = random.Random(seed)
    used: dict[int, set[str]] = {level: set() for level in levels}
    problems: list[Problem] = []
    for index in range(count):
        level = levels[index % len(levels)]
        share = DEFAULT_WORD_SHARE[level] if word_share is None else word_share
        draw = _draw_fresh(rng, level, share, used[level])
        used[level].add(draw.expression)
        problems.append(
            Problem(
                id=f"arith-{seed}-{index}",
                text=draw.text,
                answer=str(draw.answer),
                metadata={
                    "level": level,
                    "source": "arithmetic",
                    "expression": draw.expression,
                    "form": draw.form,
                },
            )
        )
    return problems


def _draw_fresh(rng: random.Random, level: int, word_share: float, used: set[str]) -> _Draw:
    draw = _draw(rng, level, word_share)
    for _ in range(_MAX_REDRAWS):
        if draw.expression not in used:
            break
        draw = _draw(rng, level, word_share)
    return draw


def _draw(rng: random.Random, level: int, word_share: float) -> _Draw:
    shape = rng.choice(_SHAPES[level])
    while True:
        operands = {name: rng.randint(low, high) for name, (low, high) in shape.ranges.items()}
        answer = shape.value(operands)
        low, high = shape.answers
        if low <= answer <= high:  # low >= 1; the ranges keep every partial result positive
            break
    expression = shape.pattern.format(**operands)
    if rng.random() < word_share:
        name, pronoun = rng.choice(_PEOPLE)
        text = rng.choice(shape.stories).format(
            name=name, pronoun=pronoun, item=rng.choice(_ITEMS), **operands
        )
        return _Draw(expression, answer, text, "word")
    shown = expression.replace("*", "\u00d7")
    text = _BARE_FORM.format(expression=shown)
    return _Draw(expression, answer, text, "bare")
