"""Stage 3 (evaluation): one EvaluationRow per (problem, strategy, budget, seed).

Pool strategies are estimated from the stage 1 pool (calibration.analysis.pool_estimators); their
cost at budget N is N/K of what sampling (and, when they use it, scoring) the K-sample
pool cost, which is the expected cost of N fresh samples. Tree strategies' rows are their
real searches with their own ledgers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from calibration.analysis.evaluations import EvaluationRow
from calibration.analysis.pool_estimators import (
    GradedPool,
    draw_subsets,
    expected_accuracy,
    subset_rng,
)
from calibration.sampling.strategy_plan import PoolStrategy
from calibration.store.records import ProblemSamples, TreeRecord


def pool_rows(
    samples: ProblemSamples,
    strategies: Sequence[PoolStrategy],
    budgets: Sequence[int],
    seeds: Sequence[int],
    num_draws: int,
    base_seed: int,
) -> list[EvaluationRow]:
    """Every pool strategy at every budget and seed for one problem.

    All strategies at one (budget, seed) are scored on the same random subsets.
    """
    pools: dict[str, GradedPool] = {}
    for strategy in strategies:
        if strategy.reduction not in pools:
            pools[strategy.reduction] = GradedPool.from_samples(samples, strategy.reduction)
    pool_size = len(samples.samples)
    ledger = samples.cost
    rows: list[EvaluationRow] = []
    for budget in budgets:
        share = budget / pool_size
        for seed in seeds:
            draws = draw_subsets(
                pool_size,
                budget,
                num_draws,
                subset_rng(samples.problem_id, budget, seed, base_seed),
            )
            for strategy in strategies:
                pool = pools[strategy.reduction]
                accuracy = expected_accuracy(pool, [strategy.method], draws)[strategy.method]
                verifier_share = share if strategy.uses_verifier else 0.0
                rows.append(
                    EvaluationRow(
                        problem_id=samples.problem_id,
                        strategy=strategy.key,
                        budget=budget,
                        seed=seed,
                        accuracy=accuracy,
                        generations=float(budget),
                        generated_tokens=share * ledger.generated_tokens,
                        verifier_tokens=verifier_share * ledger.verifier_tokens,
                        flops=share * ledger.generator_flops
                        + verifier_share * ledger.verifier_flops,
                    )
                )
    return rows


def tree_rows(records: Iterable[TreeRecord]) -> list[EvaluationRow]:
    return [
        EvaluationRow(
            problem_id=r.problem_id,
            strategy=r.strategy,
            budget=r.budget,
            seed=r.seed,
            accuracy=1.0 if r.correct else 0.0,
            generations=float(r.cost.generations),
            generated_tokens=float(r.cost.generated_tokens),
            verifier_tokens=float(r.cost.verifier_tokens),
            flops=float(r.cost.total_flops),
        )
        for r in records
    ]


def evaluate_pools(
    samples: Mapping[str, ProblemSamples],
    problem_ids: Sequence[str],
    strategies: Sequence[PoolStrategy],
    budgets: Sequence[int],
    seeds: Sequence[int],
    num_draws: int,
    base_seed: int,
    advance: Callable[[int], object] = lambda n: None,
) -> list[EvaluationRow]:
    rows: list[EvaluationRow] = []
    for problem_id in problem_ids:
        rows.extend(
            pool_rows(samples[problem_id], strategies, budgets, seeds, num_draws, base_seed)
        )
        advance(1)
    return rows
