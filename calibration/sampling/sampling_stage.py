"""Stage 1: K full solutions per problem, graded against the reference and scored.

Sampling and scoring are ``strategies.search`` code (weighted best-of-N at budget K keeps
every scored sample in ``SearchResult.candidates``), so calibration measures the very
samples the strategies would produce. Each problem's pool is one shard line, written
and fsync'd as soon as its batch is done.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from calibration.sampling.chunks import fixed_chunks
from calibration.sampling.grading import Grader
from calibration.store.records import ProblemSamples, SampleRecord
from calibration.store.shards import PROBLEM_HASH, ShardWriter
from strategies.generation import Generator
from strategies.problems import Problem, problem_sha256
from strategies.prompts import PromptConfig
from strategies.search.base import SearchStrategy
from strategies.search.result import SearchResult
from strategies.verification import Verifier

Progress = Callable[[int], object]


@dataclass(frozen=True)
class SamplingJob:
    strategy: SearchStrategy  # ``strategy_plan.pool_sampler``: scores every sample
    samples: int
    seed: int
    batch_size: int
    prompt_config: PromptConfig


def graded_pool(problem: Problem, result: SearchResult) -> ProblemSamples:
    if problem.answer is None:
        raise ValueError(f"problem {problem.id!r} has no reference answer to grade against")
    grade = Grader(problem.answer)
    samples = tuple(SampleRecord.from_candidate(c, grade(c.answer)) for c in result.candidates)
    metadata = {"error": result.error} if result.error else {}
    level = problem.metadata.get("level")
    if level is not None:
        metadata["level"] = level
    return ProblemSamples(problem.id, problem.answer, samples, result.cost, metadata)


def run_sampling(
    problems: Sequence[Problem],
    done: set[str],
    job: SamplingJob,
    generator: Generator,
    verifier: Verifier,
    writer: ShardWriter,
    advance: Progress = lambda n: None,
) -> int:
    """Sample every problem not in ``done``; returns how many pools were written."""
    strategy = job.strategy
    written = 0
    for batch in fixed_chunks(problems, job.batch_size):
        if all(p.id in done for p in batch):
            continue
        results = strategy.run(
            batch,
            job.samples,
            generator,
            verifier,
            prompt_config=job.prompt_config,
            seed=job.seed,
        )
        for problem, result in zip(batch, results, strict=True):
            if problem.id in done:
                continue
            record = graded_pool(problem, result).to_json()
            writer.append([{**record, PROBLEM_HASH: problem_sha256(problem)}])
            done.add(problem.id)
            written += 1
            advance(1)
    return written
