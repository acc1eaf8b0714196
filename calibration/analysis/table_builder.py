"""Stage 4: from per-run evaluations and difficulty bins to the calibration table."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np

from calibration.analysis.bootstrap import bootstrap_interval
from calibration.analysis.difficulty import Binning, ProblemDifficulty
from calibration.analysis.evaluations import COST_COLUMNS, EvaluationCube
from calibration.analysis.pool_estimators import pass_at_k
from calibration.analysis.routing_cv import PerProblem, pick_best, routing_figures
from calibration.analysis.table import (
    TABLE_SCHEMA_VERSION,
    BinningTable,
    BudgetCell,
    CalibrationTable,
    CostSummary,
    PredictorMetrics,
    StrategyStats,
)

_FLOPS = COST_COLUMNS.index("flops")
_GENERATIONS = COST_COLUMNS.index("generations")


def _nanmean(values: np.ndarray, axis: int | tuple[int, ...]) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        result: np.ndarray = np.nanmean(values, axis=axis)
    return result


def cell_statistics(
    cube: EvaluationCube,
    rows: np.ndarray,
    budget_index: int,
    num_resamples: int,
    rng: np.random.Generator,
) -> dict[str, StrategyStats]:
    """Each strategy that ran at this budget: accuracy, bootstrap interval, mean cost."""
    runs = cube.accuracy[rows, :, budget_index, :]  # (problems, strategies, seeds)
    costs = cube.costs[rows, :, budget_index, :, :]
    accuracy = _nanmean(runs, axis=(0, 2))
    low, high = bootstrap_interval(runs.transpose(0, 2, 1), num_resamples, rng)
    mean_costs = _nanmean(costs, axis=(0, 2))
    stats: dict[str, StrategyStats] = {}
    for s, name in enumerate(cube.strategies):
        present = ~np.isnan(runs[:, s, :])
        if not present.any():
            continue
        stats[name] = StrategyStats(
            accuracy=float(accuracy[s]),
            ci_low=float(low[s]),
            ci_high=float(high[s]),
            cost=CostSummary(*(float(v) for v in mean_costs[s])),
            num_problems=int(present.any(axis=1).sum()),
            num_runs=int(present.sum()),
        )
    return stats


def best_strategy(stats: Mapping[str, StrategyStats]) -> str:
    names = list(stats)
    index = pick_best(
        np.array([stats[n].accuracy for n in names]),
        np.array([stats[n].cost.flops for n in names]),
        np.array([stats[n].cost.generations for n in names]),
    )
    return names[index]


def per_problem_means(cube: EvaluationCube) -> PerProblem:
    return PerProblem(
        accuracy=_nanmean(cube.accuracy, axis=3),
        flops=_nanmean(cube.costs[..., _FLOPS], axis=3),
        generations=_nanmean(cube.costs[..., _GENERATIONS], axis=3),
    )


def build_binning_table(
    cube: EvaluationCube,
    binning: Binning,
    *,
    num_resamples: int,
    cv_repeats: int,
    seed: int,
    per_problem: PerProblem | None = None,
) -> BinningTable:
    rng = np.random.default_rng([seed, 1])
    level_rows = {
        level: cube.problem_indices(sorted(binning.members(level))) for level in binning.levels
    }
    cells: dict[tuple[int, int], BudgetCell] = {}
    for level, rows in level_rows.items():
        if len(rows) == 0:
            continue
        for b, budget in enumerate(cube.budgets):
            stats = cell_statistics(cube, rows, b, num_resamples, rng)
            if stats:
                cells[(level, budget)] = BudgetCell(level, budget, stats, best_strategy(stats))
    routing = routing_figures(
        per_problem if per_problem is not None else per_problem_means(cube),
        level_rows,
        cube.budgets,
        cv_repeats,
        seed,
    )
    return BinningTable(
        name=binning.name,
        measure=binning.measure,
        levels=binning.levels,
        sizes=binning.sizes(),
        value_ranges=dict(binning.value_ranges),
        cells=cells,
        routing=routing,
    )


def overall_statistics(
    cube: EvaluationCube, *, num_resamples: int, seed: int
) -> dict[int, dict[str, StrategyStats]]:
    rng = np.random.default_rng([seed, 3])
    rows = np.arange(len(cube.problem_ids))
    return {
        budget: cell_statistics(cube, rows, b, num_resamples, rng)
        for b, budget in enumerate(cube.budgets)
    }


def coverage_curve(difficulties: Sequence[ProblemDifficulty]) -> dict[int, float]:
    """Mean unbiased pass@k over problems at k = 1, 2, 4, ... up to the smallest pool."""
    if not difficulties:
        return {}
    smallest = min(d.num_samples for d in difficulties)
    ks = sorted({*(2**i for i in range(smallest.bit_length()) if 2**i <= smallest), smallest})
    return {
        k: float(np.mean([pass_at_k(d.num_samples, d.num_correct, k) for d in difficulties]))
        for k in ks
        if k >= 1
    }


def build_table(
    cube: EvaluationCube,
    binnings: Mapping[str, Binning],
    difficulties: Sequence[ProblemDifficulty],
    *,
    num_resamples: int,
    cv_repeats: int,
    seed: int,
    predictor: PredictorMetrics | None = None,
) -> CalibrationTable:
    per_problem = per_problem_means(cube)
    return CalibrationTable(
        schema_version=TABLE_SCHEMA_VERSION,
        budgets=cube.budgets,
        strategies=cube.strategies,
        seeds=len(cube.seeds),
        num_problems=len(cube.problem_ids),
        binnings={
            name: build_binning_table(
                cube,
                binning,
                num_resamples=num_resamples,
                cv_repeats=cv_repeats,
                seed=seed,
                per_problem=per_problem,
            )
            for name, binning in binnings.items()
        },
        overall=overall_statistics(cube, num_resamples=num_resamples, seed=seed),
        coverage=coverage_curve(difficulties),
        predictor=predictor,
    )
