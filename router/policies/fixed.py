"""``N`` (e.g. ``--budget 8``): at most N generations per problem, every round included.

Within that cap the router routes at price 0 (``SequentialModel.cap_price``): it
spends up to N wherever the decision model expects more compute to still gain accuracy,
and stops early only where it expects none (a settled vote); no problem ever spends more
than N. N need not be a calibrated budget: every action whose cost fits is allowed.
Sampling on is valued by what the cap will still allow after it (the model's capped
continuations, fitted for the calibrated budgets; an uncalibrated N uses the largest
calibrated one below it).

Where the calibration shows a published stopping rule at N as accurate as all that for
fewer generations, the batch runs the rule instead (``router.policies.envelope``).
"""

from __future__ import annotations

from router.policies.base import POLICIES, BudgetPolicy, PolicyError, RoundView, parse_count
from router.policies.envelope import RuleUnderCap, stopping_rule
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

    def for_batch(
        self,
        model: SequentialModel,
        num_problems: int,
        budget_left: float | None,
        cost_unit: str,
    ) -> BudgetPolicy:
        """The stopping rule at N instead, when on the calibration problems it was as
        accurate as this cap's held-out figure and as sampling to N, for less."""
        name = model.rule_under_cap(self.budget)
        if name is None:
            return self
        return RuleUnderCap(self, stopping_rule(name))

    def decide(self, view: RoundView) -> list[Decision]:
        caps = [max(0.0, view.sample_cost(self.budget) - p.spent) for p in view.problems]
        return decide_at_price(view, view.model.cap_price(), caps, budget=self.budget)
