"""Deciding every live problem at one price: the step the price-based policies share.

The decision model prices compute per generation; with ``--cost-unit flops`` a price
per FLOP is turned into one per generation by the calibration's mean FLOPs of a scored
sample (an approximation: a tree search's FLOPs per generation differ a little).
"""

from __future__ import annotations

from collections.abc import Sequence

from calibration.sequential.model import Decision
from router.policies.base import RoundView


def generation_price(view: RoundView, price: float) -> float:
    if view.cost_unit == "generations" or view.model.sample_flops <= 0:
        return price
    return price * view.model.sample_flops


def generation_amount(view: RoundView, amount: float) -> float:
    if view.cost_unit == "generations" or view.model.sample_flops <= 0:
        return amount
    return amount / view.model.sample_flops


def decide_at_price(
    view: RoundView, price: float, caps: Sequence[float] | None = None
) -> list[Decision]:
    """Each problem's best action at ``price`` (in the router's unit), within its cap."""
    per_generation = generation_price(view, price)
    decisions = []
    for index, live in enumerate(view.problems):
        cap = float("inf") if caps is None else generation_amount(view, caps[index])
        decisions.append(view.model.decide(live.rung_index, live.features, per_generation, cap))
    return decisions


def expected_spend(view: RoundView, decisions: Sequence[Decision]) -> float:
    """What the decisions expect to spend from here on, in the router's unit."""
    total = 0.0
    for decision, live in zip(decisions, view.problems, strict=True):
        if decision.kind == "tree":
            total += view.decision_cost(decision, live)
        else:
            total += view.sample_cost(decision.expected_cost)
    return total
