"""The physical limit of routing: a per-problem oracle over the fixed runs.

The oracle knows which fixed run solves each problem and gives every problem the
cheapest one that does (nothing to a problem no run solves). To match a target
accuracy it needs only the cheapest solved problems, so its compute is the mean of the
k smallest solving costs, k = the problems the target asks for. No router choosing among
the same runs can do better (with every calibrated budget evaluated, the default; under
``--budgets 8,16`` a router that stops after one sample can undercut it); the share of the gap between the best fixed strategy and
this limit that the router closes is how close it comes.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from calibration.store.evaluation_records import OracleLimit
from router.evaluation.fixed_runs import FixedRun


def cheapest_solving_costs(runs: Sequence[FixedRun], budget: int) -> np.ndarray:
    """Per problem, the smallest budget among runs up to ``budget`` that solved it."""
    eligible = [r for r in runs if r.budget <= budget]
    if not eligible:
        return np.zeros(0)
    costs = np.full(len(eligible[0].scores.correct), np.inf)
    for run in eligible:
        solved = run.scores.correct > 0.5
        costs = np.where(solved, np.minimum(costs, run.scores.generations), costs)
    return costs


def oracle_compute(costs: np.ndarray, target_accuracy: float) -> float | None:
    """Mean compute per problem for the oracle to reach ``target_accuracy``."""
    count = len(costs)
    if count == 0:
        return None
    needed = math.ceil(target_accuracy * count - 1e-9)
    solvable = np.sort(costs[np.isfinite(costs)])
    if needed > len(solvable):
        return None
    return float(solvable[:needed].sum()) / count


def oracle_limits(
    runs: Sequence[FixedRun], fixed: Sequence[Any], to_match: Sequence[Any]
) -> list[OracleLimit]:
    """One limit per ``to_match`` entry (``ComputeToMatch``: the best fixed strategy at N
    and the router's compute to match it)."""
    out = []
    for entry in to_match:
        costs = cheapest_solving_costs(runs, entry.budget)
        oracle = oracle_compute(costs, entry.target_accuracy)
        router = entry.router_generations
        gap = None
        if oracle is not None and router is not None and entry.fixed_generations > oracle:
            gap = (entry.fixed_generations - router) / (entry.fixed_generations - oracle)
        out.append(
            OracleLimit(
                budget=entry.budget,
                fixed=entry.fixed,
                target_accuracy=entry.target_accuracy,
                fixed_generations=entry.fixed_generations,
                oracle_generations=oracle,
                oracle_ratio=None if not oracle else entry.fixed_generations / oracle,
                router_generations=router,
                gap_closed=gap,
            )
        )
    return out


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
