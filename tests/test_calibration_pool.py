"""Pool estimators: random-subset estimates against brute-force enumeration."""

from __future__ import annotations

import itertools
import math
from collections import Counter

import numpy as np
import pytest

from calibration.analysis.pool_estimators import (
    GradedPool,
    draw_subsets,
    estimate_pool_accuracy,
    expected_accuracy,
    pass_at_k,
)
from calibration.store.records import ProblemSamples, SampleRecord

METHODS = ("majority", "best_of_n", "weighted_best_of_n")


def make_pool(answers, scores, gold="1", problem_id="p") -> ProblemSamples:
    samples = tuple(
        SampleRecord(
            text=f"... \\boxed{{{a}}}" if a is not None else "no answer",
            answer=a,
            correct=a == gold,
            step_scores=(0.5, s),
            num_tokens=10,
            finish_reason="eos",
        )
        for a, s in zip(answers, scores, strict=True)
    )
    return ProblemSamples(problem_id, gold, samples)


def brute_force_choice(method, answers, scores):
    """An independent, loop-based statement of the selection rules on one ordered subset."""
    answered = [(a, s) for a, s in zip(answers, scores, strict=True) if a is not None]
    if not answered:
        return None
    if method == "best_of_n":
        best = max(s for _, s in answered)
        return next(a for a, s in answered if s == best)
    totals: Counter[str] = Counter()
    order: list[str] = []
    for a, s in answered:
        if a not in totals:
            order.append(a)
        totals[a] += 1.0 if method == "majority" else s
    top = max(totals.values())
    return next(a for a in order if totals[a] == top)


def exact_accuracy(method, pool: ProblemSamples, budget: int) -> float:
    """Mean correctness over every ordered subset of ``budget`` distinct samples."""
    answers = [s.answer for s in pool.samples]
    scores = [s.step_scores[-1] for s in pool.samples]
    hits = []
    for subset in itertools.permutations(range(len(answers)), budget):
        chosen = brute_force_choice(
            method, [answers[i] for i in subset], [scores[i] for i in subset]
        )
        hits.append(chosen == pool.gold)
    return float(np.mean(hits))


POOLS = [
    # a wrong majority that the verifier sees through
    (["2", "2", "2", "1", "1", None], [0.2, 0.3, 0.1, 0.9, 0.8, 0.95]),
    # exact ties in counts and scores
    (["1", "2", "3", "1", "2", "3"], [0.5, 0.5, 0.5, 0.5, 0.5, 0.5]),
    # a confidently wrong top score
    (["1", "1", "1", "4", None, None], [0.6, 0.7, 0.65, 0.99, 0.1, 0.2]),
]


@pytest.mark.parametrize("pool_index", range(len(POOLS)))
@pytest.mark.parametrize("budget", [1, 2, 3, 5])
def test_subset_estimates_match_brute_force(pool_index, budget):
    answers, scores = POOLS[pool_index]
    samples = make_pool(answers, scores, problem_id=f"pool-{pool_index}")
    graded = GradedPool.from_samples(samples)
    num_draws = 6000
    estimates = estimate_pool_accuracy(graded, METHODS, budget, seed=0, num_draws=num_draws)
    for method in METHODS:
        exact = exact_accuracy(method, samples, budget)
        sigma = math.sqrt(max(exact * (1 - exact), 1e-4) / num_draws)
        assert abs(estimates[method] - exact) < 5 * sigma + 1e-9, (method, budget, exact)


def test_every_permutation_as_draws_gives_the_exact_expectation():
    answers, scores = POOLS[0]
    samples = make_pool(answers, scores)
    graded = GradedPool.from_samples(samples)
    draws = np.array(list(itertools.permutations(range(len(answers)), 3)))
    result = expected_accuracy(graded, METHODS, draws)
    for method in METHODS:
        assert result[method] == pytest.approx(exact_accuracy(method, samples, 3))


def test_subsets_are_random_not_the_first_n():
    answers = ["9"] * 4 + ["1"] * 4  # the first half is wrong, the second right
    graded = GradedPool.from_samples(make_pool(answers, [0.5] * 8))
    estimate = estimate_pool_accuracy(graded, ["majority"], 1, seed=3, num_draws=2000)
    assert 0.4 < estimate["majority"] < 0.6


def test_draws_are_distinct_indices_and_deterministic_per_problem():
    rng_a = np.random.default_rng(1)
    rng_b = np.random.default_rng(1)
    a = draw_subsets(10, 4, 50, rng_a)
    b = draw_subsets(10, 4, 50, rng_b)
    assert (a == b).all()
    assert all(len(set(row)) == 4 for row in a.tolist())
    with pytest.raises(ValueError):
        draw_subsets(3, 4, 1, rng_a)


@pytest.mark.parametrize("n,c", [(6, 0), (6, 1), (6, 3), (6, 6), (7, 2)])
def test_pass_at_k_matches_enumeration(n, c):
    correct = [True] * c + [False] * (n - c)
    for k in range(1, n + 1):
        subsets = list(itertools.combinations(range(n), k))
        brute = sum(any(correct[i] for i in s) for s in subsets) / len(subsets)
        assert pass_at_k(n, c, k) == pytest.approx(brute)
