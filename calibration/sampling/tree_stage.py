"""Stage 3 (tree part): beam search and DVTS, run for real per (problem, strategy, N, seed).

Each finished search is one shard line, so a killed run resumes at the next missing
search. Seed s of a calibration runs the search with a seed derived from (base seed, s)
and distinct from stage 1's sampling seed: otherwise a search's first step would replay
the pool's samples (prefix-stable backends such as the simulator continue a sample step
by step exactly as they generate it whole), and its "independent" runs would not be.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from calibration.sampling.chunks import fixed_chunks
from calibration.sampling.grading import Grader
from calibration.sampling.strategy_plan import TreeStrategy
from calibration.store.records import TreeRecord
from calibration.store.shards import PROBLEM_HASH, ShardWriter
from strategies.generation import Generator
from strategies.problems import Problem, problem_sha256
from strategies.prompts import PromptConfig
from strategies.search.selection import answer_agreement
from strategies.verification import Verifier

TreeKey = tuple[str, str, int, int]


def tree_seed(base_seed: int, seed_index: int) -> int:
    digest = hashlib.sha256(f"tree-search:{base_seed}:{seed_index}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


@dataclass(frozen=True)
class TreeUnit:
    """One strategy at one budget and seed over one fixed batch of problems."""

    strategy: TreeStrategy
    budget: int
    seed_index: int
    batch: tuple[Problem, ...]

    def search_keys(self) -> list[TreeKey]:
        return [(p.id, self.strategy.key, self.budget, self.seed_index) for p in self.batch]


def tree_units(
    problems: Sequence[Problem],
    strategies: Sequence[TreeStrategy],
    seeds: Sequence[int],
    batch_size: int,
) -> list[TreeUnit]:
    """All units, batch by batch, so early problems finish every search first."""
    return [
        TreeUnit(strategy, budget, seed, tuple(batch))
        for batch in fixed_chunks(problems, batch_size)
        for strategy in strategies
        for budget in strategy.budgets
        for seed in seeds
    ]


def search_work(units: Sequence[TreeUnit], done: set[TreeKey] | None = None) -> int:
    """Work in solution-equivalents (a search at budget N counts N), done or not.

    Weighting by N makes the progress bar's time estimate honest: a search at N=16 costs
    about eight times one at N=2, and the big budgets come last in every batch.
    """
    return sum(
        unit.budget for unit in units for key in unit.search_keys() if done is None or key in done
    )


def run_tree_searches(
    units: Sequence[TreeUnit],
    done: set[TreeKey],
    *,
    base_seed: int,
    generator: Generator,
    verifier: Verifier,
    prompt_config: PromptConfig,
    writer: ShardWriter,
    advance: Callable[[int], object] = lambda n: None,
) -> int:
    """Run every unit with a missing search; returns how many searches were written."""
    written = 0
    for unit in units:
        keys = unit.search_keys()
        if all(key in done for key in keys):
            continue
        results = unit.strategy.runner.run(
            list(unit.batch),
            unit.budget,
            generator,
            verifier,
            prompt_config=prompt_config,
            seed=tree_seed(base_seed, unit.seed_index),
        )
        records = []
        for problem, key, result in zip(unit.batch, keys, results, strict=True):
            if key in done:
                continue
            gold = problem.answer or ""
            records.append(
                TreeRecord(
                    problem_id=problem.id,
                    strategy=unit.strategy.key,
                    budget=unit.budget,
                    seed=unit.seed_index,
                    answer=result.answer,
                    correct=Grader(gold)(result.answer),
                    cost=result.cost,
                    error=result.error,
                    agreement=answer_agreement(result.candidates, result.answer),
                ).to_json()
                | {PROBLEM_HASH: problem_sha256(problem)}
            )
            done.add(key)
        writer.append(records)
        written += len(records)
        advance(len(records) * unit.budget)
    return written
