"""Accuracy of majority and best-of-N at budget N, estimated from one K-sample pool.

Why subsets and not the first N samples: the first N are one draw, so their accuracy is
noisy and, worse, shared by every budget (N=2 is a prefix of N=4). Drawing many random
subsets of size N without replacement estimates the expected accuracy of the strategy on
a fresh batch of N samples, which is what the router will actually run. All selection
methods at one (problem, N, seed) see the *same* subsets (common random numbers), so
their differences are not blurred by independent draw noise.

Selection itself is ``strategies.search.selection.choose``: the exact code the router
runs on real samples, vectorised over draws, with answers grouped by canonical key
computed once per distinct string.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from calibration.store.records import ProblemSamples
from strategies.search.selection import NO_CHOICE, EncodedPool, choose, reduce_scores


@dataclass(frozen=True)
class GradedPool:
    """One problem's pool encoded once: answer classes, solution scores, grades."""

    problem_id: str
    encoded: EncodedPool
    correct: np.ndarray  # bool per sample

    def __len__(self) -> int:
        return len(self.encoded)

    @classmethod
    def from_samples(cls, samples: ProblemSamples, reduction: str = "last") -> GradedPool:
        answers = [s.answer for s in samples.samples]
        scores = [reduce_scores(s.step_scores, reduction) for s in samples.samples]
        encoded = EncodedPool.from_answers(answers, scores)
        correct = np.array([s.correct for s in samples.samples], dtype=bool)
        return cls(problem_id=samples.problem_id, encoded=encoded, correct=correct)


def draw_subsets(
    pool_size: int, budget: int, num_draws: int, rng: np.random.Generator
) -> np.ndarray:
    """``num_draws`` random subsets of ``budget`` pool indices each, in random order.

    Each row is the first ``budget`` entries of a random permutation: a uniform subset
    without replacement whose order is also uniform, so order-based tie-breaks in the
    selection rules become random tie-breaks.
    """
    if not 1 <= budget <= pool_size:
        raise ValueError(f"budget {budget} must be between 1 and the pool size {pool_size}")
    keys = rng.random((num_draws, pool_size))
    subsets: np.ndarray = np.argsort(keys, axis=1, kind="stable")[:, :budget]
    return subsets


def subset_rng(problem_id: str, budget: int, seed: int, base_seed: int = 0) -> np.random.Generator:
    """A generator that depends only on (problem, budget, seed, base seed).

    Keyed by a hash of the problem id (not its position) so shards, reruns and merges
    draw the same subsets for the same problem.
    """
    digest = hashlib.sha256(problem_id.encode()).digest()
    problem_word = int.from_bytes(digest[:8], "little")
    return np.random.default_rng([base_seed, seed, budget, problem_word])


def expected_accuracy(
    pool: GradedPool, methods: Sequence[str], draws: np.ndarray
) -> dict[str, float]:
    """Mean correctness of each selection method over the given subsets."""
    result: dict[str, float] = {}
    for method in methods:
        chosen = choose(method, pool.encoded, draws)
        hit = np.where(chosen == NO_CHOICE, False, pool.correct[np.maximum(chosen, 0)])
        result[method] = float(hit.mean()) if len(hit) else 0.0
    return result


def estimate_pool_accuracy(
    pool: GradedPool,
    methods: Sequence[str],
    budget: int,
    seed: int,
    num_draws: int,
    base_seed: int = 0,
) -> dict[str, float]:
    """Expected accuracy of each method at ``budget`` from ``num_draws`` random subsets."""
    rng = subset_rng(pool.problem_id, budget, seed, base_seed)
    return expected_accuracy(pool, methods, draw_subsets(len(pool), budget, num_draws, rng))


def pass_at_k(num_samples: int, num_correct: int, k: int) -> float:
    """Unbiased coverage estimate 1 - C(n-c, k) / C(n, k) (Chen et al. 2021; Brown et al.)."""
    if not 1 <= k <= num_samples:
        raise ValueError(f"k={k} must be between 1 and the number of samples {num_samples}")
    if not 0 <= num_correct <= num_samples:
        raise ValueError(f"{num_correct} correct out of {num_samples} samples is impossible")
    if num_samples - num_correct < k:
        return 1.0
    return 1.0 - math.comb(num_samples - num_correct, k) / math.comb(num_samples, k)
