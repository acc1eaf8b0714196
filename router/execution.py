"""Running the chosen (strategy, budget) of every problem, batched, reusing the probe.

Problems that drew the same (strategy, budget) go through one ``strategy.run`` call per
chunk of ``batch_size``, so a batch costs a handful of generator calls rather than one
per problem. Sampling strategies get the problem's probe samples as ``reuse`` and only
top them up. A chunk whose run raises (a server error, a crashed engine) is retried one
problem at a time, so a single bad problem costs only its own answer; whatever still
fails comes back with its error and the batch goes on.
"""

from __future__ import annotations

import traceback
from collections import defaultdict
from collections.abc import Iterator, MutableMapping, Sequence
from dataclasses import dataclass

from router.options import Option
from router.probe import ProbeResult, runnable_strategy
from router.setup import GenerationSettings
from strategies.generation import Generator
from strategies.problems import Problem
from strategies.prompts import PromptConfig
from strategies.search.result import SearchResult
from strategies.verification import Verifier

# Results already computed, by (problem id, strategy, budget): `ttc evaluate` runs many
# policies over the same problems, and most of their choices coincide.
ResultCache = MutableMapping[tuple[str, str, int], SearchResult]


@dataclass(frozen=True)
class Job:
    problem: Problem
    option: Option
    probe: ProbeResult


@dataclass(frozen=True)
class JobOutcome:
    job: Job
    result: SearchResult | None
    error: str | None = None


@dataclass(frozen=True)
class ExecutionContext:
    generator: Generator
    verifier: Verifier
    prompt_config: PromptConfig
    generation: GenerationSettings
    seed: int
    batch_size: int = 32


def execute(
    jobs: Sequence[Job], context: ExecutionContext, cache: ResultCache | None = None
) -> Iterator[JobOutcome]:
    """Yield one outcome per job, group by group (not in job order)."""
    groups: dict[tuple[str, int], list[Job]] = defaultdict(list)
    for job in jobs:
        cached = None if cache is None else cache.get(_key(job))
        if cached is not None:
            yield JobOutcome(job, cached)
            continue
        groups[(job.option.strategy, job.option.budget)].append(job)
    for (strategy, budget), members in sorted(groups.items()):
        for start in range(0, len(members), context.batch_size):
            chunk = members[start : start + context.batch_size]
            for outcome in _run_chunk(strategy, budget, chunk, context):
                if cache is not None and outcome.result is not None:
                    cache[_key(outcome.job)] = outcome.result
                yield outcome


def _key(job: Job) -> tuple[str, str, int]:
    return (job.problem.id, job.option.strategy, job.option.budget)


def _run_chunk(
    strategy_key: str, budget: int, chunk: Sequence[Job], context: ExecutionContext
) -> list[JobOutcome]:
    strategy = runnable_strategy(strategy_key, context.generation)
    reuse = [list(job.probe.candidates) for job in chunk] if chunk[0].option.reuses_probe else None
    try:
        results = strategy.run(
            [job.problem for job in chunk],
            budget,
            context.generator,
            context.verifier,
            prompt_config=context.prompt_config,
            seed=context.seed,
            reuse=reuse,
        )
    except Exception as exc:  # one problem's failure must not sink the batch
        if len(chunk) > 1:
            return [o for job in chunk for o in _run_chunk(strategy_key, budget, [job], context)]
        return [JobOutcome(chunk[0], None, describe_error(exc))]
    return [JobOutcome(job, result) for job, result in zip(chunk, results, strict=True)]


def describe_error(exc: BaseException) -> str:
    notes = "".join(f"; {note}" for note in getattr(exc, "__notes__", []))
    where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    place = f" (at {where.filename.rsplit('/', 1)[-1]}:{where.lineno})" if where else ""
    return f"{type(exc).__name__}: {exc}{notes}{place}"
