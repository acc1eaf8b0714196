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
The splits come from ``two_fold_splits`` alone, which the curves' replay
(``calibration.curves.routing``) walks too, so both see the very same halves.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from calibration.analysis.table import RoutingFigures

TIE_TOLERANCE = 1e-9
NO_STRATEGY = -1
SPLIT_STREAM = 2  # the splits draw from default_rng([seed, SPLIT_STREAM])


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
    seed: int,
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

    for fold in two_fold_splits(levels, repeats, seed):
        for b in range(num_budgets):
            chosen = _choose(per_problem, fold.choose, b)
            if chosen == NO_STRATEGY:
                continue
            outcomes = per_problem.accuracy[fold.test, chosen, b]
            heldout_sum_by_level[fold.level][b] += _nan_sum_as_mean(outcomes)

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


@dataclass(frozen=True)
class Fold:
    """One half of one repeat's split of one level: choose on ``choose``, measure on
    ``test`` (row indices into the per-problem arrays)."""

    level: int
    choose: np.ndarray
    test: np.ndarray


def two_fold_splits(levels: Mapping[int, np.ndarray], repeats: int, seed: int) -> Iterator[Fold]:
    """The folds of ``repeats`` random two-fold splits of every level, in a fixed order.

    Each repeat halves every level at random; each half is measured once with the other
    half as the choosing set. A level of one problem has an empty half: its problem is
    then measured with a choice made on the other levels' halves of the same side.
    """
    rng = np.random.default_rng([seed, SPLIT_STREAM])
    for _ in range(repeats):
        halves = {level: split_in_two(rows, rng) for level, rows in levels.items()}
        side_all = [np.concatenate([h[i] for h in halves.values()]) for i in (0, 1)]
        for level, (first, second) in halves.items():
            for choose, test, side in ((first, second, 0), (second, first, 1)):
                if len(test) == 0:
                    continue
                yield Fold(level, choose if len(choose) else side_all[side], test)


def split_in_two(rows: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A random half of ``rows`` (the larger when odd) and the rest."""
    shuffled = rng.permutation(rows)
    half = (len(shuffled) + 1) // 2
    return shuffled[:half], shuffled[half:]
