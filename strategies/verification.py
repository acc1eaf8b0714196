"""The Verifier protocol: process reward models and their stand-ins.

A verifier scores every step of a partial or complete solution, so tree searches
can prune and best-of-N can rank. One score per step, always in [0, 1].
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class ScoreRequest:
    problem: str
    steps: tuple[str, ...]


@dataclass(frozen=True)
class StepScores:
    """``scores[i]`` is the verifier's belief that steps[0..i] are all correct.

    ``num_tokens`` is how many tokens the verifier read for this request: it feeds
    the cost ledger (verifier FLOPs ~ 2 x parameters x tokens).
    ``error`` says why this one request could not be scored (an input longer than the
    model reads): its problem fails with that message and the rest of the batch goes on.
    """

    scores: tuple[float, ...]
    num_tokens: int
    error: str | None = None


@runtime_checkable
class Verifier(Protocol):
    name: str
    num_parameters: int

    def score(self, requests: Sequence[ScoreRequest]) -> list[StepScores]: ...


def split_steps(solution: str, delimiter: str = "\n\n") -> tuple[str, ...]:
    """Split a solution into steps at the search's step delimiter.

    Empty pieces are dropped, so a trailing delimiter does not create an empty step.
    """
    return tuple(part for part in solution.split(delimiter) if part.strip())
