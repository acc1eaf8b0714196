"""The limit of routing: an oracle that knows each problem's expected accuracy under
every action.

Why expected: the one-draw oracle gives each problem the cheapest run that happened to
solve it, which credits luck (17.7x at N=16 on a real 13B pool, where a router that knew
each problem's difficulty exactly could reach 3.6x). The expected oracle is that
exact-knowledge limit, computed from each problem's mean accuracy per action over many
draws: the calibration's own draws and seeds (``ttc curves``), or several evaluation
draws (``scripts.pool_evaluations``).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import pandas as pd


def expected_oracle_compute(
    accuracy: np.ndarray, costs: np.ndarray, target_accuracy: float
) -> float | None:
    """Mean compute per problem for an oracle that knows each problem's *expected*
    accuracy under every action (``accuracy[p, a]``: problem p's mean over draws, at
    ``costs[p, a]`` generations) to reach ``target_accuracy`` on average.

    Why expected: the one-draw oracle above gives each problem the cheapest run that
    happened to solve it, which credits luck (17.7x at N=16 on a real 13B pool, where a
    router that knew each problem's difficulty exactly could reach 3.6x). This is that
    exact-knowledge limit: the linear programme "spend least, mixing actions per problem,
    so that the mean expected accuracy reaches the target", solved exactly by taking the
    steepest accuracy-per-generation steps of every problem's upper convex hull (a
    problem may also get nothing: 0 accuracy at 0 cost). None when even the best action
    on every problem falls short of the target.
    """
    accuracy = np.asarray(accuracy, dtype=np.float64)
    costs = np.asarray(costs, dtype=np.float64)
    if accuracy.ndim != 2 or accuracy.shape != costs.shape or accuracy.shape[0] == 0:
        raise ValueError("accuracy and costs must be (problems, actions) arrays of one shape")
    count = accuracy.shape[0]
    needed = target_accuracy * count
    steps: list[tuple[float, float, float]] = []  # (slope, gain, cost)
    for row_accuracy, row_costs in zip(accuracy, costs, strict=True):
        steps.extend(_hull_steps(row_accuracy, row_costs))
    if sum(gain for _, gain, _ in steps) + 1e-9 < needed:
        return None
    steps.sort(key=lambda step: -step[0])
    gained = spent = 0.0
    for _, gain, cost in steps:
        if gained + gain >= needed - 1e-12:
            share = 0.0 if gain <= 0 else max(0.0, needed - gained) / gain
            return (spent + share * cost) / count
        gained += gain
        spent += cost
    return spent / count


def _hull_steps(accuracy: np.ndarray, costs: np.ndarray) -> list[tuple[float, float, float]]:
    """The segments of one problem's upper convex hull of (cost, accuracy), from (0, 0):
    (accuracy per generation, accuracy gained, generations spent) each, slopes falling."""
    points = sorted(zip(costs.tolist(), accuracy.tolist(), strict=True))
    hull = [(0.0, 0.0)]
    for cost, value in points:
        if value <= hull[-1][1] + 1e-12:
            continue  # dearer and no better than what the hull has
        while len(hull) >= 2:
            (c0, a0), (c1, a1) = hull[-2], hull[-1]
            # drop the middle point when it lies on or below the chord to the new one
            if (a1 - a0) * (cost - c0) <= (value - a0) * (c1 - c0) + 1e-12:
                hull.pop()
            else:
                break
        hull.append((cost, value))
    out = []
    for (c0, a0), (c1, a1) in itertools.pairwise(hull):
        spent = c1 - c0
        slope = np.inf if spent <= 0 else (a1 - a0) / spent
        out.append((float(slope), a1 - a0, spent))
    return out


def expected_outcome_matrix(
    evaluations: pd.DataFrame, budgets: Sequence[int] | None = None
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Per (problem, "strategy@N"): mean accuracy and mean generations over the recorded
    draws and seeds (``evaluations.parquet`` rows); actions missing for a problem count as
    never right at their budget."""
    rows = evaluations if budgets is None else evaluations[evaluations["budget"].isin(budgets)]
    means = rows.groupby(["problem_id", "strategy", "budget"], sort=True)[
        ["accuracy", "generations"]
    ].mean()
    means = means.reset_index()
    means["action"] = means["strategy"] + "@" + means["budget"].astype(int).astype(str)
    accuracy = means.pivot(index="problem_id", columns="action", values="accuracy")
    generations = means.pivot(index="problem_id", columns="action", values="generations")
    budget_of = means.drop_duplicates("action").set_index("action")["budget"]
    generations = generations.fillna(budget_of.astype(float))
    return list(accuracy.columns), accuracy.fillna(0.0).to_numpy(), generations.to_numpy()


def expected_oracle_curve(
    accuracy: np.ndarray, costs: np.ndarray, points: int = 24
) -> list[tuple[float, float]]:
    """(generations per problem, accuracy) along the expected oracle's frontier, from one
    action's worth of accuracy to the best it can reach."""
    best = float(accuracy.max(axis=1).mean()) if accuracy.size else 0.0
    out = []
    for target in np.linspace(best / points, best, points):
        compute = expected_oracle_compute(accuracy, costs, float(target))
        if compute is not None:
            out.append((compute, float(target)))
    return out
