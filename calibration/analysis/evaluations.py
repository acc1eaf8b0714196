"""Per-run results of every strategy, long and dense.

The long form (one row per problem, strategy, budget and seed) is what the artifact
stores as ``evaluations.parquet``. The dense ``EvaluationCube`` (numpy arrays indexed
[problem, strategy, budget, seed], NaN where a strategy did not run) is what the table
builder slices, so bootstraps over thousands of resamples stay vectorised.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

EVALUATION_COLUMNS: tuple[str, ...] = (
    "problem_id",
    "strategy",
    "budget",
    "seed",
    "accuracy",
    "generations",
    "generated_tokens",
    "verifier_tokens",
    "flops",
)
COST_COLUMNS: tuple[str, ...] = ("generations", "generated_tokens", "verifier_tokens", "flops")


@dataclass(frozen=True)
class EvaluationRow:
    """One run: ``accuracy`` is a probability (pool strategies average many subsets)."""

    problem_id: str
    strategy: str
    budget: int
    seed: int
    accuracy: float
    generations: float
    generated_tokens: float
    verifier_tokens: float
    flops: float


def evaluations_frame(rows: Iterable[EvaluationRow]) -> pd.DataFrame:
    records = [
        (
            r.problem_id,
            r.strategy,
            r.budget,
            r.seed,
            r.accuracy,
            r.generations,
            r.generated_tokens,
            r.verifier_tokens,
            r.flops,
        )
        for r in rows
    ]
    frame = pd.DataFrame.from_records(records, columns=list(EVALUATION_COLUMNS))
    frame = frame.astype({"budget": "int64", "seed": "int64", "accuracy": "float64"})
    return frame.sort_values(["problem_id", "strategy", "budget", "seed"], ignore_index=True)


@dataclass(frozen=True)
class EvaluationCube:
    """Dense view of the evaluations.

    ``accuracy[p, s, b, k]`` and ``costs[p, s, b, k, c]`` (c over COST_COLUMNS) for
    problem ``problem_ids[p]``, strategy ``strategies[s]``, budget ``budgets[b]`` and the
    k-th seed; NaN where that run does not exist.
    """

    problem_ids: tuple[str, ...]
    strategies: tuple[str, ...]
    budgets: tuple[int, ...]
    seeds: tuple[int, ...]
    accuracy: np.ndarray
    costs: np.ndarray

    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        problem_ids: Sequence[str],
        strategies: Sequence[str],
        budgets: Sequence[int],
        seeds: Sequence[int],
    ) -> EvaluationCube:
        shape = (len(problem_ids), len(strategies), len(budgets), len(seeds))
        accuracy = np.full(shape, np.nan)
        costs = np.full((*shape, len(COST_COLUMNS)), np.nan)
        index_of = [
            {value: i for i, value in enumerate(axis)}
            for axis in (problem_ids, strategies, budgets, seeds)
        ]
        known = (
            frame["problem_id"].isin(index_of[0])
            & frame["strategy"].isin(index_of[1])
            & frame["budget"].isin(index_of[2])
            & frame["seed"].isin(index_of[3])
        )
        rows = frame[known]
        p = rows["problem_id"].map(index_of[0]).to_numpy(dtype=np.int64)
        s = rows["strategy"].map(index_of[1]).to_numpy(dtype=np.int64)
        b = rows["budget"].map(index_of[2]).to_numpy(dtype=np.int64)
        k = rows["seed"].map(index_of[3]).to_numpy(dtype=np.int64)
        accuracy[p, s, b, k] = rows["accuracy"].to_numpy(dtype=np.float64)
        costs[p, s, b, k] = rows[list(COST_COLUMNS)].to_numpy(dtype=np.float64)
        return cls(
            tuple(problem_ids), tuple(strategies), tuple(budgets), tuple(seeds), accuracy, costs
        )

    def problem_indices(self, problem_ids: Iterable[str]) -> np.ndarray:
        position = {pid: i for i, pid in enumerate(self.problem_ids)}
        return np.array([position[pid] for pid in problem_ids], dtype=np.int64)
