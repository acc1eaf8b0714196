"""Deciding every live problem at one price: the step the price-based policies share.

The decision model prices compute per generation, and so do the policies here; a price
given in the router's unit (``price:LAMBDA`` with ``--cost-unit flops``: per FLOP) is
turned into one per generation (``generation_price``) by the calibration's mean FLOPs of a scored
sample (an approximation: a tree search's FLOPs per generation differ a little).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from router.policies.base import RoundView
from runtime.actions import Decision


def generation_price(view: RoundView, price: float) -> float:
    if view.cost_unit == "generations" or view.model.sample_flops <= 0:
        return price
    return price * view.model.sample_flops


def generation_amount(view: RoundView, amount: float) -> float:
    if view.cost_unit == "generations" or view.model.sample_flops <= 0:
        return amount
    return amount / view.model.sample_flops


def decide_at_price(
    view: RoundView,
    per_generation: float,
    caps: Sequence[float] | None = None,
    budget: float | None = None,
) -> list[Decision]:
    """Each problem's best action at ``per_generation`` (the model's price unit), within
    its cap (in the router's unit); ``budget``: every problem's whole cap in generations,
    when the policy has one, so that sampling on is valued by what that cap allows."""
    decisions: list[Decision | None] = [None] * len(view.problems)
    by_rung: dict[int, list[int]] = {}
    for index, live in enumerate(view.problems):
        by_rung.setdefault(live.rung_index, []).append(index)
    for rung_index, members in by_rung.items():
        rows = np.vstack([view.problems[i].features for i in members])
        limits = None
        if caps is not None:
            limits = np.array([generation_amount(view, caps[i]) for i in members])
        chosen = view.model.decide_rows(rung_index, rows, per_generation, limits, budget)
        for index, decision in zip(members, chosen, strict=True):
            decisions[index] = decision
    return [d for d in decisions if d is not None]


def expected_spend(view: RoundView, decisions: Sequence[Decision]) -> float:
    """What the decisions expect to spend from here on, in the router's unit (a checked
    search at its calibration mean, sampling on with what it expects to do next)."""
    return sum(
        view.expected_cost(decision, live)
        for decision, live in zip(decisions, view.problems, strict=True)
    )


def admit_cheapest_first(
    view: RoundView,
    decisions: Sequence[Decision],
    costs: Sequence[float],
    left: float,
    shrink: Callable[[int, float], tuple[Decision, float]],
) -> list[Decision]:
    """Admit a round's actions cheapest first while they fit in ``left``, keeping one
    sample's worth back for every problem that has nothing yet (it must be answered);
    an action that does not fit becomes ``shrink(index, room)``: a smaller action and
    its cost, or a stop. Shared by ``total:B`` and the rules it hands batches to, so B
    is kept the same way whoever decides."""
    one = view.sample_cost(1)
    reserve = sum(one for p in view.problems if p.rung_index == 0)
    out = list(decisions)
    spend = list(costs)
    for index in sorted(range(len(out)), key=lambda i: (spend[i], i)):
        own = one if view.problems[index].rung_index == 0 else 0.0
        room = left - (reserve - own)
        if spend[index] > room + 1e-9:
            out[index], spend[index] = shrink(index, room)
        left -= spend[index]
        reserve -= own
    return out
