"""What the published stopping rules share: sample in tranches up to N, stop when a rule
says the answer is settled. They never run a tree search and need no decision model,
which makes them the baselines `ttc evaluate` holds the router against."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import ClassVar

from router.policies.base import BudgetPolicy, PolicyError, RoundView, parse_count, parse_number
from runtime.actions import Decision
from runtime.answer_rule import MAJORITY_RULE, AnswerRule
from runtime.decision_model import SequentialModel
from runtime.stopping_rules import StoppingRule
from strategies.search.result import Candidate


class SamplingRule(BudgetPolicy):
    """``name:N[:PARAMETER]``: at most N samples per problem."""

    parameter_name: ClassVar[str]
    default_parameter: ClassVar[float]

    def __init__(self, budget: int, parameter: float | None = None) -> None:
        self.budget = int(budget)
        self.parameter = self.default_parameter if parameter is None else float(parameter)

    @classmethod
    def parse(cls, argument: str) -> SamplingRule:
        raw = f"{cls.name}:{argument}"
        parts = argument.split(":")
        if not argument or len(parts) > 2:
            raise PolicyError(f"--budget {raw!r}: expected {cls.forms}")
        budget = parse_count(raw, parts[0], "the sample budget")
        parameter = None
        if len(parts) == 2:
            parameter = parse_number(raw, parts[1], cls.parameter_name)
        return cls(budget, parameter)

    def __str__(self) -> str:
        text = f"{self.name}:{self.budget}"
        if self.parameter != self.default_parameter:
            text += f":{self.parameter:g}"
        return text

    @property
    @abstractmethod
    def rule(self) -> StoppingRule:
        """The published rule this policy runs (runtime.stopping_rules)."""

    def tranche(self, drawn: int) -> int:
        return self.rule.tranche(drawn)

    def settled(self, candidates: Sequence[Candidate], view: RoundView) -> bool:
        return self.rule.settled(candidates, self.budget, view.model.reduction)

    def decide(self, view: RoundView) -> list[Decision]:
        out = []
        for live in view.problems:
            drawn = len(live.candidates)
            if drawn >= self.budget or (drawn and self.settled(live.candidates, view)):
                out.append(Decision("stop", 0.0, 0.0))
            else:
                target = min(self.budget, drawn + self.tranche(drawn))
                out.append(Decision("sample", 0.0, float(target - drawn), None, target))
        return out


class MajorityRule(SamplingRule):
    """A rule that counts votes: it answers by majority and never needs scores."""

    def answer_rule(self, model: SequentialModel, samples: int) -> AnswerRule:
        return MAJORITY_RULE

    def needs_scores(self, model: SequentialModel) -> bool:
        return False
