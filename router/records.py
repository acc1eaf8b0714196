"""One line of `ttc solve` output per problem: the typed record and its JSON form."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from runtime.actions import action_key
from strategies.cost import CostLedger

# 2: no ``reused_probe_samples`` (always 0 since the router routes in rounds) and a
# ``schema`` field on every line; lines without one are version 1 and read the same way
ANSWER_SCHEMA = 2
Status = Literal["ok", "no_answer", "failed"]
STATUSES: tuple[str, ...] = ("ok", "no_answer", "failed")


@dataclass(frozen=True)
class Compute:
    """What a problem cost, every round included, in the units the policies and evaluation
    use.

    ``generations`` counts full-solution equivalents: each sample drawn, and N for a tree
    search at budget N (whose ledger counts single steps as generations; its tokens
    match N full solutions).
    """

    generations: float
    tokens: int
    flops: float

    def to_json(self) -> dict[str, Any]:
        return {"generations": self.generations, "tokens": self.tokens, "flops": self.flops}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Compute:
        return cls(float(data["generations"]), int(data["tokens"]), float(data["flops"]))


@dataclass(frozen=True)
class AnswerRecord:
    """A solved (``ok``), unanswered (``no_answer``: no solution had an extractable final
    answer) or failed (``failed``: an exception, retried on the next run) problem.

    ``correct`` is None when the problem has no reference answer.
    """

    id: str
    status: Status
    policy: str
    answer: str | None = None
    correct: bool | None = None
    reference: str | None = None
    solution: str | None = None
    strategy: str | None = None
    budget: int | None = None
    difficulty: dict[str, Any] | None = None
    expected_accuracy: float | None = None
    expected_cost: float | None = None
    compute: Compute = field(default_factory=lambda: Compute(0.0, 0, 0.0))
    cost: CostLedger = field(default_factory=CostLedger)
    error: str | None = None
    elapsed_s: float = 0.0
    route: tuple[str, ...] = ()  # the policy's decision in each round
    samples: int = 0  # full solutions drawn (a tree search's are in its budget)

    @property
    def finished(self) -> bool:
        return self.status != "failed"

    @property
    def choice(self) -> str | None:
        """The fixed run that answered (``rebase+check@8``, ``majority@4``), if any."""
        if self.strategy is None or self.budget is None:
            return self.strategy
        return action_key(self.strategy, self.budget)

    def to_json(self) -> dict[str, Any]:
        return {  # "id" and "status" first: a torn last line is recognised by them
            "id": self.id,
            "status": self.status,
            "schema": ANSWER_SCHEMA,
            "answer": self.answer,
            "correct": self.correct,
            "reference": self.reference,
            "strategy": self.strategy,
            "budget": self.budget,
            "policy": self.policy,
            "difficulty": self.difficulty,
            "expected_accuracy": self.expected_accuracy,
            "expected_cost": self.expected_cost,
            "compute": self.compute.to_json(),
            "cost": self.cost.to_dict(),
            "error": self.error,
            "elapsed_s": round(self.elapsed_s, 4),
            "route": list(self.route),
            "samples": self.samples,
            "solution": self.solution,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AnswerRecord:
        schema = data.get("schema", 1)
        if not isinstance(schema, int) or not 1 <= schema <= ANSWER_SCHEMA:
            raise ValueError(
                f"answer schema {schema!r}; this version reads 1 to {ANSWER_SCHEMA} (a newer ttc "
                "wrote it?)"
            )
        status = data["status"]
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        return cls(
            id=str(data["id"]),
            status=status,
            policy=str(data["policy"]),
            answer=data.get("answer"),
            correct=data.get("correct"),
            reference=data.get("reference"),
            solution=data.get("solution"),
            strategy=data.get("strategy"),
            budget=data.get("budget"),
            difficulty=data.get("difficulty"),
            expected_accuracy=data.get("expected_accuracy"),
            expected_cost=data.get("expected_cost"),
            compute=Compute.from_json(data["compute"]),
            cost=CostLedger.from_dict(data.get("cost", {})),
            error=data.get("error"),
            elapsed_s=float(data.get("elapsed_s", 0.0)),
            route=tuple(str(step) for step in data.get("route", [])),
            samples=int(data.get("samples", 0)),
        )
