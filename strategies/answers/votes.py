"""Votes over answers: the project's one voting implementation.

Answers are grouped by ``canonical_key`` (one key per distinct string, never a pairwise
comparison) into integer classes, and ``vote_codes`` picks, per row of a matrix of
classes, the class with the largest total weight (count when unweighted), ties to the
class seen first. Calibration runs it on thousands of random draws of a pool at once
(``strategies.search.selection.choose``); ``majority_vote`` and ``weighted_vote`` are the
same function on a single row.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from strategies.answers.keys import canonical_key

NO_ANSWER = -1


def encode_answers(answers: Sequence[str | None]) -> tuple[np.ndarray, tuple[str, ...]]:
    """(class of each answer, -1 for none; the first string seen of each class)."""
    code_of_key: dict[str, int] = {}
    code_of_string: dict[str, int] = {}
    representatives: list[str] = []
    codes = np.full(len(answers), NO_ANSWER, dtype=np.int64)
    for index, answer in enumerate(answers):
        if answer is None:
            continue
        code = code_of_string.get(answer)
        if code is None:
            code = code_of_key.setdefault(canonical_key(answer), len(representatives))
            if code == len(representatives):
                representatives.append(answer)
            code_of_string[answer] = code
        codes[index] = code
    return codes, tuple(representatives)


def vote_codes(codes: np.ndarray, weights: np.ndarray | None, num_classes: int) -> np.ndarray:
    """Per row of ``codes`` (classes, -1: no answer), the class with the largest total
    weight (count when ``weights`` is None); ties go to the class seen first in the row.
    A row without answers gets an arbitrary class: callers check for that case."""
    num_draws, width = codes.shape
    rows = np.repeat(np.arange(num_draws), width).reshape(num_draws, width)
    answered = codes >= 0
    flat = rows[answered] * num_classes + codes[answered]
    size = num_draws * max(num_classes, 1)
    weight_values = None if weights is None else weights[answered]
    totals = np.bincount(flat, weights=weight_values, minlength=size).reshape(num_draws, -1)
    first = np.full((num_draws, max(num_classes, 1)), width, dtype=np.int64)
    positions = np.broadcast_to(np.arange(width), codes.shape)
    np.minimum.at(first, (rows[answered], codes[answered]), positions[answered])
    present = first < width
    totals = np.where(present, totals, -np.inf)
    best = totals.max(axis=1, keepdims=True)
    first_of_best = np.where(present & (totals == best), first, width + 1)
    result: np.ndarray = first_of_best.argmin(axis=1)
    return result


def majority_vote(answers: Sequence[str | None]) -> str | None:
    """The most frequent answer by canonical key (ties: first seen); None if there is none."""
    return _vote(answers, None)


def weighted_vote(answers: Sequence[str | None], scores: Sequence[float]) -> str | None:
    """The answer whose samples' scores sum highest, grouped by canonical key (ties: first seen)."""
    if len(answers) != len(scores):
        raise ValueError(f"weighted_vote got {len(answers)} answers but {len(scores)} scores")
    if any(math.isnan(score) for score in scores):
        raise ValueError("weighted_vote got a NaN score")
    return _vote(answers, np.asarray(scores, dtype=np.float64))


def _vote(answers: Sequence[str | None], weights: np.ndarray | None) -> str | None:
    codes, representatives = encode_answers(answers)
    if not representatives:
        return None
    row_weights = None if weights is None else weights[None, :]
    winner = int(vote_codes(codes[None, :], row_weights, len(representatives))[0])
    return representatives[winner]
