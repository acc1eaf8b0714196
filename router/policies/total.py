"""``total:B`` (e.g. ``--budget total:800``): B units of compute for the whole batch,
everything included, never exceeded.

Each round the price is searched (bisection) so that what the live problems expect to
spend from here on fits what is left of B (never below the price at which the
calibration's held-out accuracy peaks: past it more compute buys nothing, so a generous
B is not spent for its own sake); problems the model expects to be easy stop,
hopeless ones give up, and what they free goes to the ones that can still be won. Then
the round's actual costs are capped: actions are admitted cheapest first while they
fit, keeping one sample's worth for every problem that has nothing yet, and a problem
whose action does not fit is re-decided with what remains (often: stop and answer).

A search that may ask for a second opinion (``strategy+check``) is priced and admitted
at what it spends on average in calibration, not at its most (three runs): counted at
its most, B was spent on reservations that second opinions rarely use, so the policy
chose cheaper actions and left part of B unspent (on the simulator, 14.8 of 16
generations per problem, 2-3 points below the price policy at the same spend). Its
further runs are then admitted one by one, the least sure first, while what the round
set aside for them pays (``second_opinion_room``), and beyond that only for searches
whose second opinions pay well over the round's price (``BORROW_MARGIN``): the rest of
B is what the problems still sampling expect to spend later. A run that does not fit
ends the search on the runs it has. B is never exceeded.
"""

from __future__ import annotations

from collections.abc import Sequence

from router.policies.base import (
    POLICIES,
    BudgetPolicy,
    LiveProblem,
    PolicyError,
    RoundView,
    SecondOpinionRoom,
    format_number,
    parse_number,
)
from router.policies.envelope import RuleWithinBudget, better_rule, stopping_rule
from router.policies.pricing import (
    admit_cheapest_first,
    decide_at_price,
    expected_spend,
    generation_amount,
)
from runtime.actions import Decision
from runtime.decision_model import SequentialModel

BISECTION_STEPS = 40
# A second opinion may borrow from later rounds only where its further runs buy at least
# this many times the round's price per generation: what it borrows raises the price the
# problems still sampling pay later, by more than the round's price says when the budget
# is tight. Simulator 7 -> 8, 12 draws: borrowing freely lost 1-2.5 points at 3-4
# generations per problem and gained 1 at 11; never borrowing, the reverse.
BORROW_MARGIN = 2.0
# The lowest price a generous B is routed at: a bonus of one whole point of accuracy per
# generation, which outweighs any advantage the decision model predicts against sampling
# on, so a batch whose B pays for every problem's whole ladder spends B (the price
# search still hands it out in the decision model's order, least settled votes first).
# Router v3: at -0.05 the router stopped, on a held-out half harder than its calibration
# half, problems it was sure of, and total:B at the fixed strategy's budget fell 4
# points short of it.
SPEND_DOWN_PRICE = -1.0


@POLICIES.register("total", summary="B units for the whole batch, never exceeded")
class TotalPolicy(BudgetPolicy):
    name = "total"
    forms = "total:B (e.g. total:800)"

    def __init__(self, value: float) -> None:
        self.value = float(value)
        self._prices: dict[int, float] = {}

    @classmethod
    def parse(cls, argument: str) -> TotalPolicy:
        return cls(parse_number(f"total:{argument}", argument, "total"))

    def __str__(self) -> str:
        return f"total:{format_number(self.value)}"

    @property
    def shared_budget(self) -> float:
        return self.value

    def check_batch(
        self, num_problems: int, one_sample: float, unit: str, available: float | None = None
    ) -> None:
        """Refuse a budget (``available`` of it left, by default all) below one generation
        per problem: every problem must be answered."""
        need = num_problems * one_sample
        if (self.value if available is None else available) + 1e-9 < need:
            raise PolicyError(
                f"--budget {self}: every problem needs at least one generation; "
                f"{num_problems} problems need at least {format_number(need)} {unit}"
            )

    def for_batch(
        self,
        model: SequentialModel,
        num_problems: int,
        budget_left: float | None,
        cost_unit: str,
    ) -> BudgetPolicy:
        """A published stopping rule instead, when it beat the decision model within this
        budget per problem on the calibration problems (``router.policies.envelope``)."""
        if cost_unit != "generations" or num_problems <= 0:
            return self
        available = self.value if budget_left is None else budget_left
        name = better_rule(model, available / num_problems)
        if name is None:
            return self
        return RuleWithinBudget(self, stopping_rule(name))

    def decide(self, view: RoundView) -> list[Decision]:
        left = self.value - view.spent
        price = self.search_price(view, left)
        self._prices = {id(view): price}  # for second_opinion_room on the same round
        decisions = decide_at_price(view, price)
        return self.cap(view, decisions, price, left)

    def second_opinion_room(
        self, view: RoundView, decisions: Sequence[Decision]
    ) -> SecondOpinionRoom:
        """What the round set aside for second opinions (each checked search's expected
        cost beyond its first run) plus whatever the plan leaves of B unclaimed; beyond
        that, up to the rest of B, only for the searches whose further runs buy at least
        ``BORROW_MARGIN`` times the round's price (``borrowing_keys``)."""
        pairs = list(zip(decisions, view.problems, strict=True))
        first = [view.first_run_cost(d, p) for d, p in pairs]
        set_aside = sum(
            reserved(view, d, p) - cost
            for (d, p), cost in zip(pairs, first, strict=True)
            if d.kind == "tree"
        )
        left = self.value - view.spent
        unclaimed = max(left - expected_spend(view, decisions), 0.0)
        most = left - sum(first)  # B is never passed
        price = self._prices.get(id(view), view.model.prices[-1])
        return SecondOpinionRoom(set_aside + unclaimed, most, borrowing_keys(view, price))

    def search_price(self, view: RoundView, left: float) -> float:
        """The lowest price per generation whose expected spend fits ``left`` (in the
        router's unit). Down to the calibration's most accurate price B is a cap, not a
        target; when even that price leaves part of B unclaimed, the price goes below zero
        (down to ``SPEND_DOWN_PRICE``): what is left goes to the problems whose votes are
        least settled, so a batch given the fixed strategy's budget is never answered on
        less than it could have drawn."""
        model: SequentialModel = view.model
        low, high = model.best_price(), model.prices[-1]
        if expected_spend(view, decide_at_price(view, low)) <= left:
            floor = SPEND_DOWN_PRICE
            if expected_spend(view, decide_at_price(view, floor)) <= left:
                return floor
            low, high = floor, low
        elif expected_spend(view, decide_at_price(view, high)) > left:
            return high
        for _ in range(BISECTION_STEPS):
            middle = (low + high) / 2
            if expected_spend(view, decide_at_price(view, middle)) <= left:
                high = middle
            else:
                low = middle
        return high

    def cap(
        self, view: RoundView, decisions: Sequence[Decision], price: float, left: float
    ) -> list[Decision]:
        """Admit the round's actions cheapest first while they fit (see the module doc);
        one that does not fit is re-decided within what is left, or stops."""

        def shrink(index: int, room: float) -> tuple[Decision, float]:
            live = view.problems[index]
            cap = generation_amount(view, max(room, 0.0))
            smaller = view.model.decide(live.rung_index, live.features, price, cap)
            cost = reserved(view, smaller, live)
            if cost > room + 1e-9:
                return Decision("stop", 0.0, 0.0), 0.0  # nothing fits: answer as is
            return smaller, cost

        costs = [reserved(view, d, p) for d, p in zip(decisions, view.problems, strict=True)]
        return admit_cheapest_first(view, decisions, costs, left, shrink)


def reserved(view: RoundView, decision: Decision, live: LiveProblem) -> float:
    """What admitting ``decision`` sets aside from B: a search at its expected cost (a
    checked one's further runs are paid from what is left, or skipped), anything else
    at what it spends this round."""
    if decision.kind == "tree":
        return view.expected_cost(decision, live)
    return view.first_run_cost(decision, live)


def borrowing_keys(view: RoundView, price: float) -> frozenset[str]:
    """The checked searches whose further runs gained at least ``BORROW_MARGIN`` times
    ``price`` (per generation: the model's unit, whatever the router's) in calibration."""
    return frozenset(
        key
        for key in view.model.second_opinions
        if (gain := view.model.second_opinion_gain(key)) is not None
        and gain >= BORROW_MARGIN * price
    )
