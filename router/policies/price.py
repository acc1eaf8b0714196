"""``price:LAMBDA``: spend on a problem while the next action gains at least LAMBDA
expected accuracy per unit of compute (per generation, or per FLOP with
``--cost-unit flops``). Each problem on its own; spend is open-ended, the price bounds it.
"""

from __future__ import annotations

from router.policies.base import POLICIES, BudgetPolicy, RoundView, format_number, parse_number
from router.policies.pricing import decide_at_price, generation_price
from runtime.actions import Decision
from runtime.decision_model import SequentialModel


@POLICIES.register("price", summary="per problem, spend while the gain pays LAMBDA per unit")
class PricePolicy(BudgetPolicy):
    name = "price"
    forms = "price:LAMBDA (e.g. price:0.01)"

    def __init__(self, value: float) -> None:
        self.value = float(value)

    @classmethod
    def parse(cls, argument: str) -> PricePolicy:
        return cls(parse_number(f"price:{argument}", argument, "the price", positive=False))

    def __str__(self) -> str:
        return f"price:{format_number(self.value)}"

    def price(self, model: SequentialModel) -> float:
        return self.value

    def decide(self, view: RoundView) -> list[Decision]:
        return decide_at_price(view, generation_price(view, self.value))
