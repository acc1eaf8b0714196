"""``auto`` (the default): ``price:LAMBDA*`` at the price the calibration recommends, the
highest price whose held-out accuracy on the calibration problems is within one point
of the best the router reaches there: where extra compute stops paying.
"""

from __future__ import annotations

from router.policies.base import POLICIES, BudgetPolicy, PolicyError, RoundView
from router.policies.pricing import decide_at_price
from runtime.actions import Decision
from runtime.decision_model import SequentialModel


@POLICIES.register("auto", summary="the price the calibration recommends")
class AutoPolicy(BudgetPolicy):
    name = "auto"
    forms = "auto"

    @classmethod
    def parse(cls, argument: str) -> AutoPolicy:
        if argument:
            raise PolicyError(f"--budget auto:{argument}: auto takes no value")
        return cls()

    def __str__(self) -> str:
        return "auto"

    def price(self, model: SequentialModel) -> float:
        return model.auto_price()

    def decide(self, view: RoundView) -> list[Decision]:
        return decide_at_price(view, view.model.auto_price())
