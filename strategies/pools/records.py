"""Typed records of a recorded pool: problems, their samples, and where they came from."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from strategies.problems import Problem


class PoolFormatError(ValueError):
    """A pool file that cannot be read; the message names the file and, where known, the line."""


@dataclass(frozen=True)
class RecordedSample:
    """One whole solution as recorded.

    ``text`` may be empty when only an answer was recorded; ``answer`` is what the file
    said (None when it said nothing). ``step_scores`` is None when the file had no score.
    """

    text: str
    answer: str | None
    step_scores: tuple[float, ...] | None
    num_tokens: int
    finish_reason: str = "eos"
    verifier_tokens: int | None = None  # what the verifier read (None: the sample's tokens)


@dataclass(frozen=True)
class RecordedProblem:
    """A problem and its recorded samples; ``where`` is ``file:line`` for messages."""

    id: str
    text: str | None
    answer: str | None
    samples: tuple[RecordedSample, ...]
    where: str
    metadata: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def scored(self) -> bool:
        return all(s.step_scores is not None for s in self.samples)

    def as_problem(self) -> Problem:
        """The Problem a strategy runs on; a pool without text uses the id as its text."""
        return Problem(
            id=self.id, text=self.text or self.id, answer=self.answer, metadata=self.metadata
        )


@dataclass(frozen=True)
class PoolFile:
    """One file read into a pool, and what it recorded about how it was made."""

    path: str
    layout: str
    sha256: str
    num_problems: int
    model: str | None = None
    verifier: str | None = None
    num_parameters: int | None = None
    verifier_num_parameters: int | None = None
    settings: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    def describe(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "layout": self.layout,
            "sha256": self.sha256,
            "num_problems": self.num_problems,
            "model": self.model,
            "verifier": self.verifier,
        }


@dataclass(frozen=True)
class SamplePool:
    """Recorded problems by id, in file order, and the files they came from."""

    problems: Mapping[str, RecordedProblem]
    files: tuple[PoolFile, ...]

    def __iter__(self) -> Iterator[RecordedProblem]:
        return iter(self.problems.values())

    def __len__(self) -> int:
        return len(self.problems)

    @property
    def scored(self) -> bool:
        """Whether every sample has a score (else only majority can be replayed)."""
        return all(problem.scored for problem in self)

    @property
    def min_samples(self) -> int:
        return min((len(p.samples) for p in self), default=0)

    def recorded(self, name: str) -> str | None:
        """The files' common ``model`` or ``verifier`` (None when unknown or mixed)."""
        values = {getattr(f, name) for f in self.files}
        return values.pop() if len(values) == 1 else None

    @property
    def num_parameters(self) -> int | None:
        """The generator's parameter count the files agree on (FLOPs), else None."""
        values = {f.num_parameters for f in self.files}
        return values.pop() if len(values) == 1 else None

    @property
    def verifier_num_parameters(self) -> int | None:
        values = {f.verifier_num_parameters for f in self.files}
        return values.pop() if len(values) == 1 else None
