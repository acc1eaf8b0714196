"""Typed records of what a search returns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from strategies.cost import CostLedger


@dataclass
class Candidate:
    """One complete (or abandoned) solution the strategy considered.

    ``steps`` are the pieces between step delimiters, each keeping its delimiter;
    ``step_scores`` has one verifier score per step (empty when no verifier ran).
    """

    text: str
    steps: tuple[str, ...]
    step_scores: tuple[float, ...]
    answer: str | None
    finish_reason: str
    num_tokens: int


@dataclass
class SearchResult:
    """The outcome of one strategy on one problem at one budget."""

    problem_id: str
    strategy: str
    budget: int
    answer: str | None
    chosen: Candidate | None
    candidates: list[Candidate]
    cost: CostLedger
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def answer_agreement(candidates: Sequence[Candidate], answer: str | None) -> float:
    """The verifier-weighted share of the finished leaves (last step scores) whose answer
    is ``answer``; 0 when there is no answer or nothing was scored. How sure a search is
    of its own answer (the router's second opinion is decided on it)."""
    if answer is None:
        return 0.0
    answered = [c for c in candidates if c.answer is not None]
    weights = [max(c.step_scores[-1], 0.0) if c.step_scores else 0.0 for c in answered]
    total = sum(weights)
    if total <= 0:
        return 0.0
    return sum(w for c, w in zip(answered, weights, strict=True) if c.answer == answer) / total
