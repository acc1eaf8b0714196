"""How a stopped problem's answer is chosen from its samples: a selection method and,
for the scored methods, how step scores reduce to one.

Why a rule and not a fixed method: the calibration picks one per rung
(``calibration.sequential.rule_choice``), and the router must answer a stopped problem
with exactly the rule its decision model was fitted on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from strategies.search.selection import REDUCTIONS, check_method

# ties go to the first rule in this order: the simplest (no scores) first
MAJORITY = "majority"
SCORED_METHODS: tuple[str, ...] = ("weighted_best_of_n", "best_of_n")


@dataclass(frozen=True)
class AnswerRule:
    """A selection method and, for the scored ones, how step scores reduce to one."""

    method: str
    reduction: str = "last"

    def __post_init__(self) -> None:
        check_method(self.method)
        if self.reduction not in REDUCTIONS:
            raise ValueError(f"unknown score reduction {self.reduction!r}")

    @property
    def uses_scores(self) -> bool:
        return self.method != MAJORITY

    @property
    def label(self) -> str:
        return self.method if not self.uses_scores else f"{self.method}:{self.reduction}"

    def to_json(self) -> dict[str, str]:
        return {"method": self.method, "reduction": self.reduction}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AnswerRule:
        return cls(str(data["method"]), str(data.get("reduction", "last")))


MAJORITY_RULE = AnswerRule(MAJORITY)


def candidate_rules(scored: bool) -> tuple[AnswerRule, ...]:
    """Every rule worth trying: majority alone on unscored pools."""
    if not scored:
        return (MAJORITY_RULE,)
    scored_rules = [AnswerRule(m, r) for m in SCORED_METHODS for r in REDUCTIONS]
    return (MAJORITY_RULE, *scored_rules)
