"""Fitting the decision model on calibration trajectories.

Action values (stop, each tree search) are logistic regressions of what the action
scored on the state's features, one per rung (the searches share one, ``search_values``).
The worth of sampling on is the hard
part: it depends on what the router will do next, which depends on the price. It is
fitted backwards from the top rung (least-squares Monte Carlo, as for optimal stopping):
at each rung, the realised payoff of following the policy from the next rung on is
regressed on this rung's state, once per price on a grid.

The price curve behind ``--budget auto`` is measured held out: fitted on one half of
the problems, replayed on the other, and the other way round.

A search replaces a drawn pool only when its predicted accuracy leads by the model's
switch margin (``choose_switch_margin``): with a few dozen problems a fold and up to
two dozen searches, the best of many noisy predictions is mostly luck, and on SmolLM2
the model ran searches after 16 samples that scored 10 % where stopping scored 63 %.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from calibration.sequential.regression import (
    RidgeDesign,
    fit_logistic,
    fit_shared_logistic,
)
from calibration.sequential.trajectories import Trajectories
from runtime.actions import ActionKey
from runtime.decision_model import (
    CappedContinuations,
    Continuation,
    PricePoint,
    RungModel,
    SequentialModel,
    searches_at,
)
from runtime.linear import LinearModel

DEFAULT_PRICES: tuple[float, ...] = (
    0.0,
    0.0005,
    0.001,
    0.002,
    0.003,
    0.005,
    0.0075,
    0.01,
    0.015,
    0.02,
    0.03,
    0.05,
    0.075,
    0.1,
    0.15,
    0.2,
    0.3,
    0.5,
)


@dataclass(frozen=True)
class Replay:
    """Per trajectory row: realised accuracy and cost of the policy from rung 0."""

    accuracy: np.ndarray
    cost: np.ndarray


def repeats(data: Trajectories) -> float:
    """Rows per problem: the random orders of one pool are not independent evidence, so
    the regularisation grows with them (a problem counts once, however often replayed)."""
    problems = len(np.unique(data.problem))
    return max(1.0, len(data) / max(problems, 1))


def fit_action_models(data: Trajectories, sampled: Trajectories | None = None) -> list[RungModel]:
    """Stop and tree values per rung (no continuation yet). ``sampled``: problems with
    samples but no searches recorded (a decision pool, ``with_sampled``): their stops
    join the stop values' fit; the searches' values are fitted on ``data`` alone."""
    models = []
    strength = 1.0 / repeats(data)
    for r, rung in enumerate(data.rungs):
        rows = data.features[r]
        stop = None
        if rung:
            stop_rows, hits = rows, data.stop[r]
            if sampled is not None:
                stop_rows = np.vstack([rows, sampled.features[r]])
                hits = np.concatenate([hits, sampled.stop[r]])
            stop = fit_logistic(stop_rows, hits, strength=strength)
        trees = search_values(rows, data.trees, strength)
        models.append(RungModel(rung=rung, stop=stop, trees=trees))
    return models


def with_sampled(
    data: Trajectories, sampled: Trajectories | None, actions: Sequence[RungModel]
) -> Trajectories:
    """``data``'s rows, then the decision pool's (``sampled``), on which the continuations
    are fitted. A pool problem's searches were never run: each one's outcome there is
    its predicted P(right) from the top rung (every sample drawn, the most the
    calibration knows of the problem), at its mean cost on ``data``.

    Why: searches are dear to record and samples cheap. On SmolLM2 (100 problems with
    searches, 611 more with samples only), held out over 20 halvings
    (``scripts/heldout_sequential.py``), compute to match the best fixed strategy at
    N = 2 / 4 / 8 / 16 went from 1.57 / 1.46 / 0.97 / 1.23x to 1.63 / 1.73 / 1.15 /
    1.21x: the extra problems teach when more samples pay at small budgets, not at 16.
    Predicted from the prompt alone instead, the searches' outcomes did worse (four
    halvings, switch margins chosen without the pool: 1.35x against 1.46x at N=16)."""
    if sampled is None or not len(sampled):
        return data
    _, predicted = actions[-1].predictions(sampled.features[-1])
    costs = expected_costs(data)
    filled = replace(
        sampled,
        trees={key: predicted[key] for key in data.trees},
        tree_costs={key: np.full(len(sampled), costs[key]) for key in data.trees},
        answer_rules=data.answer_rules,
    )
    return data.joined(filled)


def search_values(
    rows: np.ndarray, targets: Mapping[str, np.ndarray], strength: float
) -> dict[str, LinearModel]:
    """Every tree search's predicted accuracy on the rung's states, from one model shared
    by all searches: a level of its own each, common coefficients
    (``fit_shared_logistic``).

    Why: fitted one by one, each of up to two dozen search values followed its own few
    dozen problems' luck, and the router took the luckiest (the winner's curse). What
    makes a problem hard for one search makes it hard for all, so the coefficients are
    fitted on every search's outcomes at once. Priced, the searches' order still moves
    with the state (a cheap search where every search is unlikely to pay, a costly one
    where it is worth its price).

    Measured held out on SmolLM2's 100 problems (``scripts/heldout_sequential.py``, 20
    halvings), compute to match the best fixed strategy at N = 2 / 4 / 8 / 16: one by one
    1.53 / 1.38 / 0.87 / 1.05x, shared 1.57 / 1.46 / 0.97 / 1.23x; shared plus a
    penalised correction per search (a tenth of the shared strength) 1.57 / 1.35 /
    0.89 / 1.11x (tried, not kept). On the simulator (seeds 7 -> 8, three draws pooled)
    N=16 went from 1.64x to 1.53x (1.52x with the corrections)."""
    if not targets:
        return {}
    return fit_shared_logistic(rows, targets, strength=strength)


@dataclass(frozen=True)
class ActionValues:
    """One rung's predicted action values for every trajectory row, computed once (they
    do not depend on the price), with what each action realised."""

    keys: tuple[str, ...]  # the tree actions, in the order of the rows below
    stop: np.ndarray | None  # predicted P(right) of stopping
    trees: np.ndarray  # (tree actions, rows) predicted P(right)
    budgets: np.ndarray  # per tree action: the generations a decision expects it to cost
    realised_stop: np.ndarray
    realised_trees: np.ndarray  # (tree actions, rows)
    realised_costs: np.ndarray  # (tree actions, rows): generations it spent

    @classmethod
    def of(
        cls, model: RungModel, data: Trajectories, r: int, costs: Mapping[str, float]
    ) -> ActionValues:
        stop, trees = model.predictions(data.features[r])
        keys = list(trees)
        empty = np.zeros((0, len(data.features[r])))
        return cls(
            keys=tuple(keys),
            stop=stop,
            trees=np.vstack([trees[k] for k in keys]) if keys else empty,
            budgets=np.array([costs[k] for k in keys]),
            realised_stop=data.stop[r],
            realised_trees=np.vstack([data.trees[k] for k in keys]) if keys else empty,
            realised_costs=np.vstack([data.cost_of(k) for k in keys]) if keys else empty,
        )

    def affordable(self, left: float) -> np.ndarray:
        """Per tree action: whether it fits ``left`` generations at its most."""
        most = [ActionKey.parse(k).most_generations for k in self.keys]
        return np.array(most, dtype=np.float64) <= left + 1e-9

    def best_fixed(
        self, price: float, allowed: np.ndarray | None = None, margin: float = 0.0
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per row: predicted net value, realised accuracy and cost of the best of stop
        and the tree searches at ``price`` (only the ``allowed`` ones, when given; with
        none allowed and nothing drawn the value is minus infinity: sample on); a search
        counts ``margin`` less than predicted, as ``SequentialModel.decide_rows`` does."""
        count = self.trees.shape[1] if self.stop is None else len(self.stop)
        if allowed is None:
            allowed = np.ones(len(self.keys), dtype=bool)
        if self.stop is None and not allowed.any():  # rung 0, no tree search to start
            return np.full(count, -np.inf), np.zeros(count), np.zeros(count)
        tree_net = self.trees - price * self.budgets[:, None] - margin
        nets = [np.where(allowed[:, None], tree_net, -np.inf)]
        accuracies = [self.realised_trees]
        costs = [self.realised_costs]
        if self.stop is not None:
            nets.insert(0, self.stop[None, :])
            accuracies.insert(0, self.realised_stop[None, :])
            costs.insert(0, np.zeros((1, count)))
        net = np.vstack(nets)
        best = np.argmax(net, axis=0)
        columns = np.arange(count)
        return (
            net[best, columns],
            np.vstack(accuracies)[best, columns],
            np.vstack(costs)[best, columns],
        )


def expected_costs(data: Trajectories) -> dict[str, float]:
    """Generations a decision expects each tree action to cost: its budget, or for a
    search that may run again (a second opinion) its mean over the calibration rows."""
    out = {}
    for key in data.trees:
        spent = data.cost_of(key)
        out[key] = float(spent.mean()) if len(spent) else float(ActionKey.parse(key).budget)
    return out


class Ladder:
    """The rungs' regression designs and action values on the calibration rows, built
    once and shared by every backward pass (each price, each cap)."""

    def __init__(
        self,
        actions: Sequence[RungModel],
        data: Trajectories,
        costs: Mapping[str, float],
        margin: float = 0.0,
    ) -> None:
        self.rungs = data.rungs
        self.margin = margin
        self.top = len(data.rungs) - 1
        alpha = repeats(data)
        self.inputs = [actions[r].augmented(data.features[r]) for r in range(self.top)]
        self.designs = [RidgeDesign(inputs, alpha) for inputs in self.inputs]
        self.values = [ActionValues.of(actions[r], data, r, costs) for r in range(self.top + 1)]

    def backward(
        self,
        price: float,
        last: int | None = None,
        cap: float | None = None,
        searching: bool = True,
    ) -> list[Continuation]:
        """Least-squares Monte Carlo from rung ``last`` (default: the top) down: one
        continuation per rung below it. With ``cap``, every decision on the way keeps
        within ``cap`` generations in all (a rung's samples count as spent). Without
        ``searching`` no tree search is ever taken (above the model's search ceiling)."""
        last = self.top if last is None else last

        def allowed(r: int) -> np.ndarray | None:
            if not searching:
                return np.zeros(len(self.values[r].keys), dtype=bool)
            return None if cap is None else self.values[r].affordable(cap - self.rungs[r])

        _, accuracy, cost = self.values[last].best_fixed(price, allowed(last), self.margin)
        chain: list[Continuation] = []
        for r in range(last - 1, -1, -1):
            future_cost = cost + (self.rungs[r + 1] - self.rungs[r])
            fixed_value, fixed_accuracy, fixed_cost = self.values[r].best_fixed(
                price, allowed(r), self.margin
            )
            # What sampling on gained over the action it forwent, on the same row (the
            # same random order): most rows' votes never change, so the difference is
            # far less noisy than either payoff, and it is the quantity decided on.
            # With nothing to forgo (rung 0, no search allowed) the baseline is 0.
            forgone = np.where(np.isfinite(fixed_value), fixed_accuracy - price * fixed_cost, 0.0)
            value_model = self.designs[r].fit(accuracy - price * future_cost - forgone)
            chain.append(Continuation(value_model, self.designs[r].fit(future_cost)))
            go_on = (value_model.predict(self.inputs[r]) > 0) | ~np.isfinite(fixed_value)
            accuracy = np.where(go_on, accuracy, fixed_accuracy)
            cost = np.where(go_on, future_cost, fixed_cost)
        return chain[::-1]


def fit_continuations(
    actions: Sequence[RungModel],
    data: Trajectories,
    prices: Sequence[float],
    costs: Mapping[str, float],
    margin: float = 0.0,
    ceiling: float | None = None,
) -> list[RungModel]:
    """Least-squares Monte Carlo, top rung down, one regression pair per price;
    ``costs``: each tree action's expected generations (``expected_costs``); ``margin``
    and ``ceiling``: the switch margin and search ceiling the decisions will use."""
    ladder = Ladder(actions, data, costs, margin)
    grid = tuple(prices)
    chains = [ladder.backward(price, searching=searches_at(price, ceiling, grid)) for price in grid]
    return [
        RungModel(a.rung, a.stop, a.trees, tuple(c[r] for c in chains) if r < ladder.top else ())
        for r, a in enumerate(actions)
    ]


def fit_capped_continuations(
    model: SequentialModel,
    data: Trajectories,
    caps: Sequence[int],
    price: float,
    sampled: Trajectories | None = None,
) -> CappedContinuations:
    """Sampling on's worth under each per-problem cap (``--budget N``), at ``price``.

    The backward pass starts from the last rung the cap reaches and never counts on a
    search the cap cannot pay for (at its most: a second opinion's three runs). Caps that
    cannot bind (at least ``model.most_spent()``) or that reach no rung are left out.
    ``sampled``: the decision pool, as ``fit_model`` takes it."""
    rows = with_sampled(data, sampled, model.rung_models)
    ladder = Ladder(model.rung_models, rows, expected_costs(data), model.switch_margin)
    by_cap = {}
    for cap in sorted(set(int(c) for c in caps)):
        last = max(r for r, rung in enumerate(data.rungs) if rung <= cap)
        if last == 0 or cap >= model.most_spent():
            continue
        by_cap[cap] = tuple(ladder.backward(price, last, cap, model.searches_at(price)))
    return CappedContinuations(price=price, by_cap=by_cap)


def replay(
    model: SequentialModel, data: Trajectories, price: float, budget: float | None = None
) -> Replay:
    """Run the policy at ``price`` on recorded trajectories (realised outcomes); with
    ``budget``, each problem may spend at most that many generations (``--budget N``)."""
    count = len(data)
    accuracy = np.zeros(count)
    cost = np.zeros(count)
    active = np.arange(count)
    spent = {key: data.cost_of(key) for key in data.trees}
    for r in range(len(data.rungs)):
        if not len(active):
            break
        caps = None if budget is None else np.full(len(active), budget - data.rungs[r])
        decisions = model.decide_rows(r, data.features[r][active], price, caps, budget)
        going_on = []
        for row, decision in zip(active, decisions, strict=True):
            if decision.kind == "stop":
                accuracy[row] = data.stop[r][row]
            elif decision.kind == "tree":
                key = str(decision.key)
                accuracy[row] = data.trees[key][row]
                cost[row] += spent[key][row]
            else:
                cost[row] += float(model.next_step(r) or 0)
                going_on.append(row)
        active = np.array(going_on, dtype=np.int64)
    return Replay(accuracy, cost)


def fit_model(
    data: Trajectories,
    *,
    reduction: str,
    prices: Sequence[float] = DEFAULT_PRICES,
    sample_flops: float = 0.0,
    tree_flops: dict[str, float] | None = None,
    switch_margin: float = 0.0,
    search_ceiling: float | None = None,
    sampled: Trajectories | None = None,
) -> SequentialModel:
    """The decision model fitted on ``data`` (problems with every action recorded) and
    ``sampled`` (a decision pool: problems with samples only, ``with_sampled``)."""
    actions = fit_action_models(data, sampled)
    costs = expected_costs(data)
    rows = with_sampled(data, sampled, actions)
    rung_models = fit_continuations(actions, rows, prices, costs, switch_margin, search_ceiling)
    return SequentialModel(
        reduction=reduction,
        rungs=data.rungs,
        prices=tuple(prices),
        rung_models=tuple(rung_models),
        sample_flops=sample_flops,
        tree_flops=dict(tree_flops or {}),
        action_costs={k: v for k, v in costs.items() if ActionKey.parse(k).checked},
        answer_rules=dict(data.answer_rules),
        switch_margin=switch_margin,
        search_ceiling=search_ceiling,
    )


def with_switch_margin(
    model: SequentialModel,
    data: Trajectories,
    prices: Sequence[float],
    margin: float,
    sampled: Trajectories | None = None,
) -> SequentialModel:
    """``model`` (fitted on ``data`` and ``sampled``) with its continuations refitted for
    ``margin``: the action values do not depend on it, only what sampling on forgoes does."""
    return with_search_rules(model, data, prices, margin, model.search_ceiling, sampled)


def with_search_ceiling(
    model: SequentialModel,
    data: Trajectories,
    prices: Sequence[float],
    ceiling: float | None,
    sampled: Trajectories | None = None,
) -> SequentialModel:
    """``model`` with its continuations refitted for the search ``ceiling``, as
    ``with_switch_margin`` refits them for a margin."""
    return with_search_rules(model, data, prices, model.switch_margin, ceiling, sampled)


def with_search_rules(
    model: SequentialModel,
    data: Trajectories,
    prices: Sequence[float],
    margin: float,
    ceiling: float | None,
    sampled: Trajectories | None = None,
) -> SequentialModel:
    """``model`` with its continuations refitted for both ``margin`` and ``ceiling`` in one
    backward pass per price (refitting for one and then the other would fit twice)."""
    rows = with_sampled(data, sampled, model.rung_models)
    costs = expected_costs(data)
    rung_models = fit_continuations(model.rung_models, rows, prices, costs, margin, ceiling)
    return replace(
        model, rung_models=tuple(rung_models), switch_margin=margin, search_ceiling=ceiling
    )


@dataclass(frozen=True)
class Fold:
    """One half of the two-fold held-out figures: the model fitted on ``fitted``, and
    ``test``, the rows (of the whole calibration) it is replayed on."""

    fitted: Trajectories
    test: np.ndarray
    model: SequentialModel
    # the decision pool every fold's model is also fitted on (never held out: it has no
    # searches to replay)
    sampled: Trajectories | None = None


def fit_folds(
    data: Trajectories,
    *,
    reduction: str,
    prices: Sequence[float] = DEFAULT_PRICES,
    seed: int = 0,
    parts: int = 2,
    sampled: Trajectories | None = None,
    held_out: Sequence[np.ndarray] | None = None,
) -> list[Fold]:
    """The problems in ``parts`` random parts (halves by default, as ``ttc calibrate``
    holds out), each held out by a model fitted on the others: fitted once and shared by
    the price curve and the capped figures (the fits are the costly part). ``sampled``
    (a decision pool) joins every part's fit and is never held out. ``held_out``: the
    parts given instead (pool indices), e.g. one calibration's problems scored by a model
    fitted on another's; problems in no part are only ever fitted on."""
    problems = np.unique(data.problem)
    if held_out is not None:
        chosen_parts = [np.asarray(part) for part in held_out]
    else:
        if not 2 <= parts <= max(len(problems), 2):
            raise ValueError(f"{parts} parts: between 2 and the {len(problems)} problems")
        order = np.random.default_rng([seed, 97]).permutation(problems)
        bounds = [len(problems) * i // parts for i in range(1, parts)]
        # the last part is held out first: two parts keep the order the halves always had
        chosen_parts = list(reversed(np.split(order, bounds)))
    folds = []
    for part in chosen_parts:
        test = np.isin(data.problem, part)
        if not test.any() or test.all():
            continue
        fitted = data.subset(np.flatnonzero(~test))
        model = fit_model(fitted, reduction=reduction, prices=prices, sampled=sampled)
        folds.append(Fold(fitted, test, model, sampled))
    return folds


# candidate switch margins, in predicted accuracy: from "the best prediction wins" to
# "never leave a drawn pool for a search" (searches then start only from the prompt)
SWITCH_MARGINS: tuple[float, ...] = (0.0, 0.02, 0.05, 0.1, 0.2, 1.0)


def choose_switch_margin(
    data: Trajectories,
    folds: Sequence[Fold],
    prices: Sequence[float] = DEFAULT_PRICES,
    margins: Sequence[float] = SWITCH_MARGINS,
) -> tuple[float, list[Fold]]:
    """The margin chosen on the folds' held-out halves, and the folds refitted with it.

    Each margin's fold models are replayed on their held-out halves and scored per
    problem by net value (accuracy minus price times generations) averaged over the price
    grid; ``cautious_choice`` picks: no margin unless one beats it by more than a
    standard error, then the largest within a standard error of the best. Without tree
    searches there is nothing to switch to: 0 and the folds as they are.

    Measured before choosing the rule: on the simulator (400 problems) every margin
    scores within noise of 0 on the calibration, but its evaluation on fresh problems
    lost with any (N=16 compute to match 1.64x at 0, 1.49x at 0.02, 1.46x at 0.1); on
    SmolLM2 (100 problems) 1.0 beat 0 by several standard errors.

    Why held out: in-sample, trusting every prediction always looks best."""
    if not data.trees or not folds:
        return 0.0, list(folds)
    scores = []
    refits = []
    for margin in margins:
        refitted = [
            fold
            if fold.model.switch_margin == margin
            else replace(
                fold,
                model=with_switch_margin(fold.model, fold.fitted, prices, margin, fold.sampled),
            )
            for fold in folds
        ]
        scores.append(heldout_nets(data, refitted, prices).mean(axis=0))
        refits.append(refitted)
    chosen = cautious_choice(margins, scores)
    return margins[chosen], refits[chosen]


def heldout_nets(data: Trajectories, folds: Sequence[Fold], prices: Sequence[float]) -> np.ndarray:
    """(prices, problems): each problem's held-out net value (accuracy minus price x
    generations) at each price, its rows (random orders) averaged, problems in the order of
    ``np.unique`` over the held-out rows: what the held-out choices (switch margin, search
    ceiling) are scored on."""
    tested = np.zeros(len(data), dtype=bool)
    net = np.zeros((len(prices), len(data)))
    for fold in folds:
        tested |= fold.test
        held = data.subset(np.flatnonzero(fold.test))
        for i, price in enumerate(prices):
            outcome = replay(fold.model, held, price)
            net[i, fold.test] = outcome.accuracy - price * outcome.cost
    return np.vstack([problem_means(row[tested], data.problem[tested]) for row in net])


def problem_means(values: np.ndarray, problem: np.ndarray) -> np.ndarray:
    """Per problem (in the order of ``np.unique(problem)``), the mean of its rows' values:
    a problem's random orders are not independent evidence, the problem is."""
    _, inverse = np.unique(problem, return_inverse=True)
    return np.bincount(inverse, weights=values) / np.bincount(inverse)


def cautious_choice(settings: Sequence[float], scores: Sequence[np.ndarray]) -> int:
    """Index of the setting to use; ``settings[0]`` is the status quo, ``scores[i]`` the
    held-out score per problem under ``settings[i]`` (the same problems in the same
    order, so errors are those of paired differences).

    The status quo stays unless the best setting beats it by more than one standard
    error: a change needs evidence. When it does, the largest setting within one
    standard error of the best is taken (cross-validation's one-standard-error rule:
    the most cautious model the evidence cannot tell from the best)."""
    means = [float(score.mean()) for score in scores]
    best = int(np.argmax(means))
    if means[best] - means[0] <= _paired_error(scores[best], scores[0]):
        return 0
    chosen = best
    for index, score in enumerate(scores):
        within = means[index] >= means[best] - _paired_error(score, scores[best]) - 1e-12
        if settings[index] > settings[chosen] and within:
            chosen = index
    return chosen


def _paired_error(first: np.ndarray, second: np.ndarray) -> float:
    differences = first - second
    if len(differences) < 2:
        return 0.0
    return float(differences.std(ddof=1) / np.sqrt(len(differences)))


def heldout_price_curve(
    data: Trajectories,
    *,
    reduction: str,
    prices: Sequence[float] = DEFAULT_PRICES,
    seed: int = 0,
    progress: Callable[[int], object] = lambda n: None,
    folds: Sequence[Fold] | None = None,
) -> list[PricePoint]:
    """Two-fold by problem: accuracy and mean cost at each price on the half not fitted
    (``folds`` from ``fit_folds`` with the same prices, or fitted here)."""
    if folds is None:
        folds = fit_folds(data, reduction=reduction, prices=prices, seed=seed)
    accuracy = {p: np.zeros(len(data)) for p in prices}
    cost = {p: np.zeros(len(data)) for p in prices}
    for fold in folds:
        held = data.subset(np.flatnonzero(fold.test))
        for price in prices:
            outcome = replay(fold.model, held, price)
            accuracy[price][fold.test] = outcome.accuracy
            cost[price][fold.test] = outcome.cost
            progress(1)
    return [PricePoint(p, float(accuracy[p].mean()), float(cost[p].mean())) for p in prices]


# candidate thresholds for a capped problem's early stop, from "at any predicted loss"
# to "never" (sample to the cap)
CAP_THRESHOLDS: tuple[float, ...] = (0.0, -0.005, -0.01, -0.02, -0.04, -0.08, -math.inf)


def cap_baseline(data: Trajectories, cap: int) -> np.ndarray:
    """Per row, what spending the whole cap without routing scores: the best (on the
    mean) of sampling to the largest rung within the cap and answering, and every tree
    search the cap can pay for at its most."""
    rung = max(r for r, size in enumerate(data.rungs) if size <= cap)
    options = [data.stop[rung]] if rung > 0 else []
    options += [v for k, v in data.trees.items() if ActionKey.parse(k).most_generations <= cap]
    if not options:
        return np.zeros(len(data))
    return max(options, key=lambda values: float(values.mean()))


def capped_fold_models(
    folds: Sequence[Fold], caps: Sequence[int], price: float
) -> list[SequentialModel]:
    """Each fold's model with its capped continuations, fitted on that fold's half: the
    thresholds and the capped held-out figures replay the same ones."""
    return [
        replace(
            fold.model,
            capped=fit_capped_continuations(fold.model, fold.fitted, caps, price, fold.sampled),
        )
        for fold in folds
    ]


def fit_cap_thresholds(
    data: Trajectories,
    folds: Sequence[Fold],
    caps: Sequence[int],
    price: float,
    fitted: Sequence[SequentialModel] | None = None,
) -> dict[int, float]:
    """Per cap: the threshold that spends least while the capped router, held out, is at
    least as accurate as spending the whole cap (``cap_baseline``) on the same rows.

    Why: a per-problem cap promises the accuracy of its budget; stopping early is a
    saving only where it costs nothing. The fitted advantage of sampling on is noisy near
    zero, so each cap gets the smallest margin below zero that its held-out replays
    (two folds, paired on the same random orders) show to lose nothing; -inf (never stop
    early) always qualifies. ``fitted``: ``capped_fold_models`` of the same folds, when
    the caller has them."""
    if fitted is None:
        fitted = capped_fold_models(folds, caps, price)
    held = [data.subset(np.flatnonzero(fold.test)) for fold in folds]
    tested = np.zeros(len(data), dtype=bool)
    for fold in folds:
        tested |= fold.test
    out: dict[int, float] = {}
    for cap in sorted(set(int(c) for c in caps)):
        if not any(size <= cap for size in data.rungs[1:]):
            continue
        wanted = float(cap_baseline(data, cap)[tested].mean())
        out[cap] = -math.inf
        # from the least cautious on: the first that loses nothing spends least
        for threshold in CAP_THRESHOLDS[:-1]:
            accuracy = np.zeros(len(data))
            for fold, model, rows in zip(folds, fitted, held, strict=True):
                assert model.capped is not None
                trial = replace(model, capped=replace(model.capped, thresholds={cap: threshold}))
                accuracy[fold.test] = replay(trial, rows, price, budget=cap).accuracy
            if accuracy[tested].mean() + 1e-9 >= wanted:
                out[cap] = threshold
                break
    return out


def heldout_capped(
    data: Trajectories,
    folds: Sequence[Fold],
    caps: Sequence[int],
    price: float,
    thresholds: Mapping[int, float] | None = None,
    fitted: Sequence[SequentialModel] | None = None,
) -> dict[int, PricePoint]:
    """What ``--budget N`` scores at ``price`` for each cap N, on the same two folds as
    the price curve: accuracy and mean generations on the half not fitted, its capped
    continuations fitted on the other (``fitted``: ``capped_fold_models``, when the
    caller has them)."""
    if fitted is None:
        fitted = capped_fold_models(folds, caps, price)
    accuracy = {c: np.zeros(len(data)) for c in caps}
    cost = {c: np.zeros(len(data)) for c in caps}
    for fold, fold_model in zip(folds, fitted, strict=True):
        assert fold_model.capped is not None
        capped = replace(fold_model.capped, thresholds=dict(thresholds or {}))
        model = replace(fold_model, capped=capped)
        held = data.subset(np.flatnonzero(fold.test))
        for cap in caps:
            outcome = replay(model, held, price, budget=cap)
            accuracy[cap][fold.test] = outcome.accuracy
            cost[cap][fold.test] = outcome.cost
    return {c: PricePoint(price, float(accuracy[c].mean()), float(cost[c].mean())) for c in caps}
