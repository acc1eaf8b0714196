"""What the router may do with one problem: (strategy, budget) options with expected
accuracy and expected extra cost, and their efficient frontier.

An option's accuracy is the calibration table's per-level accuracy weighted by the
problem's predicted level distribution (``BinningTable.expected_accuracy``), so an
uncertain prediction blends the curves of the levels it hesitates between.

An option's cost is what it adds on top of the probe, which every problem pays anyway.
Two units (``CostModel.unit``):

- ``generations``: full-solution equivalents, the paper's budget N. A sampling strategy
  (majority, best-of-N) at N reuses the k probe samples and draws only ``max(0, N - k)``
  new ones; a tree search (beam search, DVTS) cannot reuse them and costs N (its
  generated tokens match N full solutions: ``strategies.search.budget``).
- ``flops``: the table's measured mean FLOPs (generator plus verifier) of the option in
  each level, weighted by the distribution; a sampling strategy pays the share
  ``max(0, N - k) / N`` of it (the probe samples are already drawn and scored).

The frontier keeps the options no other option beats on both axes and, of those, the
upper concave hull, so each step up the frontier buys accuracy at a falling rate: the
property that makes the price and the greedy total-budget policies optimal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from typing import Literal

from calibration.table import BinningTable, CalibrationTable

CostUnit = Literal["generations", "flops"]
COST_UNITS: tuple[str, ...] = ("generations", "flops")
ROUTING_BINNING = "oracle"


@dataclass(frozen=True)
class Option:
    """Run ``strategy`` at ``budget`` on one problem."""

    strategy: str
    budget: int
    expected_accuracy: float
    expected_cost: float
    reuses_probe: bool


@dataclass(frozen=True)
class CostModel:
    """How an option's extra cost is measured; ``probe_k`` samples are already paid for."""

    unit: CostUnit
    probe_k: int

    def __post_init__(self) -> None:
        if self.unit not in COST_UNITS:
            raise ValueError(f"unknown cost unit {self.unit!r}; choose one of {COST_UNITS}")
        if self.probe_k < 0:
            raise ValueError(f"probe_k must be >= 0, got {self.probe_k}")

    def extra_cost(self, budget: int, reuses_probe: bool, expected_flops: float) -> float:
        new_share = max(0, budget - self.probe_k) / budget if reuses_probe else 1.0
        if self.unit == "generations":
            return budget * new_share
        return expected_flops * new_share


@lru_cache(maxsize=64)
def reuses_probe(strategy: str) -> bool:
    """Sampling strategies can take the probe's samples into their pool; tree searches cannot."""
    from strategies.search.registry import get_strategy
    from strategies.search.sampling import SamplingStrategy

    return isinstance(get_strategy(strategy), SamplingStrategy)


def expected_flops(
    table: BinningTable, distribution: Mapping[int, float], budget: int, strategy: str
) -> float | None:
    total = 0.0
    for level, weight in distribution.items():
        if weight <= 0:
            continue
        cell = table.cells.get((level, budget))
        stats = None if cell is None else cell.strategies.get(strategy)
        if stats is None:
            return None
        total += weight * stats.cost.flops
    return total


def problem_options(
    table: CalibrationTable, distribution: Mapping[int, float], cost_model: CostModel
) -> list[Option]:
    """Every (strategy, budget) the table measured in every level the distribution allows."""
    binning = table.binning(ROUTING_BINNING)
    options = []
    for budget in table.budgets:
        for strategy in table.strategies:
            accuracy = binning.expected_accuracy(distribution, budget, strategy)
            flops = expected_flops(binning, distribution, budget, strategy)
            if accuracy is None or flops is None:
                continue
            reuse = reuses_probe(strategy)
            options.append(
                Option(
                    strategy=strategy,
                    budget=budget,
                    expected_accuracy=accuracy,
                    expected_cost=cost_model.extra_cost(budget, reuse, flops),
                    reuses_probe=reuse,
                )
            )
    if not options:
        raise ValueError(
            "the calibration table has no (strategy, budget) measured in every predicted level"
        )
    return options


def frontier(options: Sequence[Option]) -> list[Option]:
    """The upper concave hull of (cost, accuracy), cheapest first.

    Ties in cost keep the most accurate option (then the smaller budget, then the table's
    order), so a free option always starts the frontier when one exists. Slopes between
    consecutive frontier points strictly fall.
    """
    if not options:
        raise ValueError("no options to choose from")
    order = sorted(
        enumerate(options),
        key=lambda item: (
            item[1].expected_cost,
            -item[1].expected_accuracy,
            item[1].budget,
            item[0],
        ),
    )
    staircase: list[Option] = []
    for _, option in order:
        if staircase and option.expected_accuracy <= staircase[-1].expected_accuracy:
            continue
        staircase.append(option)
    hull: list[Option] = []
    for option in staircase:
        while len(hull) >= 2 and _slope(hull[-2], hull[-1]) <= _slope(hull[-1], option):
            hull.pop()
        hull.append(option)
    return hull


def _slope(low: Option, high: Option) -> float:
    """Accuracy gained per unit of extra cost from ``low`` to ``high`` (costs differ)."""
    return (high.expected_accuracy - low.expected_accuracy) / (
        high.expected_cost - low.expected_cost
    )


def step_slopes(hull: Sequence[Option]) -> list[float]:
    """Gain per unit cost of each step up a frontier (one fewer than its points)."""
    return [_slope(a, b) for a, b in pairwise(hull)]
