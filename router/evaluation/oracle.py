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

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from calibration.analysis.expected_oracle import expected_oracle_compute
from calibration.store.evaluation_records import OracleLimit

__all__ = ["cheapest_solving_costs", "expected_oracle_compute", "oracle_compute", "oracle_limits"]
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
