"""Difficulty bins: equal-count quantiles with deterministic ties, and absolute bins."""

from __future__ import annotations

import random

from calibration.analysis.difficulty import (
    ABSOLUTE,
    ORACLE,
    VERIFIER,
    ProblemDifficulty,
    absolute_level,
    quantile_levels,
    standard_binnings,
)


def tied_values(count: int, seed: int = 0) -> dict[str, float]:
    rng = random.Random(seed)
    # K=8 pools: only nine possible pass@1 values, so ties are everywhere
    return {f"p{i}": rng.randint(0, 8) / 8 for i in range(count)}


def test_quantile_bins_have_equal_sizes_despite_ties():
    values = tied_values(203)
    levels = quantile_levels(values)
    sizes = [sum(1 for lv in levels.values() if lv == level) for level in range(1, 6)]
    assert sorted(sizes) == [40, 40, 41, 41, 41]
    assert sum(sizes) == 203


def test_level_one_is_easiest_and_levels_are_monotone():
    values = tied_values(100, seed=1)
    levels = quantile_levels(values)
    for a in values:
        for b in values:
            if values[a] > values[b]:
                assert levels[a] <= levels[b]


def test_tie_break_does_not_depend_on_input_order():
    values = tied_values(57, seed=2)
    shuffled = list(values.items())
    random.Random(5).shuffle(shuffled)
    assert quantile_levels(values) == quantile_levels(dict(shuffled))


def test_absolute_bin_edges():
    assert absolute_level(1.0) == 1
    assert absolute_level(0.5) == 1
    assert absolute_level(0.4999) == 2
    assert absolute_level(0.1) == 2
    assert absolute_level(0.0999) == 3
    assert absolute_level(0.0) == 3


def test_standard_binnings_cover_every_problem():
    difficulties = [
        ProblemDifficulty(
            f"p{i}", pass_at_1=i / 49, mean_score=1 - i / 49, num_samples=49, num_correct=i
        )
        for i in range(50)
    ]
    binnings = standard_binnings(difficulties)
    assert set(binnings) == {ORACLE, VERIFIER, ABSOLUTE}
    for binning in binnings.values():
        assert set(binning.assignment) == {d.problem_id for d in difficulties}
    assert binnings[ORACLE].sizes() == {1: 10, 2: 10, 3: 10, 4: 10, 5: 10}
    # highest pass@1 is easiest by the oracle; lowest mean score is hardest by the verifier
    assert binnings[ORACLE].assignment["p49"] == 1
    assert binnings[VERIFIER].assignment["p49"] == 5
    assert binnings[ABSOLUTE].sizes() == {1: 25, 2: 20, 3: 5}
    low, high = binnings[ORACLE].value_ranges[1]
    assert low <= high == 1.0
