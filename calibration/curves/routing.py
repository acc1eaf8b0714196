"""Per-problem outcomes of choosing the strategy by bin, held out, with their cost.

``table.json`` keeps the held-out (two-fold cross-validated) accuracy of choosing the
best strategy per (bin, budget), but not what those choices cost in tokens or FLOPs
nor how uncertain the figure is. A curve against compute needs both, so this module
replays the same cross-validation on the artifact's per-run evaluations, keeping every
problem's outcome: each repeat splits every bin in two at random, picks the best
strategy per budget on one half (``routing_cv.pick_best``: ties to the cheaper one)
and charges the other half that strategy's accuracy and cost. Averaged over repeats,
the mean over problems is the table's held-out figure; the replay walks the very folds
of ``routing_cv.two_fold_splits`` (from the manifest's seed), so it reproduces that
figure exactly (a test checks this, and the curves warn if a table disagrees).

The interval is a percentile bootstrap over problems of those per-problem outcomes:
it shows which problems happened to be calibrated on, not the randomness of the
splits (which the averaging over repeats already damps).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from calibration.analysis.bootstrap import bootstrap_interval
from calibration.analysis.evaluations import COST_COLUMNS, EvaluationCube
from calibration.analysis.routing_cv import NO_STRATEGY, pick_best, two_fold_splits
from calibration.store.artifact import Artifact

_GENERATIONS = COST_COLUMNS.index("generations")
_FLOPS = COST_COLUMNS.index("flops")
DEFAULT_RESAMPLES = 1000


@dataclass(frozen=True)
class HeldoutRouting:
    """Held-out routing for one binning: per-budget mean, interval and mean cost.

    Indexed like ``budgets``; ``costs[b, c]`` follows ``COST_COLUMNS``.
    """

    binning: str
    budgets: tuple[int, ...]
    accuracy: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    costs: np.ndarray


class RoutingReplayError(ValueError):
    """The artifact lacks what the replay needs (a level column, evaluations)."""


def _nanmean(values: np.ndarray, axis: int) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        result: np.ndarray = np.nanmean(values, axis=axis)
    return result


def _cube(artifact: Artifact) -> EvaluationCube:
    frame = artifact.evaluations
    if frame.empty:
        raise RoutingReplayError(f"{artifact.path}/evaluations.parquet holds no runs")
    seeds = sorted(int(s) for s in frame["seed"].unique())
    return EvaluationCube.from_frame(
        frame,
        [str(p) for p in artifact.problems["problem_id"]],
        artifact.table.strategies,
        artifact.table.budgets,
        seeds,
    )


def _level_rows(artifact: Artifact, cube: EvaluationCube, binning: str) -> dict[int, np.ndarray]:
    """Row indices of each level's problems, sorted by id as the table builder has them."""
    column = f"{binning}_level"
    problems = artifact.problems
    if column not in problems.columns:
        raise RoutingReplayError(f"{artifact.path}/problems.parquet has no column {column!r}")
    assigned = problems[problems[column].notna()]
    ids = assigned["problem_id"].astype(str).to_numpy()
    levels = assigned[column].astype(int).to_numpy()
    return {
        level: cube.problem_indices(sorted(ids[levels == level]))
        for level in artifact.table.binning(binning).levels
    }


def replay_heldout_routing(
    artifact: Artifact, binning: str, resamples: int = DEFAULT_RESAMPLES
) -> HeldoutRouting:
    """Replay the two-fold CV of ``binning`` with per-problem outcomes and costs."""
    table = artifact.table
    cube = _cube(artifact)
    levels = _level_rows(artifact, cube, binning)
    repeats = table.binning(binning).routing.repeats
    seed = int(artifact.manifest.settings.get("seed", 0))
    accuracy = _nanmean(cube.accuracy, axis=3)  # (problems, strategies, budgets)
    costs = _nanmean(cube.costs, axis=3)  # (problems, strategies, budgets, cost)
    outcome_sum = np.zeros((len(cube.problem_ids), len(cube.budgets)))
    cost_sum = np.zeros((len(cube.problem_ids), len(cube.budgets), len(COST_COLUMNS)))

    for fold in two_fold_splits(levels, repeats, seed):
        for b in range(len(cube.budgets)):
            chosen = pick_best(
                _nanmean(accuracy[fold.choose, :, b], axis=0),
                _nanmean(costs[fold.choose, :, b, _FLOPS], axis=0),
                _nanmean(costs[fold.choose, :, b, _GENERATIONS], axis=0),
            )
            if chosen == NO_STRATEGY:
                continue
            outcome_sum[fold.test, b] += _fill_missing(accuracy[fold.test, chosen, b])
            for c in range(len(COST_COLUMNS)):
                cost_sum[fold.test, b, c] += _fill_missing(costs[fold.test, chosen, b, c])

    member_rows = np.concatenate([rows for rows in levels.values()] + [np.array([], np.int64)])
    per_problem = outcome_sum[member_rows] / max(repeats, 1)
    per_problem_cost = cost_sum[member_rows] / max(repeats, 1)
    low, high = bootstrap_interval(
        per_problem[:, None, :], resamples, np.random.default_rng([seed, 4])
    )
    return HeldoutRouting(
        binning=binning,
        budgets=cube.budgets,
        accuracy=per_problem.mean(axis=0) if len(member_rows) else np.full(len(cube.budgets), 0.0),
        ci_low=low,
        ci_high=high,
        costs=per_problem_cost.mean(axis=0)
        if len(member_rows)
        else np.full((len(cube.budgets), len(COST_COLUMNS)), np.nan),
    )


def _fill_missing(outcomes: np.ndarray) -> np.ndarray:
    """A missing run (an errored search) counts as the mean of the rest, as in the table."""
    present = outcomes[~np.isnan(outcomes)]
    fill = float(present.mean()) if len(present) else 0.0
    return np.where(np.isnan(outcomes), fill, outcomes)
