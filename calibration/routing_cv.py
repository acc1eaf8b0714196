"""Choosing a strategy per bin, and the held-out accuracy of doing so.

The choice rule, in one place: highest accuracy; accuracies equal to within
``TIE_TOLERANCE`` are a tie, broken by the lower mean FLOPs, then fewer generations,
then the order the strategies were listed in (a stable, documented last resort).

Two-fold cross-validation as in Snell et al.: within every bin, problems are split at
random into two halves; the best strategy per (bin, budget) is chosen on one half and
its accuracy measured on the other, and vice versa. Averaged over ``repeats`` random
splits. The in-sample figure (choose and measure on all problems) is an upper bound of
the held-out one for every split, since the held-out pick can never beat the best
strategy on the held-out half; reporting it alongside shows how much choosing costs.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from calibration.table import RoutingFigures

TIE_TOLERANCE = 1e-9
NO_STRATEGY = -1


def pick_best(accuracy: np.ndarray, flops: np.ndarray, generations: np.ndarray) -> int:
    """Index of the best strategy (NaN accuracy: not available); -1 when none is."""
    available = ~np.isnan(accuracy)
    if not available.any():
        return NO_STRATEGY
    top = np.nanmax(accuracy)
    tied = [int(i) for i in np.flatnonzero(available & (accuracy >= top - TIE_TOLERANCE))]
    return min(tied, key=lambda i: (_finite(float(flops[i])), _finite(float(generations[i])), i))


def _finite(value: float) -> float:
    return float(value) if np.isfinite(value) else float("inf")


@dataclass(frozen=True)
class PerProblem:
    """Per-problem means over seeds: ``accuracy[p, s, b]``, ``flops``, ``generations``."""

    accuracy: np.ndarray
    flops: np.ndarray
    generations: np.ndarray


def _mean_over(values: np.ndarray, rows: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        result: np.ndarray = np.nanmean(values[rows], axis=0)
    return result


def routing_figures(
    per_problem: PerProblem,
    levels: Mapping[int, np.ndarray],
    budgets: Sequence[int],
    repeats: int,
    rng: np.random.Generator,
) -> RoutingFigures:
    """Held-out (two-fold CV) and in-sample accuracy of choosing the strategy by bin.

    ``levels`` maps each level to the row indices (into ``per_problem``) of its problems.
    """
    total = sum(len(rows) for rows in levels.values())
    num_budgets = len(budgets)
    in_sample_sum = np.zeros(num_budgets)
    heldout_sum_by_level = {level: np.zeros(num_budgets) for level in levels}

    for rows in levels.values():
        for b in range(num_budgets):
            means = _mean_over(per_problem.accuracy[:, :, b], rows)
            if len(rows) and not np.isnan(means).all():
                in_sample_sum[b] += len(rows) * np.nanmax(means)

    for _ in range(repeats):
        folds = {level: split_in_two(rows, rng) for level, rows in levels.items()}
        train_all = [np.concatenate([f[i] for f in folds.values()]) for i in (0, 1)]
        for level, halves in folds.items():
            for train, test in ((0, 1), (1, 0)):
                if len(halves[test]) == 0:
                    continue
                choice_rows = halves[train] if len(halves[train]) else train_all[train]
                for b in range(num_budgets):
                    chosen = _choose(per_problem, choice_rows, b)
                    if chosen == NO_STRATEGY:
                        continue
                    outcomes = per_problem.accuracy[halves[test], chosen, b]
                    heldout_sum_by_level[level][b] += _nan_sum_as_mean(outcomes)

    heldout = {
        budget: float(sum(s[b] for s in heldout_sum_by_level.values()) / (repeats * total))
        if total
        else float("nan")
        for b, budget in enumerate(budgets)
    }
    in_sample = {
        budget: float(in_sample_sum[b] / total) if total else float("nan")
        for b, budget in enumerate(budgets)
    }
    by_level = {
        level: {
            budget: float(sums[b] / (repeats * len(levels[level])))
            for b, budget in enumerate(budgets)
            if len(levels[level])
        }
        for level, sums in heldout_sum_by_level.items()
    }
    return RoutingFigures(heldout, in_sample, by_level, repeats)


def _choose(per_problem: PerProblem, rows: np.ndarray, budget_index: int) -> int:
    return pick_best(
        _mean_over(per_problem.accuracy[:, :, budget_index], rows),
        _mean_over(per_problem.flops[:, :, budget_index], rows),
        _mean_over(per_problem.generations[:, :, budget_index], rows),
    )


def _nan_sum_as_mean(outcomes: np.ndarray) -> float:
    """Sum of outcomes, counting a missing run (an errored search) as the mean of the rest."""
    if len(outcomes) == 0:
        return 0.0
    present = outcomes[~np.isnan(outcomes)]
    if len(present) == 0:
        return 0.0
    return float(present.mean() * len(outcomes))


def split_in_two(rows: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A random half of ``rows`` (the larger when odd) and the rest; the curves replay it."""
    shuffled = rng.permutation(rows)
    half = (len(shuffled) + 1) // 2
    return shuffled[:half], shuffled[half:]
