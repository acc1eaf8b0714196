"""The fitted decision model: in each state, what stopping, sampling on and each tree
search are worth, and what they will cost.

Per rung (samples drawn so far) it holds
- ``stop``: P(the answer rule, applied to the samples drawn, is right); the rule per rung
  is the one the calibration found best (``answer_rules``: majority on unscored pools);
- ``trees``: P(tree search t at budget B is right), one per calibrated (t, B);
- ``continuation[i]``: at price ``prices[i]``, the expected advantage of drawing up to
  the next rung and deciding again there over the best action available now (accuracy
  minus price x compute, fitted by least-squares Monte Carlo on calibration
  trajectories, on the realised difference of the two), and its expected compute.

A decision maximises value minus price x cost over the actions allowed; prices between
grid points interpolate the continuation linearly. From the model's ``search_ceiling`` up
the price grid the router does not search at all (``searches_at``; between the last grid
price below the ceiling and the ceiling, the continuation is interpolated between a
chain fitted with searches and one fitted without). Costs are in generations (one full
solution each; a tree search at budget B costs B, and one that may ask for a second
opinion, ``strategy+check@B``, what it spent on average in calibration, at most 3B).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from runtime.actions import ActionKey, ActionKind, Decision
from runtime.answer_rule import MAJORITY_RULE, AnswerRule
from runtime.linear import LinearModel

# 2: calibrated answer rules and the stopping rules' state features (format 1 models
# were fitted on a verifier-weighted vote and fewer features: refit them)
MODEL_FORMAT = 2
# Accuracies are stored rounded to six decimals: a stopping rule that gave every problem
# the same answer as sampling to a cap must read as level with it (``rule_under_cap``).
RULE_ACCURACY_TOLERANCE = 1e-6
# P(right) of stopping (None at rung 0) and of each tree search, per row of features
Predictions = tuple[np.ndarray | None, dict[str, np.ndarray]]


def searches_at(price: float, ceiling: float | None, prices: tuple[float, ...]) -> bool:
    """Whether tree searches are among the actions at ``price``, for a model whose
    searches stop at price ``ceiling`` (None: they never stop). A ceiling at the lowest
    fitted price means no searches at any price, below the grid included (a generous
    ``total:B`` prices below zero): that model was fitted without them."""
    if ceiling is None:
        return True
    if prices and ceiling <= prices[0]:
        return False
    return price < ceiling


@dataclass(frozen=True)
class Continuation:
    value: LinearModel
    cost: LinearModel

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value.to_json(), "cost": self.cost.to_json()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Continuation:
        return cls(LinearModel.from_json(data["value"]), LinearModel.from_json(data["cost"]))


@dataclass(frozen=True)
class PricePoint:
    """The calibration problems routed at one price (held-out two-fold figures)."""

    price: float
    accuracy: float
    mean_cost: float


@dataclass(frozen=True)
class RulePoint:
    """A published stopping rule (``beta:N``, ...) replayed on the calibration problems:
    its accuracy and generations per problem (``calibration.sequential.baselines``)."""

    accuracy: float
    mean_cost: float


@dataclass(frozen=True)
class CappedContinuations:
    """What sampling on is worth to a problem that may spend at most ``cap`` generations
    in all (``--budget N``), at one price (``price``: the auto price, the one a cap is
    routed at); ``by_cap[cap][r]`` for every rung ``r`` from which the cap still lets it
    sample on.

    Why apart from ``RungModel.continuation``: that one counts on whatever the router
    may do after the next rung, a search bigger than the cap included. Under a cap that
    promise cannot be kept, so a capped router valued by it samples on round after round
    for a search it will never be allowed, and ends on a vote of the samples where a
    search it could afford would have been far better.
    """

    price: float
    by_cap: dict[int, tuple[Continuation, ...]]
    # per cap: accuracy and generations per problem at ``price``, two-fold held out on
    # the calibration problems (what ``ttc calibrate`` reports for ``--budget N``)
    heldout: dict[int, PricePoint] = field(default_factory=dict)
    # per cap: how far below zero sampling on's predicted advantage must fall before a
    # capped problem stops early (0: at any loss; -inf: never, sample to the cap). Chosen
    # held out so that the capped router is never less accurate than spending the whole
    # cap (``fit.fit_cap_thresholds``).
    thresholds: dict[int, float] = field(default_factory=dict)

    def threshold_for(self, budget: float) -> float:
        """The threshold of the largest cap not above ``budget`` (0 where none)."""
        fitting = [cap for cap in self.thresholds if cap <= budget + 1e-9]
        return self.thresholds[max(fitting)] if fitting else 0.0

    def for_budget(self, budget: float, rung_index: int) -> Continuation | None:
        """The continuation fitted for the largest cap not above ``budget`` (a smaller
        cap values sampling on a little low, never a search that cannot be afforded)."""
        fitting = [cap for cap in self.by_cap if cap <= budget + 1e-9]
        if not fitting:
            return None
        chain = self.by_cap[max(fitting)]
        return chain[rung_index] if rung_index < len(chain) else None

    def to_json(self) -> dict[str, Any]:
        return {
            "price": self.price,
            "caps": {
                str(c): [x.to_json() for x in chain] for c, chain in sorted(self.by_cap.items())
            },
            "heldout": {str(c): vars(p) for c, p in sorted(self.heldout.items())},
            # JSON has no infinity: "never stop early" is written as null
            "thresholds": {
                str(c): (None if math.isinf(t) else t) for c, t in sorted(self.thresholds.items())
            },
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CappedContinuations:
        return cls(
            price=float(data["price"]),
            by_cap={
                int(cap): tuple(Continuation.from_json(x) for x in chain)
                for cap, chain in data["caps"].items()
            },
            heldout={
                int(cap): PricePoint(float(p["price"]), float(p["accuracy"]), float(p["mean_cost"]))
                for cap, p in data.get("heldout", {}).items()
            },
            thresholds={
                int(cap): -math.inf if t is None else float(t)
                for cap, t in data.get("thresholds", {}).items()
            },
        )


@dataclass(frozen=True)
class RungModel:
    rung: int
    stop: LinearModel | None
    trees: dict[str, LinearModel]  # key "strategy@budget"
    continuation: tuple[Continuation, ...] = ()  # one per price; empty at the top rung

    def predictions(self, rows: np.ndarray) -> Predictions:
        """Stopping's and each tree search's predicted accuracy for each row of features."""
        rows = np.atleast_2d(np.asarray(rows, dtype=np.float64))
        stop = None if self.stop is None else self.stop.predict(rows)
        return stop, {key: self.trees[key].predict(rows) for key in sorted(self.trees)}

    def action_values(self, features: np.ndarray) -> tuple[float | None, dict[str, float]]:
        """``predictions`` for one state."""
        stop, trees = self.predictions(features)
        return (None if stop is None else float(stop[0])), {
            key: float(values[0]) for key, values in trees.items()
        }

    def augmented(self, rows: np.ndarray, predictions: Predictions | None = None) -> np.ndarray:
        """The continuation's inputs for each row of features: the features, the action
        values (they carry most of what a state says about how the problem will go), and
        the features times the value of stopping, so that what more samples are worth can
        depend on how sure the vote already is. ``predictions`` saves computing the
        action values again when the caller has them."""
        rows = np.atleast_2d(np.asarray(rows, dtype=np.float64))
        stop, trees = self.predictions(rows) if predictions is None else predictions
        parts = [rows]
        if stop is not None:
            parts += [stop[:, None], rows * stop[:, None]]
        parts.extend(trees[key][:, None] for key in sorted(trees))
        return np.hstack(parts)

    def to_json(self) -> dict[str, Any]:
        return {
            "rung": self.rung,
            "stop": None if self.stop is None else self.stop.to_json(),
            "trees": {k: m.to_json() for k, m in sorted(self.trees.items())},
            "continuation": [c.to_json() for c in self.continuation],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RungModel:
        return cls(
            rung=int(data["rung"]),
            stop=None if data["stop"] is None else LinearModel.from_json(data["stop"]),
            trees={str(k): LinearModel.from_json(v) for k, v in data["trees"].items()},
            continuation=tuple(Continuation.from_json(c) for c in data["continuation"]),
        )


@dataclass(frozen=True)
class SequentialModel:
    reduction: str
    rungs: tuple[int, ...]
    prices: tuple[float, ...]
    rung_models: tuple[RungModel, ...]
    price_curve: tuple[PricePoint, ...] = ()
    sample_flops: float = 0.0
    tree_flops: dict[str, float] = field(default_factory=dict)
    signals: dict[str, Any] = field(default_factory=dict)
    # expected generations of tree actions that may run more than once (second
    # opinions); every other tree action costs its budget
    action_costs: dict[str, float] = field(default_factory=dict)
    # per checked search on the calibration problems: its accuracy, generations, and the
    # plain search's accuracy (reported by ttc calibrate; decisions do not read it)
    second_opinions: dict[str, dict[str, float]] = field(default_factory=dict)
    # sampling on's worth under a per-problem cap (None in models fitted before them)
    capped: CappedContinuations | None = None
    # rung -> how a problem stopped there is answered (calibrated; majority if absent)
    answer_rules: dict[int, AnswerRule] = field(default_factory=dict)
    # the published stopping rules on the calibration problems, by their --budget form,
    # and rung -> how often sampling to it and answering by its rule was right there
    # (both empty in models fitted before them)
    baselines: dict[str, RulePoint] = field(default_factory=dict)
    rung_accuracy: dict[int, float] = field(default_factory=dict)
    # predicted accuracy by which a search must lead the other actions to be chosen,
    # chosen held out at calibration (``fit.choose_switch_margin``; 0 in models fitted
    # before it): the best of many noisy predictions is biased up
    switch_margin: float = 0.0
    # the lowest fitted price from which the router never searches, chosen held out at
    # calibration (calibration/sequential/search_ceiling.py; None: it searches at every
    # price, as models fitted before it did). Searches whose values are fitted on a few
    # dozen problems can lose held out at moderate prices and still pay where compute is
    # cheap.
    search_ceiling: float | None = None

    @property
    def scored(self) -> bool:
        """Whether the calibration's samples carried verifier scores worth weighting."""
        return any(rule.uses_scores for rule in self.answer_rules.values())

    def searches_at(self, price: float) -> bool:
        """Whether tree searches are among the actions at ``price`` (``search_ceiling``)."""
        return searches_at(price, self.search_ceiling, self.prices)

    @property
    def searches_nowhere(self) -> bool:
        """Whether the ceiling stops searches at every price (it sits at the lowest)."""
        return not searches_at(-math.inf, self.search_ceiling, self.prices)

    def answer_rule(self, samples: int) -> AnswerRule:
        """The rule for a problem stopped with ``samples`` drawn: that of its rung (the
        highest calibrated rung not above it)."""
        rung = self.rungs[self.rung_index(samples)]
        return self.answer_rules.get(rung) or MAJORITY_RULE

    # ------------------------------------------------------------ decisions

    def decide(
        self,
        rung_index: int,
        features: np.ndarray,
        price: float,
        cap: float = float("inf"),
        budget: float | None = None,
    ) -> Decision:
        """The best action at ``price`` among those whose cost fits ``cap`` (what is left).

        Stopping is always allowed once a sample exists; with nothing drawn and no action
        that fits, the first step (one rung of samples) is returned anyway: a problem
        cannot be answered for free. ``budget``: the problem's whole cap in generations
        when it has one (``--budget N``), so that sampling on is valued by what the cap
        will let it do next (``capped``).
        """
        rows = np.atleast_2d(features)
        return self.decide_rows(rung_index, rows, price, np.array([cap]), budget)[0]

    def decide_rows(
        self,
        rung_index: int,
        rows: np.ndarray,
        price: float,
        caps: np.ndarray | None = None,
        budget: float | None = None,
    ) -> list[Decision]:
        """``decide`` for many states on one rung at once (one matrix product per model)."""
        count = len(rows)
        caps = np.full(count, np.inf) if caps is None else np.asarray(caps, dtype=np.float64)
        model = self.rung_models[rung_index]
        labels: list[tuple[ActionKind, str | None, int | None]] = []
        accuracy: list[np.ndarray] = []
        cost: list[np.ndarray] = []
        allowed: list[np.ndarray] = []
        predictions = model.predictions(rows)
        stop, trees = predictions
        searching = self.searches_at(price)
        docks: list[np.ndarray] = []  # what each action's net value is docked
        if stop is not None:
            labels.append(("stop", None, None))
            accuracy.append(stop)
            cost.append(np.zeros(count))
            allowed.append(np.ones(count, dtype=bool))
            docks.append(np.zeros(count))
        for key, values in trees.items():
            action = ActionKey.parse(key)
            labels.append(("tree", action.strategy, action.budget))
            accuracy.append(values)
            cost.append(np.full(count, self.action_costs.get(key, float(action.budget))))
            allowed.append((action.most_generations <= caps + 1e-9) & searching)
            docks.append(np.full(count, self.switch_margin))
        step = self.next_step(rung_index)
        if step is not None:
            # sampling on is valued against the best action it forgoes here (its
            # continuation was fitted on exactly that difference: ``fit.Ladder``)
            forgone_cost = np.zeros(count)
            forgone_dock = np.zeros(count)
            if allowed:
                docked = np.vstack(accuracy) - price * np.vstack(cost) - np.vstack(docks)
                nets = np.where(np.vstack(allowed), docked, -np.inf)
                fixed = nets.max(axis=0)
                chosen = (nets.argmax(axis=0), np.arange(count))
                baseline = np.where(np.isfinite(fixed), fixed, 0.0)
                forgone_cost = np.where(np.isfinite(fixed), np.vstack(cost)[chosen], 0.0)
                forgone_dock = np.where(np.isfinite(fixed), np.vstack(docks)[chosen], 0.0)
            else:
                baseline = np.zeros(count)
            advantage, expected = self.continuation_rows(
                rung_index, rows, price, predictions, budget, forgone_cost
            )
            labels.append(("sample", None, self.rungs[rung_index + 1]))
            # decided on the docked baseline, shown without the dock: the margin is a
            # handicap on searches, not an accuracy anyone should expect
            accuracy.append(baseline + forgone_dock + advantage + price * expected)
            cost.append(expected)
            fits = step <= caps + 1e-9
            nothing_else = ~np.any(np.vstack(allowed), axis=0) if allowed else np.ones(count, bool)
            allowed.append(fits | nothing_else)
            docks.append(forgone_dock)
        if not labels:
            raise ValueError("no action fits: the first rung needs at least one generation")
        acc = np.vstack(accuracy)
        spend = np.vstack(cost)
        net = np.where(np.vstack(allowed), acc - price * spend - np.vstack(docks), -np.inf)
        if step is not None and stop is not None and budget is not None and self.capped:
            # a capped problem stops early only where sampling on looks worse than its
            # cap's threshold (held out: never below spending the whole cap); "never"
            # (-inf) is a handicap no stop can overcome. Searches are not touched: they
            # compete with sampling on as before.
            net[0] -= min(-self.capped.threshold_for(budget), 10.0)
        # ties: the cheaper action (subtract a hair per unit of cost)
        best = np.argmax(net - 1e-12 * spend, axis=0)
        out = []
        for row, choice in enumerate(best):
            kind, strategy, size = labels[choice]
            out.append(
                Decision(kind, float(acc[choice, row]), float(spend[choice, row]), strategy, size)
            )
        return out

    def next_step(self, rung_index: int) -> int | None:
        """Generations to reach the next rung (None at the top)."""
        if rung_index + 1 >= len(self.rungs):
            return None
        return self.rungs[rung_index + 1] - self.rungs[rung_index]

    def continuation(
        self, rung_index: int, features: np.ndarray, price: float
    ) -> tuple[float, float]:
        """(net advantage over the best action available now, expected cost) of sampling
        on and deciding again, at ``price`` (prices past the grid use its last point)."""
        advantage, cost = self.continuation_rows(rung_index, np.atleast_2d(features), price)
        return float(advantage[0]), float(cost[0])

    def continuation_rows(
        self,
        rung_index: int,
        rows: np.ndarray,
        price: float,
        predictions: Predictions | None = None,
        budget: float | None = None,
        forgone_cost: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per row: what sampling on is worth at ``price`` over the best of stopping and
        the tree searches allowed now (accuracy minus price x generations; positive: sample
        on), and the further generations it expects to spend. ``forgone_cost``: what that
        best action costs, so that a price off the fitted grid (a generous ``total:B``
        goes below zero) moves both sides of the difference."""
        model = self.rung_models[rung_index]
        if not model.continuation:
            raise ValueError(f"rung {self.rungs[rung_index]} is the top rung: nothing to continue")
        inputs = model.augmented(rows, predictions)
        step = float(self.next_step(rung_index) or 0)
        capped = self.capped_continuation(rung_index, price, budget)
        if capped is not None:
            cost = np.maximum(capped.cost.predict(inputs), step)
            return capped.value.predict(inputs), cost
        low, high, share = self._bracket(price)
        value = (1 - share) * model.continuation[low].value.predict(inputs)
        cost = (1 - share) * model.continuation[low].cost.predict(inputs)
        if share > 0:
            value = value + share * model.continuation[high].value.predict(inputs)
            cost = cost + share * model.continuation[high].cost.predict(inputs)
        fitted_price = (1 - share) * self.prices[low] + share * self.prices[high]
        cost = np.maximum(cost, step)
        # off the grid: the same plans, priced at the price asked
        spent_more = cost if forgone_cost is None else cost - forgone_cost
        return value - (price - fitted_price) * spent_more, cost

    def capped_continuation(
        self, rung_index: int, price: float, budget: float | None
    ) -> Continuation | None:
        """The continuation fitted for a cap of ``budget`` generations, when there is one
        at this price; None where the plain one applies (no cap, another price, a cap too
        large to bind, or a model fitted before capped continuations existed)."""
        if budget is None or self.capped is None:
            return None
        if abs(price - self.capped.price) > 1e-12 * max(1.0, abs(price)):
            return None
        if budget >= self.most_spent():
            return None
        return self.capped.for_budget(budget, rung_index)

    def second_opinion_gain(self, key: str) -> float | None:
        """Accuracy a checked search's further runs gained per generation they cost, on
        the calibration problems (None where unknown or it never ran again)."""
        report = self.second_opinions.get(key)
        if not report:
            return None
        extra = report["generations"] - ActionKey.parse(key).budget
        if extra <= 1e-9:
            return None
        return (report["accuracy"] - report["plain_accuracy"]) / extra

    def most_spent(self) -> float:
        """The most one problem can spend with no cap: all the samples, then the dearest
        search at its most (a second opinion's three runs)."""
        dearest = max(
            (ActionKey.parse(k).most_generations for k in self.rung_models[-1].trees), default=0
        )
        return float(self.rungs[-1] + dearest)

    def _bracket(self, price: float) -> tuple[int, int, float]:
        grid = self.prices
        if price <= grid[0]:
            return 0, 0, 0.0
        if price >= grid[-1]:
            return len(grid) - 1, len(grid) - 1, 0.0
        high = bisect.bisect_left(grid, price)
        low = high - 1
        return low, high, (price - grid[low]) / (grid[high] - grid[low])

    def rung_index(self, samples: int) -> int:
        """The rung a problem with ``samples`` drawn sits on (the highest not above it)."""
        return max(0, bisect.bisect_right(self.rungs, samples) - 1)

    def auto_price(self, tolerance: float = 0.01) -> float:
        """The highest price whose held-out calibration accuracy is within ``tolerance`` of
        the best: where extra compute stops paying."""
        if not self.price_curve:
            return 0.0
        best = max(p.accuracy for p in self.price_curve)
        return max(p.price for p in self.price_curve if p.accuracy >= best - tolerance)

    def rule_under_cap(self, cap: int) -> str | None:
        """The stopping rule at N = ``cap`` (its ``--budget`` form) that, on the calibration
        problems, was at least as accurate as the capped decision model held out
        (``capped.heldout``) and as sampling to the cap, for fewer generations per
        problem; the cheapest such, or None (also for a cap the calibration did not hold out).

        Why: on small unscored calibrations the capped model's early stops are too noisy to
        lose nothing held out, so its thresholds fall back to "sample to the cap" (the 8B and
        3B pools: 16.00 generations at N=16), while Adaptive-Consistency stops the settled
        votes and matched that accuracy at about 11."""
        held = None if self.capped is None else self.capped.heldout.get(cap)
        if held is None:
            return None
        floor = max(held.accuracy, self.rung_accuracy.get(cap, 0.0))
        suffix = f":{cap}"
        fits = {
            name: point
            for name, point in self.baselines.items()
            if name.endswith(suffix)
            and point.accuracy + RULE_ACCURACY_TOLERANCE >= floor
            and point.mean_cost < held.mean_cost - 1e-9
        }
        if not fits:
            return None
        return min(fits, key=lambda n: (fits[n].mean_cost, -fits[n].accuracy, n))

    def sampling_accuracy_within(self, cost: float) -> float | None:
        """How often sampling to the highest rung within ``cost`` and answering by its rule
        was right on the calibration problems (None without such a rung or figure)."""
        rungs = [r for r in self.rung_accuracy if r <= cost + 1e-9]
        return self.rung_accuracy[max(rungs)] if rungs else None

    def heldout_accuracy_within(self, cost: float) -> float | None:
        """The best held-out calibration accuracy of the decision model's price curve at
        no more than ``cost`` generations per problem (None when no price spends so little)."""
        fits = [p.accuracy for p in self.price_curve if p.mean_cost <= cost + 1e-9]
        return max(fits) if fits else None

    def cap_price(self) -> float:
        """The price a per-problem cap routes at: the one its capped continuations were
        fitted for (0 since Router v3: spend up to the cap wherever it still pays)."""
        return 0.0 if self.capped is None else self.capped.price

    def best_price(self) -> float:
        """The price whose held-out calibration accuracy is highest (the lowest such):
        below it the fitted values only chase noise, so spending more buys nothing."""
        if not self.price_curve:
            return 0.0
        best = max(p.accuracy for p in self.price_curve)
        return min(p.price for p in self.price_curve if p.accuracy >= best - 1e-12)

    # ------------------------------------------------------------ storage

    def to_json(self) -> dict[str, Any]:
        return {
            "format": MODEL_FORMAT,
            "kind": "ttc-router sequential model",
            "reduction": self.reduction,
            "rungs": list(self.rungs),
            "prices": list(self.prices),
            "rung_models": [m.to_json() for m in self.rung_models],
            "price_curve": [vars(p) for p in self.price_curve],
            "sample_flops": self.sample_flops,
            "tree_flops": dict(sorted(self.tree_flops.items())),
            "signals": self.signals,
            "action_costs": dict(sorted(self.action_costs.items())),
            "second_opinions": dict(sorted(self.second_opinions.items())),
            "capped": None if self.capped is None else self.capped.to_json(),
            "answer_rules": {
                str(r): rule.to_json() for r, rule in sorted(self.answer_rules.items())
            },
            "baselines": {name: vars(point) for name, point in sorted(self.baselines.items())},
            "rung_accuracy": {str(r): a for r, a in sorted(self.rung_accuracy.items())},
            "switch_margin": self.switch_margin,
            "search_ceiling": self.search_ceiling,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SequentialModel:
        if data.get("format") != MODEL_FORMAT:
            raise ValueError(
                f"sequential model format {data.get('format')!r}; this version reads "
                f"{MODEL_FORMAT} (rerun `ttc calibrate --merge --out` on the artifact folder: it "
                "refits the model from the recorded shards, without sampling)"
            )
        model = cls(
            reduction=str(data["reduction"]),
            rungs=tuple(int(r) for r in data["rungs"]),
            prices=tuple(float(p) for p in data["prices"]),
            rung_models=tuple(RungModel.from_json(m) for m in data["rung_models"]),
            price_curve=tuple(
                PricePoint(float(p["price"]), float(p["accuracy"]), float(p["mean_cost"]))
                for p in data.get("price_curve", [])
            ),
            sample_flops=float(data.get("sample_flops", 0.0)),
            tree_flops={str(k): float(v) for k, v in data.get("tree_flops", {}).items()},
            signals=dict(data.get("signals", {})),
            action_costs={str(k): float(v) for k, v in data.get("action_costs", {}).items()},
            second_opinions={
                str(k): {str(n): float(x) for n, x in v.items()}
                for k, v in data.get("second_opinions", {}).items()
            },
            capped=None
            if data.get("capped") is None
            else CappedContinuations.from_json(data["capped"]),
            answer_rules={
                int(r): AnswerRule.from_json(rule)
                for r, rule in data.get("answer_rules", {}).items()
            },
            baselines={
                str(name): RulePoint(float(p["accuracy"]), float(p["mean_cost"]))
                for name, p in data.get("baselines", {}).items()
            },
            rung_accuracy={int(r): float(a) for r, a in data.get("rung_accuracy", {}).items()},
            switch_margin=float(data.get("switch_margin", 0.0)),
            search_ceiling=None
            if data.get("search_ceiling") is None
            else float(data["search_ceiling"]),
        )
        if len(model.rung_models) != len(model.rungs) or list(model.prices) != sorted(model.prices):
            raise ValueError("sequential model: rungs and rung models differ, or prices unsorted")
        for index, rung in enumerate(model.rung_models[:-1]):
            if len(rung.continuation) != len(model.prices):
                raise ValueError(f"sequential model: rung {index} lacks a continuation per price")
        return model
