"""The table: choice rule, bootstrap intervals, two-fold CV and the JSON round trip."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from calibration.analysis.bootstrap import bootstrap_interval
from calibration.analysis.difficulty import ProblemDifficulty, quantile_binning
from calibration.analysis.evaluations import EvaluationCube, EvaluationRow, evaluations_frame
from calibration.analysis.routing_cv import PerProblem, pick_best, routing_figures
from calibration.analysis.table import CalibrationTable
from calibration.analysis.table_builder import build_table

STRATEGIES = ("majority", "best_of_n", "beam_search")
BUDGETS = (1, 2, 4)


def test_pick_best_breaks_ties_by_cost_and_skips_missing():
    accuracy = np.array([0.5, 0.7, 0.7, np.nan])
    flops = np.array([1.0, 3.0, 2.0, 0.0])
    generations = np.array([1.0, 1.0, 1.0, 1.0])
    assert pick_best(accuracy, flops, generations) == 2
    assert pick_best(np.array([np.nan, np.nan]), flops[:2], generations[:2]) == -1
    # equal flops: fewer generations wins
    assert pick_best(np.array([0.7, 0.7]), np.array([2.0, 2.0]), np.array([4.0, 2.0])) == 1


def test_bootstrap_interval_brackets_the_mean_and_collapses_when_constant():
    rng = np.random.default_rng(0)
    runs = rng.random((40, 3, 2))
    low, high = bootstrap_interval(runs, 500, np.random.default_rng(1))
    mean = runs.mean(axis=(0, 1))
    assert (low < mean).all() and (mean < high).all()
    constant = np.full((10, 2, 1), 0.25)
    low, high = bootstrap_interval(constant, 100, np.random.default_rng(1))
    assert low[0] == pytest.approx(0.25) and high[0] == pytest.approx(0.25)


def random_per_problem(rng, problems, strategies, budgets):
    accuracy = rng.random((problems, strategies, budgets))
    return PerProblem(
        accuracy=accuracy,
        flops=rng.random((problems, strategies, budgets)),
        generations=np.ones((problems, strategies, budgets)),
    )


@pytest.mark.parametrize("seed", range(10))
def test_heldout_routing_never_beats_in_sample(seed):
    rng = np.random.default_rng(seed)
    problems = int(rng.integers(12, 60))
    per_problem = random_per_problem(rng, problems, 4, 3)
    # make accuracy binary for some seeds: many exact ties
    if seed % 2:
        per_problem = PerProblem(
            np.round(per_problem.accuracy), per_problem.flops, per_problem.generations
        )
    order = rng.permutation(problems)
    levels = {level: rows for level, rows in enumerate(np.array_split(order, 5), start=1)}
    figures = routing_figures(per_problem, levels, [1, 2, 4], 4, seed)
    for budget in (1, 2, 4):
        assert figures.heldout[budget] <= figures.in_sample[budget] + 1e-12


def test_routing_picks_the_strategy_that_wins_in_each_bin():
    # bin 1: strategy 0 always right; bin 2: strategy 1 always right
    accuracy = np.zeros((20, 2, 1))
    accuracy[:10, 0, 0] = 1.0
    accuracy[10:, 1, 0] = 1.0
    per_problem = PerProblem(accuracy, np.ones_like(accuracy), np.ones_like(accuracy))
    levels = {1: np.arange(10), 2: np.arange(10, 20)}
    figures = routing_figures(per_problem, levels, [1], 3, 0)
    assert figures.heldout[1] == pytest.approx(1.0)
    assert figures.in_sample[1] == pytest.approx(1.0)
    assert figures.heldout_by_level[2][1] == pytest.approx(1.0)


def synthetic_table() -> CalibrationTable:
    rng = np.random.default_rng(3)
    ids = [f"p{i}" for i in range(30)]
    rows = []
    for pid in ids:
        for s, strategy in enumerate(STRATEGIES):
            for budget in BUDGETS:
                if strategy == "beam_search" and budget == 1:
                    continue
                for seed in (0, 1):
                    rows.append(
                        EvaluationRow(
                            pid,
                            strategy,
                            budget,
                            seed,
                            float(rng.random() < 0.5),
                            budget,
                            10.0 * budget,
                            5.0 * budget * s,
                            100.0 * budget * (1 + s),
                        )
                    )
    frame = evaluations_frame(rows)
    cube = EvaluationCube.from_frame(frame, ids, STRATEGIES, BUDGETS, (0, 1))
    difficulties = [ProblemDifficulty(pid, (i % 7) / 6, 0.5, 6, i % 7) for i, pid in enumerate(ids)]
    binning = quantile_binning(
        "oracle", "pass@1", {d.problem_id: d.pass_at_1 for d in difficulties}
    )
    return build_table(
        cube, {"oracle": binning}, difficulties, num_resamples=50, cv_repeats=2, seed=0
    )


def test_table_cells_and_json_round_trip():
    table = synthetic_table()
    oracle = table.binning("oracle")
    assert set(oracle.cells) == {(level, b) for level in range(1, 6) for b in BUDGETS}
    assert "beam_search" not in oracle.cell(1, 1).strategies
    assert set(oracle.cell(1, 2).strategies) == set(STRATEGIES)
    for cell in oracle.cells.values():
        best = cell.strategies[cell.best]
        assert best.accuracy == max(s.accuracy for s in cell.strategies.values())
        for stats in cell.strategies.values():
            assert stats.ci_low <= stats.accuracy <= stats.ci_high
    assert CalibrationTable.from_json(table.to_json()) == table
    assert table.coverage[1] == pytest.approx(np.mean([(i % 7) / 6 for i in range(30)]))


def test_expected_accuracy_weights_levels():
    oracle = synthetic_table().binning("oracle")
    a1 = oracle.accuracy(1, 2, "majority")
    a5 = oracle.accuracy(5, 2, "majority")
    mixed = oracle.expected_accuracy({1: 0.25, 5: 0.75, 3: 0.0}, 2, "majority")
    assert mixed == pytest.approx(0.25 * a1 + 0.75 * a5)
    assert oracle.expected_accuracy({1: 1.0}, 1, "beam_search") is None


def test_evaluations_frame_is_sorted_and_typed():
    frame = evaluations_frame(
        [
            EvaluationRow("b", "majority", 2, 0, 1.0, 2, 1, 0, 1),
            EvaluationRow("a", "majority", 1, 0, 0.5, 1, 1, 0, 1),
        ]
    )
    assert list(frame["problem_id"]) == ["a", "b"]
    assert frame["budget"].dtype == np.int64
    assert isinstance(frame, pd.DataFrame)
