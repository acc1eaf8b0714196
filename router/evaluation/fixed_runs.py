"""The baselines of `ttc evaluate`: every strategy of the table at every budget, on every
problem, with no router.

Majority, best-of-N and weighted best-of-N at budget N are selections from one pool of
N samples, so each budget draws and scores one pool per problem and every sampling
strategy selects from it (through its own ``run`` with ``reuse``, the code a user would
run). Each is charged what it would cost alone: the N samples, plus their scoring when
it uses the verifier. Tree searches run for real at every budget the table has them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from calibration.analysis.table import CalibrationTable
from calibration.sampling.strategy_plan import pool_sampler
from router.execution import ExecutionContext, reuses_samples, runnable_strategy
from runtime.actions import action_key
from strategies.answers import grade
from strategies.problems import Problem
from strategies.search.result import SearchResult


@dataclass(frozen=True)
class RunScores:
    """Per-problem outcome and compute of one method (arrays in problem order)."""

    correct: np.ndarray
    generations: np.ndarray
    flops: np.ndarray
    tokens: np.ndarray


@dataclass(frozen=True)
class FixedRun:
    strategy: str
    budget: int
    scores: RunScores

    @property
    def key(self) -> str:
        return action_key(self.strategy, self.budget)


def grade_results(problems: Sequence[Problem], results: Sequence[SearchResult]) -> np.ndarray:
    return np.array(
        [grade(r.answer, p.answer) for p, r in zip(problems, results, strict=True)], dtype=float
    )


def run_fixed_strategies(
    table: CalibrationTable,
    problems: Sequence[Problem],
    context: ExecutionContext,
    budgets: Sequence[int] | None = None,
    advance: Callable[[int], object] = lambda n: None,
) -> list[FixedRun]:
    """Every table strategy at every table budget (or only ``budgets``).

    Run with a recording generator (``router.recording``), the router's later runs of
    the same searches and samples are served from what these runs drew.
    """
    runs: list[FixedRun] = []
    for budget, pool_keys, tree_keys in _fixed_plan(table, budgets):
        if pool_keys:
            pools = _chunked(problems, context, budget, None)
            for key in pool_keys:
                runs.append(_select_from_pools(key, budget, problems, pools, context))
            advance(1)
        for key in tree_keys:
            results = _chunked(problems, context, budget, key)
            runs.append(FixedRun(key, budget, _scores(problems, results, float(budget))))
            advance(1)
    return runs


def fixed_run_steps(table: CalibrationTable, budgets: Sequence[int] | None = None) -> int:
    """How many times ``run_fixed_strategies`` calls ``advance``: one per sample pool
    (a budget's sampling strategies share it) and one per tree search run."""
    return sum(bool(pools) + len(trees) for _, pools, trees in _fixed_plan(table, budgets))


def _fixed_plan(
    table: CalibrationTable, budgets: Sequence[int] | None
) -> list[tuple[int, list[str], list[str]]]:
    """Per budget, the table's measured sampling strategies and tree strategies."""
    plan = []
    for budget in table.budgets if budgets is None else sorted(budgets):
        measured = set(table.overall.get(budget, {}))
        plan.append(
            (
                budget,
                [s for s in table.strategies if reuses_samples(s) and s in measured],
                [s for s in table.strategies if not reuses_samples(s) and s in measured],
            )
        )
    return plan


def _chunked(
    problems: Sequence[Problem], context: ExecutionContext, budget: int, key: str | None
) -> list[SearchResult]:
    """``key``'s results at ``budget``, or (None) the scored sample pool of that size."""
    strategy = (
        pool_sampler(context.generation)
        if key is None
        else runnable_strategy(key, context.generation)
    )
    results: list[SearchResult] = []
    for start in range(0, len(problems), context.batch_size):
        chunk = problems[start : start + context.batch_size]
        results.extend(
            strategy.run(
                chunk,
                budget,
                context.generator,
                context.verifier,
                prompt_config=context.prompt_config,
                seed=context.seed,
            )
        )
    return results


def _select_from_pools(
    key: str,
    budget: int,
    problems: Sequence[Problem],
    pools: Sequence[SearchResult],
    context: ExecutionContext,
) -> FixedRun:
    strategy = runnable_strategy(key, context.generation)
    selected = strategy.run(
        problems,
        budget,
        context.generator,
        context.verifier,
        prompt_config=context.prompt_config,
        seed=context.seed,
        reuse=[pool.candidates for pool in pools],
    )
    # Charge the pool's cost: its samples always, its scoring only if the strategy scores.
    charged = [_pool_charge(pool, strategy.needs_verifier) for pool in pools]
    correct = grade_results(problems, selected)
    return FixedRun(
        key,
        budget,
        RunScores(
            correct=correct,
            generations=np.full(len(problems), float(budget)),
            flops=np.array([c[0] for c in charged]),
            tokens=np.array([c[1] for c in charged]),
        ),
    )


def _pool_charge(pool: SearchResult, scored: bool) -> tuple[float, float]:
    flops = pool.cost.generator_flops + (pool.cost.verifier_flops if scored else 0.0)
    return flops, float(pool.cost.generated_tokens)


def _scores(
    problems: Sequence[Problem],
    results: Sequence[SearchResult],
    generations: float,
) -> RunScores:
    return RunScores(
        correct=grade_results(problems, results),
        generations=np.full(len(problems), generations),
        flops=np.array([r.cost.total_flops for r in results]),
        tokens=np.array([float(r.cost.generated_tokens) for r in results]),
    )
