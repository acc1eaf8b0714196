"""Strategies over N independent full solutions: majority vote, best-of-N, weighted best-of-N.

All problems of a batch are sampled in one generator call (``n`` = the number of new
samples each needs) and scored in one verifier call, each solution split into steps at
the prompt configuration's step delimiter.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from strategies.generation import Generator, Prompt, SamplingParams, generation_field
from strategies.problems import Problem
from strategies.prompts import PromptConfig
from strategies.search.accounting import BatchLedger
from strategies.search.base import SearchStrategy, assemble_results, register_strategy
from strategies.search.budget import BudgetPlan, check_budget, sampling_plan
from strategies.search.result import Candidate, SearchResult
from strategies.search.selection import check_reduction
from strategies.search.steps import build_candidate, verifier_steps
from strategies.verification import ScoreRequest, StepScores, Verifier


@dataclass(frozen=True)
class SamplingConfig:
    reduction: str = generation_field("reduction")
    temperature: float = generation_field("temperature")
    top_p: float = generation_field("top_p")
    max_tokens: int = generation_field("max_tokens")

    def __post_init__(self) -> None:
        check_reduction(self.reduction)
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1, got {self.max_tokens}")


class SamplingStrategy(SearchStrategy):
    """Sample N solutions per problem, then select with ``method``."""

    config_type = SamplingConfig
    reuses_samples = True

    def plan(self, budget: int) -> BudgetPlan:
        return sampling_plan(self.spec, budget, uses_verifier=self.needs_verifier)

    def run(
        self,
        problems: Sequence[Problem],
        budget: int,
        generator: Generator,
        verifier: Verifier | None = None,
        *,
        prompt_config: PromptConfig | None = None,
        seed: int = 0,
        reuse: Sequence[Sequence[Candidate]] | None = None,
    ) -> list[SearchResult]:
        """``reuse[i]`` are earlier samples of problem i (drawn in the router's earlier rounds): up to N of
        them are used, and only the rest are generated. Their generation cost is not in
        this result's ledger (the caller counted it); scoring any unscored ones is.

        With reuse, new samples are drawn under a seed derived from ``seed`` and the
        number reused, so samples drawn earlier with the same seed are not drawn twice (backends
        derive per-sample randomness from the seed and the sample's index)."""
        check_budget(budget)
        self._check_verifier(verifier)
        if reuse is not None and len(reuse) != len(problems):
            raise ValueError(f"reuse has {len(reuse)} pools for {len(problems)} problems")
        config: SamplingConfig = self.config
        prompts_config = prompt_config or PromptConfig()
        ledger = BatchLedger(self.spec, [p.id for p in problems], generator, verifier)
        pools = [list(reuse[i][:budget]) if reuse is not None else [] for i in range(len(problems))]
        reused = [len(pool) for pool in pools]
        fresh = sample_solutions(
            problems,
            [budget - len(pool) for pool in pools],
            ledger,
            prompt_config=prompts_config,
            config=config,
            seed=seed,
            reused=reused,
        )
        for pool, new in zip(pools, fresh, strict=True):
            pool.extend(new)
        errors: list[str | None] = [None] * len(problems)
        if self.needs_verifier:
            pools, errors = score_solutions(problems, pools, ledger, prompts_config.step_delimiter)
        extras: list[dict[str, Any]] = [{"reused_candidates": r} for r in reused]
        return assemble_results(
            strategy=self.spec,
            method=self.method,
            reduction=config.reduction,
            problems=problems,
            budget=budget,
            pools=pools,
            errors=errors,
            extras=extras,
            ledger=ledger,
        )


@register_strategy("majority", summary="most frequent final answer of N samples (self-consistency)")
class Majority(SamplingStrategy):
    method = "majority"
    short_name, label = "maj", "majority"
    needs_verifier = False
    hidden_parameters = frozenset({"reduction"})


@register_strategy("best_of_n", summary="answer of the highest-scoring of N samples")
class BestOfN(SamplingStrategy):
    method = "best_of_n"
    short_name, label = "bon", "best-of-N"


@register_strategy(
    "weighted_best_of_n", summary="answer with the largest summed score over N samples"
)
class WeightedBestOfN(SamplingStrategy):
    method = "weighted_best_of_n"
    short_name, label = "wbon", "weighted BoN"


def sample_solutions(
    problems: Sequence[Problem],
    counts: Sequence[int],
    ledger: BatchLedger,
    *,
    prompt_config: PromptConfig,
    config: SamplingConfig,
    seed: int,
    reused: Sequence[int] | None = None,
) -> list[list[Candidate]]:
    """``counts[i]`` unscored full solutions for problem i, which already holds
    ``reused[i]`` earlier samples.

    Problems needing the same number of samples (after the same number reused) share one
    generator call; without reuse that is every problem, so the batch makes one call.
    """
    held = list(reused) if reused is not None else [0] * len(problems)
    by_shape: dict[tuple[int, int], list[int]] = defaultdict(list)
    for index, count in enumerate(counts):
        if count > 0:
            by_shape[(count, held[index])].append(index)
    pools: list[list[Candidate]] = [[] for _ in problems]
    for (count, already), indices in sorted(by_shape.items()):
        prompts: list[Prompt] = [
            prompt_config.prompt(problems[i].text, key=problems[i].id) for i in indices
        ]
        params = SamplingParams(
            n=count,
            max_tokens=config.max_tokens,
            temperature=config.temperature,
            top_p=config.top_p,
            seed=seed if already == 0 else top_up_seed(seed, already),
            stream=seed,
            offset=already,
        )
        outputs = ledger.generate(prompts, params, indices, stage=f"sampling n={count}")
        for index, completions in zip(indices, outputs, strict=True):
            pools[index] = [
                build_candidate(
                    c.text,
                    (),
                    c.finish_reason,
                    c.num_tokens,
                    prompt_config.step_delimiter,
                    prompt_config.extraction,
                )
                for c in completions
            ]
    return pools


def top_up_seed(seed: int, reused: int) -> int:
    """The seed of new samples drawn after ``reused`` earlier ones."""
    return (seed * 1_000_003 + 7_919 * reused + 1) % (2**31 - 1)


def score_solutions(
    problems: Sequence[Problem],
    pools: Sequence[list[Candidate]],
    ledger: BatchLedger,
    delimiter: str,
) -> tuple[list[list[Candidate]], list[str | None]]:
    """Score every unscored candidate with steps, all problems in one verifier call.

    A candidate with no steps (an empty completion) keeps no scores and so scores 0.0.
    A problem whose scores do not line up with its steps (or are not in [0, 1]) keeps its candidates unscored
    and gets an error; the other problems are unaffected.
    """
    requests: list[ScoreRequest] = []
    owners: list[int] = []
    where: list[tuple[int, int]] = []
    for p_index, pool in enumerate(pools):
        for c_index, candidate in enumerate(pool):
            if candidate.step_scores or not candidate.steps:
                continue
            requests.append(
                ScoreRequest(problems[p_index].text, verifier_steps(candidate.text, delimiter))
            )
            owners.append(p_index)
            where.append((p_index, c_index))
    scored = ledger.score(requests, owners, stage="scoring solutions")
    updated = [list(pool) for pool in pools]
    errors: list[str | None] = [None] * len(pools)
    for (p_index, c_index), result in zip(where, scored, strict=True):
        candidate = updated[p_index][c_index]
        problem = invalid_scores(ledger, result, len(candidate.steps), delimiter)
        if problem is not None:
            errors[p_index] = problem
            continue
        updated[p_index][c_index] = replace(
            candidate, step_scores=tuple(float(s) for s in result.scores)
        )
    for p_index, error in enumerate(errors):
        if error is not None:
            updated[p_index] = [replace(c, step_scores=()) for c in updated[p_index]]
    return updated, errors


def invalid_scores(
    ledger: BatchLedger, result: StepScores, num_steps: int, delimiter: str
) -> str | None:
    """Why a verifier's scores for one solution cannot be used, or None when they can."""
    name = ledger.verifier.name if ledger.verifier is not None else "?"
    if result.error is not None:
        return f"verifier {name!r} could not score a solution: {result.error}"
    scores = result.scores
    if len(scores) != num_steps:
        return (
            f"verifier {name!r} returned {len(scores)} scores for a solution of {num_steps} "
            f"steps: its step separator does not match the search's step delimiter {delimiter!r}"
        )
    if not all(0.0 <= s <= 1.0 for s in scores):  # also refuses NaN
        return f"verifier {name!r} returned scores outside [0, 1]: {list(scores)}"
    return None
