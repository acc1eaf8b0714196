"""Typed records of what a search returns."""

from __future__ import annotations

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
