"""The price behind ``--budget auto``: where the calibration says extra compute stops paying.

Route the calibration problems themselves, each by its own (oracle) level, at a price
LAMBDA: every level picks its frontier point by ``choose_by_price``, and the problems
of that level get its accuracy and cost. Lowering the price never lowers accuracy and
never lowers cost. ``auto_price`` returns the highest price whose accuracy is within
``tolerance`` (one point by default) of the accuracy at price zero (the best the table
allows), i.e. the cheapest point of the calibration's own curve that is nearly as good
as the most expensive one. The candidate prices are the frontier slopes themselves, the
only places where a choice changes.
"""

from __future__ import annotations

from dataclasses import dataclass

from calibration.table import CalibrationTable
from router.options import ROUTING_BINNING, CostModel, Option, problem_options, step_slopes
from router.options import frontier as efficient_frontier
from router.policy import choose_by_price

AUTO_TOLERANCE = 0.01


@dataclass(frozen=True)
class PricePoint:
    """The calibration population routed at one price."""

    price: float
    accuracy: float
    mean_cost: float


def price_curve(table: CalibrationTable, cost_model: CostModel) -> list[PricePoint]:
    """Accuracy and mean extra cost of routing the calibration problems at each candidate
    price, from the most expensive (price 0) to the cheapest."""
    binning = table.binning(ROUTING_BINNING)
    sizes = {level: size for level, size in binning.sizes.items() if size > 0}
    total = sum(sizes.values())
    if total == 0:
        raise ValueError("the calibration table's oracle binning holds no problems")
    menus: dict[int, list[Option]] = {
        level: problem_options(table, {level: 1.0}, cost_model) for level in sizes
    }
    prices = {0.0}
    for options in menus.values():
        prices.update(s for s in step_slopes(efficient_frontier(options)) if s > 0)
    curve = []
    for price in sorted(prices):
        accuracy = cost = 0.0
        for level, options in menus.items():
            choice = choose_by_price(options, price)
            accuracy += sizes[level] / total * choice.expected_accuracy
            cost += sizes[level] / total * choice.expected_cost
        curve.append(PricePoint(price, accuracy, cost))
    return curve


def auto_price(
    table: CalibrationTable, cost_model: CostModel, tolerance: float = AUTO_TOLERANCE
) -> PricePoint:
    """The highest price within ``tolerance`` of the best accuracy (see the module doc)."""
    curve = price_curve(table, cost_model)
    best = max(point.accuracy for point in curve)
    good = [point for point in curve if point.accuracy >= best - tolerance]
    return max(good, key=lambda point: point.price)
