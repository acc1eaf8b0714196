"""Budget policies: how the router turns each problem's options into one choice.

``--budget`` takes one of four forms (``parse_policy``):

``N`` (an integer, e.g. ``--budget 8``)
    Fixed budget: every problem runs at budget N with the strategy of highest expected
    accuracy at N under its predicted level distribution (ties: the cheaper one). N must
    be one of the calibration's budgets. Compute per problem is about N (plus the probe
    for tree searches; sampling strategies take the probe into their N).

``price:LAMBDA`` (e.g. ``--budget price:0.01``)
    A price per unit of compute: per problem, climb the efficient frontier of its options
    (``router.options.frontier``) while the next step up gains at least LAMBDA expected
    accuracy per extra generation (per FLOP with ``--cost-unit flops``). Equivalently,
    maximise expected accuracy - LAMBDA x extra cost. Problems predicted easy stop early
    (their first free step already reaches ~100%), hopeless ones too (no step gains
    enough), and the middle climbs highest. Spend is open-ended; the price bounds it.

``total:B`` (e.g. ``--budget total:800``)
    B units of compute for the whole batch, probe included (B generations, or FLOPs with
    ``--cost-unit flops``, e.g. ``total:2.5e15``). After every problem's probe is paid,
    the rest is shared out greedily by marginal gain: start every problem at its
    cheapest frontier point, then repeatedly take the single step up, over all problems,
    with the highest expected accuracy gained per unit cost that still fits. On concave
    frontiers this is the optimal fractional allocation (up to the last step). A B below
    the probe's own cost leaves every problem at its free option and warns.

``auto`` (the default)
    ``price:LAMBDA*`` with the price the calibration table itself recommends
    (``router.auto_price.auto_price``): the highest price at which routing the
    calibration problems by their levels still reaches within one accuracy point of the
    best the table allows, so the router stops where extra compute stops paying.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from router.options import Option, frontier, step_slopes

PolicyKind = Literal["auto", "fixed", "price", "total"]


class PolicyError(ValueError):
    """A ``--budget`` value that cannot be used; the message says which forms exist."""


@dataclass(frozen=True)
class BudgetPolicy:
    """A parsed ``--budget`` value. ``value`` is N, LAMBDA or B (None for auto)."""

    kind: PolicyKind
    value: float | None = None

    def __str__(self) -> str:
        if self.kind == "auto":
            return "auto"
        if self.kind == "fixed":
            return str(int(self.value or 0))
        return f"{self.kind}:{_number(self.value or 0.0)}"

    @property
    def slug(self) -> str:
        """A file-name-safe form (for default output paths)."""
        return str(self).replace(":", "-")


FORMS = "auto, N (e.g. 8), total:B (e.g. total:800) or price:LAMBDA (e.g. price:0.01)"


def parse_policy(text: str) -> BudgetPolicy:
    raw = str(text).strip()
    if raw == "auto":
        return BudgetPolicy("auto")
    kind, sep, value_text = raw.partition(":")
    if not sep:
        try:
            budget = int(raw)
        except ValueError:
            raise PolicyError(f"--budget {raw!r}: expected {FORMS}") from None
        if budget < 1:
            raise PolicyError(f"--budget {raw!r}: a fixed budget must be >= 1")
        return BudgetPolicy("fixed", float(budget))
    if kind not in ("total", "price"):
        raise PolicyError(f"--budget {raw!r}: unknown policy {kind!r}; expected {FORMS}")
    try:
        value = float(value_text)
    except ValueError:
        raise PolicyError(f"--budget {raw!r}: {value_text!r} is not a number") from None
    if not math.isfinite(value) or value < 0 or (kind == "total" and value == 0):
        raise PolicyError(f"--budget {raw!r}: {kind} must be a positive number")
    return BudgetPolicy(kind, value)  # type: ignore[arg-type]


def check_policy(policy: BudgetPolicy, budgets: Sequence[int]) -> None:
    """Refuse a fixed budget the calibration never measured, before any compute is spent."""
    if policy.kind == "fixed" and int(policy.value or 0) not in budgets:
        raise PolicyError(
            f"--budget {policy}: the calibration measured budgets {sorted(budgets)}; pick one "
            "of them (or use total:B / price:LAMBDA for other amounts of compute)"
        )


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else f"{value:g}"


# ---------------------------------------------------------------- the choices


def choose_fixed(options: Sequence[Option], budget: int) -> Option:
    """The most accurate option at exactly ``budget`` (ties: cheaper, then table order)."""
    at_budget = [o for o in options if o.budget == budget]
    if not at_budget:
        known = sorted({o.budget for o in options})
        raise PolicyError(
            f"--budget {budget}: the calibration measured budgets {known}; pick one of them "
            "(or use total:B / price:LAMBDA for other amounts of compute)"
        )
    return max(at_budget, key=lambda o: (o.expected_accuracy, -o.expected_cost))


def choose_by_price(options: Sequence[Option], price: float) -> Option:
    """Climb the frontier while each step gains >= ``price`` accuracy per unit cost."""
    hull = frontier(options)
    chosen = 0
    for index, slope in enumerate(step_slopes(hull)):
        if slope < price:
            break
        chosen = index + 1
    return hull[chosen]


@dataclass(frozen=True)
class Allocation:
    """What ``allocate_total`` gave each problem, and the compute left unspent."""

    choices: list[Option]
    spent: float
    left: float


def allocate_total(option_sets: Sequence[Sequence[Option]], extra_budget: float) -> Allocation:
    """Share ``extra_budget`` (the total minus the probes) by greedy marginal gain.

    Every problem starts at its cheapest frontier point (normally free: a sampling
    strategy on the probe alone). Then the best step up over all problems, by gain per
    unit cost, is taken while it fits; a problem whose next step no longer fits stops
    climbing (its later steps cost even more in total), the others go on. Ties go to the
    earlier problem, so the allocation is deterministic.
    """
    hulls = [frontier(options) for options in option_sets]
    position = [0] * len(hulls)
    spent = sum(hull[0].expected_cost for hull in hulls)
    left = extra_budget - spent
    heap: list[tuple[float, int]] = []
    for index, hull in enumerate(hulls):
        if len(hull) > 1:
            heap.append((-step_slopes(hull[:2])[0], index))
    heapq.heapify(heap)
    while heap:
        _, index = heapq.heappop(heap)
        hull = hulls[index]
        here, up = hull[position[index]], hull[position[index] + 1]
        step = up.expected_cost - here.expected_cost
        if step > left + 1e-9 * max(1.0, abs(extra_budget)):
            continue
        left -= step
        spent += step
        position[index] += 1
        if position[index] + 1 < len(hull):
            nxt = step_slopes(hull[position[index] : position[index] + 2])[0]
            heapq.heappush(heap, (-nxt, index))
    choices = [hull[p] for hull, p in zip(hulls, position, strict=True)]
    return Allocation(choices=choices, spent=spent, left=left)
