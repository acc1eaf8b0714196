"""The last lines of `ttc solve`: what the router decided, and what that saves against
the best fixed strategy at the same accuracy, from the calibration's own figures.

Why from the calibration and not from the run: a run of a few problems (the demo's 8)
says little about accuracy, while the artifact holds the router's held-out price curve
(``sequential_model.json``: the decision model fitted on one half of the calibration's
problems and replayed on the other, both ways) and every fixed strategy's accuracy and
mean generations on the same problems (``table.json``'s overall table, and each tree
search "with a second opinion" in the sequential model's report). So the claim printed
is the calibration's: at the price this run routed at, the router scored A % at C
generations per problem on problems it was not fitted on; the cheapest fixed strategy
that scores at least A % needs D. The run's own choices and cost are in the summary
above these lines.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise

from calibration.store.artifact import Artifact
from router.policies import BudgetPolicy, FixedPolicy
from runtime.decision_model import SequentialModel


@dataclass(frozen=True)
class Fixed:
    """One fixed strategy at one budget: its accuracy and mean generations per problem."""

    label: str
    accuracy: float
    generations: float


def short_label(strategy: str, budget: int | None = None) -> str:
    """``rebase:depth=6,...+check@8`` reads ``rebase+check@8``: the settings are the
    calibration's, the same for every search."""
    name, _, rest = strategy.partition("+")
    name = name.split(":", 1)[0]
    label = f"{name}+{rest}" if rest else name
    return label if budget is None or "@" in label else f"{label}@{budget}"


def fixed_strategies(artifact: Artifact) -> list[Fixed]:
    """Every fixed strategy the calibration measured on all its problems."""
    found = [
        Fixed(short_label(name, budget), figures.accuracy, figures.cost.generations)
        for budget, by_strategy in artifact.table.overall.items()
        for name, figures in by_strategy.items()
    ]
    model = artifact.sequential
    if model is not None:
        found += [
            Fixed(short_label(key), report["accuracy"], report["generations"])
            for key, report in model.second_opinions.items()
        ]
    return found


def cheapest_reaching(candidates: Iterable[Fixed], accuracy: float) -> Fixed | None:
    """The fixed strategy with the fewest generations among those at least as accurate."""
    reaching = [f for f in candidates if f.accuracy >= accuracy - 1e-9]
    return min(reaching, key=lambda f: (f.generations, -f.accuracy), default=None)


def curve_point(model: SequentialModel, price: float) -> tuple[float, float] | None:
    """The held-out (accuracy, mean generations) at ``price``, between grid prices
    linearly (``auto`` always routes at a grid price)."""
    curve = sorted(model.price_curve, key=lambda p: p.price)
    if not curve:
        return None
    if price <= curve[0].price:
        return curve[0].accuracy, curve[0].mean_cost
    for low, high in pairwise(curve):
        if price <= high.price:
            share = (price - low.price) / (high.price - low.price)
            return (
                low.accuracy + share * (high.accuracy - low.accuracy),
                low.mean_cost + share * (high.mean_cost - low.mean_cost),
            )
    return curve[-1].accuracy, curve[-1].mean_cost


def heldout_point(model: SequentialModel, policy: BudgetPolicy) -> tuple[str, float, float] | None:
    """What the calibration measured, held out, for ``policy``: a cap ``N`` its capped
    figures, any other policy with a price the price curve at that price; with a phrase
    naming which."""
    if isinstance(policy, FixedPolicy) and model.capped is not None:
        rule = model.rule_under_cap(policy.budget)
        if rule is not None:  # the cap runs the rule: its replay fitted nothing
            replayed = model.baselines[rule]
            return f"capped at {policy.budget} (runs {rule})", replayed.accuracy, replayed.mean_cost
        capped = model.capped.heldout.get(policy.budget)
        if capped is not None:
            return f"capped at {policy.budget}", capped.accuracy, capped.mean_cost
    price = policy.price(model)
    point = None if price is None else curve_point(model, price)
    if price is None or point is None:
        return None
    return f"at price {price:.3g}", *point


def savings_lines(artifact: Artifact, policy: BudgetPolicy) -> list[str]:
    """The ``router`` and ``saves`` lines for a run under ``policy`` (none for a policy
    without a price, or an artifact without held-out figures)."""
    model = artifact.sequential
    found = None if model is None else heldout_point(model, policy)
    if found is None:
        return []
    how, accuracy, generations = found
    lines = [
        f"  router     {how}, held out in calibration: {100 * accuracy:.1f}% correct at "
        f"{generations:.1f} generations per problem"
    ]
    fixed = fixed_strategies(artifact)
    match = cheapest_reaching(fixed, accuracy)
    if match is not None:
        saved = 1 - generations / match.generations if match.generations else 0.0
        verdict = (
            f"saves      {100 * saved:.0f}% of the generations of"
            if saved >= 0
            else f"costs      {100 * -saved:.0f}% more generations than"
        )
        lines.append(
            f"  {verdict} the cheapest fixed strategy at least as accurate: "
            f"{match.label}, {100 * match.accuracy:.1f}% at {match.generations:.1f}"
        )
    elif fixed:
        best = max(fixed, key=lambda f: (f.accuracy, -f.generations))
        lines.append(
            f"  saves      no fixed strategy reaches that accuracy: the best, {best.label}, "
            f"scores {100 * best.accuracy:.1f}% at {best.generations:.1f} generations"
        )
    return lines
