"""Typed records of what the calibration stages write to their shards.

One ``ProblemSamples`` line per problem holds stage 1 (the K-sample pool, graded and
scored); one ``TreeRecord`` line per (problem, strategy, budget, seed) holds stage 3's
tree searches. Both round-trip through plain JSON so shards stay readable by anyone and
nothing is ever unpickled.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from strategies.cost import CostLedger
from strategies.search.result import Candidate
from strategies.search.steps import solution_steps


@dataclass(frozen=True)
class SampleRecord:
    """One full solution from the pool: what was written, its answer, grade and scores."""

    text: str
    answer: str | None
    correct: bool
    step_scores: tuple[float, ...]
    num_tokens: int
    finish_reason: str

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["step_scores"] = list(self.step_scores)
        return data

    def to_candidate(self, delimiter: str = "\n\n") -> Candidate:
        """The Candidate this sample was stored from (steps re-split at ``delimiter``)."""
        return Candidate(
            text=self.text,
            steps=solution_steps(self.text, delimiter),
            step_scores=self.step_scores,
            answer=self.answer,
            finish_reason=self.finish_reason,
            num_tokens=self.num_tokens,
        )

    @classmethod
    def from_candidate(cls, candidate: Candidate, correct: bool) -> SampleRecord:
        return cls(
            text=candidate.text,
            answer=candidate.answer,
            correct=correct,
            step_scores=tuple(float(s) for s in candidate.step_scores),
            num_tokens=int(candidate.num_tokens),
            finish_reason=str(candidate.finish_reason),
        )

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SampleRecord:
        return cls(
            text=str(data["text"]),
            answer=None if data.get("answer") is None else str(data["answer"]),
            correct=bool(data["correct"]),
            step_scores=tuple(float(s) for s in data["step_scores"]),
            num_tokens=int(data["num_tokens"]),
            finish_reason=str(data["finish_reason"]),
        )


@dataclass(frozen=True)
class ProblemSamples:
    """Stage 1's result for one problem: its K-sample pool and what sampling it cost."""

    problem_id: str
    gold: str
    samples: tuple[SampleRecord, ...]
    cost: CostLedger = field(default_factory=CostLedger)
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def pass_at_1(self) -> float:
        if not self.samples:
            return 0.0
        return sum(s.correct for s in self.samples) / len(self.samples)

    def to_json(self) -> dict[str, Any]:
        return {
            "problem_id": self.problem_id,
            "gold": self.gold,
            "samples": [s.to_json() for s in self.samples],
            "cost": self.cost.to_dict(),
            "metadata": self.metadata,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProblemSamples:
        return cls(
            problem_id=str(data["problem_id"]),
            gold=str(data["gold"]),
            samples=tuple(SampleRecord.from_json(s) for s in data["samples"]),
            cost=CostLedger.from_dict(data.get("cost", {})),
            metadata=dict(data.get("metadata", {})),
        )


@dataclass(frozen=True)
class TreeRecord:
    """Stage 3's result for one tree search: one (problem, strategy, budget, seed)."""

    problem_id: str
    strategy: str
    budget: int
    seed: int
    answer: str | None
    correct: bool
    cost: CostLedger
    error: str | None = None
    # verifier-weighted share of the finished leaves agreeing with the answer (None in
    # shards written before it was recorded): what a second opinion is decided on
    agreement: float | None = None

    @property
    def key(self) -> tuple[str, str, int, int]:
        return (self.problem_id, self.strategy, self.budget, self.seed)

    def to_json(self) -> dict[str, Any]:
        return {
            "problem_id": self.problem_id,
            "strategy": self.strategy,
            "budget": self.budget,
            "seed": self.seed,
            "answer": self.answer,
            "correct": self.correct,
            "cost": self.cost.to_dict(),
            "error": self.error,
            "agreement": self.agreement,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TreeRecord:
        return cls(
            problem_id=str(data["problem_id"]),
            strategy=str(data["strategy"]),
            budget=int(data["budget"]),
            seed=int(data["seed"]),
            answer=None if data.get("answer") is None else str(data["answer"]),
            correct=bool(data["correct"]),
            cost=CostLedger.from_dict(data.get("cost", {})),
            error=data.get("error"),
            agreement=None if data.get("agreement") is None else float(data["agreement"]),
        )
