"""Choosing one answer from a pool of solutions: majority vote and best-of-N.

Every selection here is a pure function of the pool, so the same code serves three
callers: the sampling strategies, calibration (which estimates majority and best-of-N at
budget N by drawing many random subsets of a large pool) and the router (which answers a
stopped problem from the samples it drew). Calibration needs thousands of draws per problem, so the one
implementation is vectorised over draws: ``choose`` takes an encoded pool (answers as
integer codes, solution scores as floats, both computed once) and a matrix of draws. The
candidate-level helpers (``majority``, ``best_of_n``, ``weighted_best_of_n``) are that
same function applied to a single draw of the whole pool, so the two paths cannot drift.

Answers are grouped by ``strategies.answers.canonical_key``, computed once per distinct
string; answers are never compared pairwise (DESIGN.md s.2). The vote itself is
``strategies.answers.votes.vote_codes``, the project's one voting implementation, which
``answers.majority_vote`` and ``answers.weighted_vote`` run on a single row.

Rules, in one place:
- A solution without an extractable answer never wins; a pool where no solution has an
  answer gives no choice (index -1, answer None).
- A solution's score reduces its step scores: ``last`` (default), ``min``, ``prod`` or ``mean``;
  a solution with no step scores scores 0.0 under every reduction.
- Majority: the most frequent answer; ties go to the answer that appears first.
- Best-of-N (naive): the answer of the highest-scoring solution with an answer; ties go
  to the earliest such solution.
- Weighted best-of-N: the answer with the largest sum of solution scores; ties go to
  the answer that appears first.
- The chosen solution is the highest-scoring solution with the winning answer (earliest
  on ties), so majority without a verifier returns the first solution of its answer.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from strategies.answers import canonical_key
from strategies.answers.votes import NO_ANSWER, encode_answers, vote_codes
from strategies.search.result import Candidate

Reduction = Literal["last", "min", "prod", "mean"]
REDUCTIONS: tuple[str, ...] = ("last", "min", "prod", "mean")

SelectionMethod = Literal["majority", "best_of_n", "weighted_best_of_n"]
SELECTION_METHODS: tuple[str, ...] = ("majority", "best_of_n", "weighted_best_of_n")

NO_CHOICE = NO_ANSWER


def check_reduction(reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"unknown score reduction {reduction!r}; choose one of {REDUCTIONS}")


def check_method(method: str) -> None:
    if method not in SELECTION_METHODS:
        raise ValueError(f"unknown selection method {method!r}; choose one of {SELECTION_METHODS}")


def reduce_scores(step_scores: Sequence[float], reduction: str = "last") -> float:
    """One score per solution from its step scores (0.0 when there are none)."""
    if not step_scores:
        return 0.0
    if reduction == "last":
        return float(step_scores[-1])
    if reduction == "min":
        return float(min(step_scores))
    if reduction == "prod":
        return float(math.prod(step_scores))
    if reduction == "mean":
        return float(sum(step_scores)) / len(step_scores)
    check_reduction(reduction)
    raise AssertionError("unreachable")


def solution_score(candidate: Candidate, reduction: str = "last") -> float:
    return reduce_scores(candidate.step_scores, reduction)


@dataclass(frozen=True)
class EncodedPool:
    """A pool ready for fast repeated selection.

    ``codes[i]`` is the answer class of solution i (-1: no answer); ``answers[c]`` is the
    first answer string seen for class c; ``scores[i]`` is the reduced solution score.
    """

    codes: np.ndarray
    scores: np.ndarray
    answers: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.codes.shape[0])

    @classmethod
    def from_answers(
        cls, answers: Sequence[str | None], scores: Sequence[float] | None = None
    ) -> EncodedPool:
        """Encode answers by canonical key (one key computation per distinct string)."""
        codes, representatives = encode_answers(answers)
        if scores is None:
            score_array = np.zeros(len(answers), dtype=np.float64)
        else:
            if len(scores) != len(answers):
                raise ValueError(f"{len(scores)} scores for {len(answers)} answers")
            score_array = np.asarray(scores, dtype=np.float64)
        return cls(codes=codes, scores=score_array, answers=representatives)

    @classmethod
    def from_candidates(
        cls, candidates: Sequence[Candidate], reduction: str = "last"
    ) -> EncodedPool:
        check_reduction(reduction)
        return cls.from_answers(
            [c.answer for c in candidates], [solution_score(c, reduction) for c in candidates]
        )

    def answer_of(self, index: int) -> str | None:
        if index == NO_CHOICE:
            return None
        code = int(self.codes[index])
        return None if code == NO_CHOICE else self.answers[code]


def choose(method: str, pool: EncodedPool, draws: np.ndarray) -> np.ndarray:
    """The chosen pool index for each draw (row of ``draws``, pool indices); -1: none.

    Draw order matters only for ties (earliest wins), so random draws break ties at random.
    """
    check_method(method)
    draws = np.asarray(draws, dtype=np.int64)
    if draws.ndim != 2:
        raise ValueError(f"draws must be a 2-D array of pool indices, got shape {draws.shape}")
    num_draws, width = draws.shape
    chosen = np.full(num_draws, NO_CHOICE, dtype=np.int64)
    if num_draws == 0 or width == 0:
        return chosen
    codes = pool.codes[draws]
    scores = pool.scores[draws]
    answered = codes >= 0
    masked_scores = np.where(answered, scores, -np.inf)
    has_answer = answered.any(axis=1)
    if method == "best_of_n":
        position = masked_scores.argmax(axis=1)
        winner = codes[np.arange(num_draws), position]
    else:
        winner = vote_codes(
            codes, scores if method == "weighted_best_of_n" else None, len(pool.answers)
        )
    in_winner = codes == winner[:, None]
    position = np.where(in_winner, masked_scores, -np.inf).argmax(axis=1)
    picked = draws[np.arange(num_draws), position]
    chosen[has_answer] = picked[has_answer]
    return chosen


@dataclass(frozen=True)
class Choice:
    """What a selection picked: the pool index (-1 for none) and its answer."""

    index: int
    answer: str | None


def select(method: str, candidates: Sequence[Candidate], reduction: str = "last") -> Choice:
    """Apply a selection method to a whole pool of candidates."""
    check_method(method)
    pool = EncodedPool.from_candidates(candidates, reduction)
    index = int(choose(method, pool, np.arange(len(pool))[None, :])[0]) if len(pool) else NO_CHOICE
    return Choice(index=index, answer=pool.answer_of(index))


def majority(candidates: Sequence[Candidate]) -> Choice:
    return select("majority", candidates)


def best_of_n(candidates: Sequence[Candidate], reduction: str = "last") -> Choice:
    return select("best_of_n", candidates, reduction)


def weighted_best_of_n(candidates: Sequence[Candidate], reduction: str = "last") -> Choice:
    return select("weighted_best_of_n", candidates, reduction)


def answer_mass(candidates: Sequence[Candidate], reduction: str = "last") -> dict[str, float]:
    """Summed solution scores per distinct answer (by canonical key)."""
    mass: dict[str, float] = {}
    for candidate in candidates:
        if candidate.answer is not None:
            key = canonical_key(candidate.answer)
            mass[key] = mass.get(key, 0.0) + solution_score(candidate, reduction)
    return mass


def answer_agreement(candidates: Sequence[Candidate], answer: str | None) -> float:
    """The verifier-weighted share (last step scores) of the solutions whose answer is
    ``answer``; 0 when there is no answer or nothing was scored. How sure a search is of
    its own answer, read off its finished leaves (the router's second opinion is
    decided on it)."""
    if answer is None:
        return 0.0
    mass = answer_mass(candidates, "last")
    total = sum(mass.values())
    return mass.get(canonical_key(answer), 0.0) / total if total > 0 else 0.0


def distinct_answers(candidates: Iterable[Candidate]) -> int:
    """How many different answers (by canonical key) a pool holds."""
    return len({canonical_key(c.answer) for c in candidates if c.answer is not None})
