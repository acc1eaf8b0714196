"""``N`` (e.g. ``--budget 8``): at most N generations per problem, every round included.

Within that cap the router routes at price 0 (``SequentialModel.cap_price``): it
spends up to N wherever the decision model expects more compute to still gain accuracy,
and stops early only where it expects none (a settled vote); no problem ever spends more
than N. N need not be a calibrated budget: every action whose cost fits is allowed.
Sampling on is valued by what the cap will still allow after it (the model's capped
continuations, fitted for the calibrated budgets; an uncalibrated N uses the largest
calibrated one below it).
"""

from __future__ import annotations

from router.policies.base import POLICIES, BudgetPolicy, PolicyError, RoundView, parse_count
from router.policies.pricing import decide_at_price
from runtime.actions import Decision
from runtime.decision_model import SequentialModel


@POLICIES.register("fixed", summary="at most N generations per problem")
class FixedPolicy(BudgetPolicy):
    name = "fixed"
    forms = "N (e.g. 8)"

    def __init__(self, budget: int) -> None:
        if budget < 1:
            raise PolicyError(f"--budget {budget}: a fixed budget must be >= 1")
        self.budget = int(budget)

    @classmethod
    def parse(cls, argument: str) -> FixedPolicy:
        return cls(parse_count(argument, argument, "a fixed budget"))

    def __str__(self) -> str:
        return str(self.budget)

    def price(self, model: SequentialModel) -> float:
        return model.cap_price()

    def decide(self, view: RoundView) -> list[Decision]:
        caps = [max(0.0, view.sample_cost(self.budget) - p.spent) for p in view.problems]
        return decide_at_price(view, view.model.cap_price(), caps, budget=self.budget)
