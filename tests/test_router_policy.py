"""Budget policies on hand-built states and pools, checked against brute force.

No engine runs here: the decision model is fitted on hand-built trajectories whose
outcomes are known, and the stopping rules read hand-built answer sequences.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calibration.sequential.fit import fit_capped_continuations, fit_model, replay
from calibration.sequential.trajectories import Trajectories
from router.policies import (
    AutoPolicy,
    FixedPolicy,
    LiveProblem,
    PolicyError,
    PricePolicy,
    RoundView,
    TotalPolicy,
    parse_policy,
)
from router.policies.adaptive_consistency import AdaptiveConsistencyPolicy
from router.policies.base import SecondOpinionRoom
from router.policies.early_stopping import EarlyStoppingPolicy
from router.policies.total import borrowing_keys, reserved
from router.policies.verifier_margin import VerifierMarginPolicy
from runtime.actions import Decision
from runtime.decision_model import Continuation, PricePoint, RungModel, SequentialModel
from runtime.linear import LinearModel
from strategies.search.result import Candidate

# ---------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("text", "kind", "printed"),
    [
        ("auto", AutoPolicy, "auto"),
        ("8", FixedPolicy, "8"),
        ("fixed:8", FixedPolicy, "8"),
        ("total:800", TotalPolicy, "total:800"),
        ("total:2.5e15", TotalPolicy, "total:2.5e+15"),
        ("price:0.01", PricePolicy, "price:0.01"),
        ("beta:16", AdaptiveConsistencyPolicy, "beta:16"),
        ("beta:16:0.9", AdaptiveConsistencyPolicy, "beta:16:0.9"),
        ("esc:16:2", EarlyStoppingPolicy, "esc:16:2"),
        ("margin:8", VerifierMarginPolicy, "margin:8"),
    ],
)
def test_policies_parse_validate_once_and_print_back(text, kind, printed):
    policy = parse_policy(text)
    assert type(policy) is kind
    assert str(policy) == printed
    assert parse_policy(str(policy)) == policy
    if isinstance(policy, FixedPolicy):
        assert isinstance(policy.budget, int)


@pytest.mark.parametrize(
    "text",
    [
        "0",
        "-2",
        "eight",
        "total:",
        "total:-3",
        "total:0",
        "price:x",
        "price:nan",
        "esc:",
        "beta:0",
        "esc:4:2:1",
    ],
)
def test_bad_policies_say_which_forms_exist(text):
    with pytest.raises(PolicyError, match="--budget"):
        parse_policy(text)


def test_an_unknown_policy_suggests_the_closest_name():
    with pytest.raises(PolicyError, match=r"did you mean 'total'"):
        parse_policy("totl:100")


# ---------------------------------------------------------------- a hand-built model


def constant(probability: float, width: int, logistic: bool = True) -> LinearModel:
    """A model that ignores its input and predicts ``probability``."""
    value = math.log(probability / (1 - probability)) if logistic else probability
    return LinearModel((0.0,) * width, (1.0,) * width, (0.0,) * width, value, logistic)


def hand_model(
    stop: list[float], tree: float, continuation: list[float], checked: float | None = None
) -> SequentialModel:
    """Rungs 0, 1, 2, 4: stopping at rung r is right with stop[r]; beam_search@4 with
    ``tree``; sampling on is worth continuation[r] (net value), at every price. With
    ``checked``, also rebase+check@2 (a second opinion: 2.6 generations expected, 6 at
    most) right with that probability."""
    rungs = (0, 1, 2, 4)
    trees = {"beam_search@4": tree} | ({} if checked is None else {"rebase+check@2": checked})
    models = []
    for index, rung in enumerate(rungs):
        width = 1
        conts = ()
        if index < len(rungs) - 1:
            augmented = width + (0 if rung == 0 else 1 + width) + len(trees)
            conts = tuple(
                Continuation(
                    constant(continuation[index], augmented, logistic=False),
                    constant(float(rungs[index + 1] - rung), augmented, logistic=False),
                )
                for _ in (0.0, 1.0)
            )
        models.append(
            RungModel(
                rung=rung,
                stop=None if rung == 0 else constant(stop[index], width),
                trees={key: constant(value, width) for key, value in trees.items()},
                continuation=conts,
            )
        )
    costs = {} if checked is None else {"rebase+check@2": 2.6}
    return SequentialModel(
        "last", rungs, (0.0, 1.0), tuple(models), sample_flops=10.0, action_costs=costs
    )


def live(rung_index: int, spent: float = 0.0, pid: str = "p") -> LiveProblem:
    samples = (0, 1, 2, 4)[rung_index]
    return LiveProblem(
        pid, np.zeros(1), tuple(candidate("7") for _ in range(samples)), rung_index, spent
    )


def brute_force(model: SequentialModel, rung_index: int, price: float, cap: float) -> Decision:
    """Enumerate every allowed action and take the best value minus price x cost."""
    stop, trees = model.rung_models[rung_index].action_values(np.zeros(1))
    options = []  # (action, value, cost, what its net value is docked)
    if stop is not None:
        options.append(("stop", stop, 0.0, 0.0))
    for key, value in trees.items():
        budget = int(key.rpartition("@")[2])
        most = budget * (3 if "+check@" in key else 1)  # a second opinion may run 3 times
        if most <= cap:
            cost = model.action_costs.get(key, float(budget))
            options.append((key, value, cost, model.switch_margin))
    step = model.next_step(rung_index)
    if step is not None and (step <= cap or not options):
        # the continuation is the advantage over the best action it forgoes (0 if none)
        advantage, cost = model.continuation(rung_index, np.zeros(1), price)
        # valued on the docked forgone action, shown without its dock
        best_fixed = max(options, key=lambda o: o[1] - price * o[2] - o[3], default=None)
        dock = 0.0 if best_fixed is None else best_fixed[3]
        forgone = 0.0 if best_fixed is None else best_fixed[1] - price * best_fixed[2] - dock
        options.append(("sample", forgone + dock + advantage + price * cost, cost, dock))
    best = max(options, key=lambda o: (o[1] - price * o[2] - o[3], -o[2]))
    return Decision(
        "stop" if best[0] == "stop" else "tree" if "@" in best[0] else "sample", best[1], best[2]
    )


@pytest.mark.parametrize("price", [0.0, 0.01, 0.05, 0.2])
@pytest.mark.parametrize("cap", [math.inf, 6.0, 5.0, 3.0, 0.5])
@pytest.mark.parametrize("checked", [None, 0.88, 0.95])
@pytest.mark.parametrize("margin", [0.0, 0.15])
def test_decisions_are_the_brute_force_best_action(price, cap, checked, margin):
    model = hand_model(
        stop=[0.0, 0.6, 0.7, 0.8], tree=0.9, continuation=[0.55, 0.63, 0.74, 0.0], checked=checked
    )
    model = replace(model, switch_margin=margin)
    for rung_index in range(4):
        got = model.decide(rung_index, np.zeros(1), price, cap)
        want = brute_force(model, rung_index, price, cap)
        assert (got.kind, round(got.expected_accuracy - price * got.expected_cost, 9)) == (
            want.kind,
            round(want.expected_accuracy - price * want.expected_cost, 9),
        )


def test_a_problem_with_nothing_drawn_always_gets_a_first_step():
    model = hand_model(stop=[0.0, 0.6, 0.7, 0.8], tree=0.9, continuation=[0.1, 0.6, 0.7, 0.0])
    decision = model.decide(0, np.zeros(1), price=0.0, cap=0.0)
    assert decision.kind == "sample" and decision.budget == 1


def view(model: SequentialModel, problems: list[LiveProblem], spent: float = 0.0) -> RoundView:
    return RoundView(model=model, problems=problems, spent=spent, cost_unit="generations")


def test_fixed_budget_never_plans_past_its_cap():
    model = hand_model(
        stop=[0.0, 0.5, 0.55, 0.6], tree=0.99, continuation=[0.9, 0.9, 0.9, 0.0], checked=0.99
    )
    policy = FixedPolicy(3)
    for rung_index, spent in ((0, 0.0), (1, 1.0), (2, 2.0)):
        (decision,) = policy.decide(view(model, [live(rung_index, spent)]))
        # at its most: a checked search's every run
        start = (
            decision.key.most_generations
            if decision.kind == "tree"
            else view(model, [live(rung_index, spent)]).first_run_cost(
                decision, live(rung_index, spent)
            )
        )
        assert spent + start <= 3.0
        assert (
            decision.kind != "tree"
        )  # beam_search@4, and rebase+check@2's third run, would pass it


@settings(max_examples=60, deadline=None)
@given(
    total=st.floats(min_value=4.0, max_value=60.0),
    rungs=st.lists(st.integers(min_value=0, max_value=3), min_size=1, max_size=8),
    spent=st.floats(min_value=0.0, max_value=3.0),
    tree=st.floats(min_value=0.05, max_value=0.99),
    checked=st.none() | st.floats(min_value=0.05, max_value=0.99),
)
def test_total_budget_never_overspends_in_a_round(total, rungs, spent, tree, checked):
    model = hand_model(
        stop=[0.0, 0.5, 0.6, 0.7], tree=tree, continuation=[0.6, 0.65, 0.7, 0.0], checked=checked
    )
    problems = [live(r, pid=f"p{i}") for i, r in enumerate(rungs)]
    already = spent + sum(p.spent for p in problems)
    policy = TotalPolicy(max(total, already + len(rungs)))
    state = view(model, problems, spent=already)
    decisions = policy.decide(state)
    pairs = list(zip(decisions, problems, strict=True))
    # what the round spends for sure fits, and so does what it sets aside on average;
    # a checked search's further runs are paid from the room left (rounds.py), or skipped
    first = sum(state.first_run_cost(d, p) for d, p in pairs)
    assert already + first <= policy.value + 1e-9
    assert already + sum(reserved(state, d, p) for d, p in pairs) <= policy.value + 1e-9
    # second opinions get what was set aside for them, never money past B
    room = policy.second_opinion_room(state, decisions)
    set_aside = sum(reserved(state, d, p) - state.first_run_cost(d, p) for d, p in pairs)
    assert set_aside - 1e-9 <= room.set_aside <= room.most + 1e-9
    assert room.most <= policy.value - already - first + 1e-9
    for decision, problem in zip(decisions, problems, strict=True):
        if problem.rung_index == 0:  # nothing drawn yet: it must get a first step
            assert decision.kind in ("sample", "tree")


def test_second_opinions_do_not_spend_what_sampling_problems_expect_to_need_later():
    """One problem samples on (expects 3 more generations in all), one runs
    rebase+check@2 (2.6 expected, 2 for its first run). With B exactly what the plan
    expects, the second opinions get the 0.6 set aside for them; the 2 more that the
    sampling problem will need in its later rounds are not theirs to take (this model
    has no calibration report that would let them borrow)."""
    model = hand_model(
        stop=[0.0, 0.5, 0.6, 0.7], tree=0.1, continuation=[0.6, 0.65, 0.7, 0.0], checked=0.95
    )
    problems = [live(1, spent=1.0, pid="a"), live(1, spent=1.0, pid="b")]
    decisions = [
        Decision("sample", 0.7, 3.0, None, 2),
        Decision("tree", 0.95, 2.6, "rebase+check", 2),
    ]
    state = view(model, problems, spent=2.0)
    room = TotalPolicy(2.0 + 3.0 + 2.6).second_opinion_room(state, decisions)
    assert (room.set_aside, room.most) == (pytest.approx(0.6), pytest.approx(2.6))
    assert room.admit("rebase+check@2", 1, 2.0) == 0
    # what the plan leaves unclaimed is theirs too, up to B
    room = TotalPolicy(2.0 + 3.0 + 2.6 + 1.5).second_opinion_room(state, decisions)
    assert room.set_aside == pytest.approx(2.1)
    assert room.admit("rebase+check@2", 2, 2.0) == 1


def test_a_second_opinion_borrows_from_later_rounds_only_where_it_pays_well_over_the_price():
    """rebase+check@2's further runs gained 0.1 per generation in calibration (0.70 ->
    0.80 for 1 more generation on average). At a price of 0.01 it may borrow beyond what
    was set aside (up to what is left of B); at 0.08, under twice its gain, it may not."""
    model = replace(
        hand_model(
            stop=[0.0, 0.5, 0.6, 0.7], tree=0.1, continuation=[0.6, 0.65, 0.7, 0.0], checked=0.8
        ),
        second_opinions={
            "rebase+check@2": {"accuracy": 0.8, "generations": 3.0, "plain_accuracy": 0.7}
        },
    )
    assert model.second_opinion_gain("rebase+check@2") == pytest.approx(0.1)
    state = view(model, [live(1)])
    assert borrowing_keys(state, 0.01) == {"rebase+check@2"}
    assert borrowing_keys(state, 0.08) == frozenset()
    room = SecondOpinionRoom(set_aside=1.0, most=5.0, borrowing=frozenset({"rebase+check@2"}))
    assert room.admit("beam_search+check@2", 3, 2.0) == 0  # 1.0 set aside: not one run
    assert room.admit("rebase+check@2", 3, 2.0) == 2  # borrows, but never past B
    assert room.most == pytest.approx(1.0)


def test_total_budget_searches_the_price_that_spends_what_is_left():
    # continuations are advantages over the best action forgone: sampling on loses to the
    # search (-0.3), so money no object means searching
    model = hand_model(stop=[0.0, 0.5, 0.6, 0.7], tree=0.95, continuation=[0.6, -0.3, -0.25, 0.0])
    problems = [live(1, spent=1.0, pid=f"p{i}") for i in range(4)]
    rich = TotalPolicy(100.0).decide(view(model, problems, spent=4.0))
    poor = TotalPolicy(5.0).decide(view(model, problems, spent=4.0))
    assert all(
        d.kind == "tree" for d in rich
    )  # 0.95 at cost 4 beats 0.5 at cost 0 when money is no object
    assert sum(d.kind == "stop" for d in poor) >= 3  # one generation left: nobody can search


# ---------------------------------------------------------------- fitting on hand-built trajectories


def test_least_squares_monte_carlo_learns_when_sampling_on_pays():
    """Two kinds of problem, told apart by a feature: on kind A a second sample fixes a
    wrong first one, on kind B nothing helps. Fitted at a low price, the model samples on
    exactly where the brute-force best policy does."""
    rows = 400
    kind = np.repeat([0.0, 1.0], rows // 2)
    first_right = np.tile([0.0, 1.0], rows // 2)
    features = [
        kind[:, None],
        np.column_stack([kind, first_right]),
        np.column_stack([kind, first_right]),
    ]
    stop = [
        np.zeros(rows),
        first_right,
        np.where(kind == 0, 1.0, first_right),  # A: two samples always right
    ]
    data = Trajectories(
        rungs=(0, 1, 2),
        problem=np.arange(rows),
        features=features,
        stop=stop,
        trees={"beam_search@8": np.zeros(rows)},
    )
    model = fit_model(data, reduction="last", prices=(0.0, 0.1, 0.6, 1.5))
    outcome = replay(model, data, price=0.1)
    kind_a = kind == 0
    # brute force per row: on A stop when the first is right, else draw the second (which
    # is right); on B a second sample never helps, so stop after one
    best_cost = np.where(kind_a, 2.0 - first_right, 1.0)
    best_accuracy = np.where(kind_a, 1.0, first_right)
    assert np.array_equal(outcome.cost, best_cost)
    assert np.array_equal(outcome.accuracy, best_accuracy)
    expensive = replay(model, data, price=1.5)
    assert expensive.cost.mean() == 1.0  # at 1.5 per generation nothing beyond the first pays


def capped_trajectories(rows: int = 200) -> Trajectories:
    """A pool where a cheap search (beam_search@2, right on 70 % of problems) is the best
    a cap of 4 can buy, while a dear one (beam_search@8, 98 %) is what an uncapped router
    samples on towards; the votes are weak (30 / 35 / 40 % right at 1 / 2 / 4 samples).
    The one feature is constant: the best policy is the same for every problem."""

    def share(p: float) -> np.ndarray:
        return (np.arange(rows) < round(p * rows)).astype(float)

    return Trajectories(
        rungs=(0, 1, 2, 4),
        problem=np.arange(rows),
        features=[np.zeros((rows, 1)) for _ in range(4)],
        stop=[np.zeros(rows), share(0.30), share(0.35), share(0.40)],
        trees={"beam_search@2": share(0.70), "beam_search@8": share(0.98)},
    )


def test_a_capped_router_buys_the_search_its_cap_affords_instead_of_sampling_to_the_cap():
    """Brute force under a cap of 4 at price 0.01 (every problem alike): search at N=2
    straight away is worth 0.70 - 0.02; one sample first and then the search 0.70 - 0.03;
    any vote at most 0.40. Valued without the cap, sampling on looks like the road to
    beam_search@8 (0.98), which a cap of 4 never allows: the router sampled to its cap
    and answered with a 40 % vote."""
    data = capped_trajectories()
    model = fit_model(data, reduction="last", prices=(0.0, 0.01, 0.1))
    model = replace(model, capped=fit_capped_continuations(model, data, [2, 4, 16], 0.01))
    assert sorted(model.capped.by_cap) == [2, 4]  # 16 can pay for anything: not fitted
    capped = replay(model, data, price=0.01, budget=4)
    assert np.array_equal(capped.cost, np.full(len(data), 2.0))
    assert capped.accuracy.mean() == pytest.approx(0.70)
    # Valued as an advantage over the action it forgoes, even the uncapped continuation no
    # longer promises the dear search: sampling on is worth less than beam_search@8 now,
    # and under the cap the router buys beam_search@2 (the old gross values sampled to
    # the cap and answered with a 40 % vote).
    uncapped_values = replay(replace(model, capped=None), data, price=0.01, budget=4)
    assert uncapped_values.accuracy.mean() == pytest.approx(0.70)
    # without a cap nothing changes: beam_search@8 straight away is the best buy
    free = replay(model, data, price=0.01)
    assert free.accuracy.mean() == pytest.approx(0.98) and free.cost.mean() == 8.0


def test_the_fixed_budget_policy_values_sampling_on_by_what_its_cap_allows():
    data = capped_trajectories()
    model = fit_model(data, reduction="last", prices=(0.0, 0.01, 0.1))
    model = replace(
        model,
        capped=fit_capped_continuations(model, data, [4], 0.01),
        price_curve=(PricePoint(0.01, 0.9, 5.0),),  # auto price: 0.01
    )
    first = LiveProblem("p", data.features[0][0], (), 0, 0.0)
    (decision,) = FixedPolicy(4).decide(view(model, [first]))
    assert (decision.kind, decision.strategy, decision.budget) == ("tree", "beam_search", 2)
    # an uncalibrated cap uses the largest calibrated one below it; one below every
    # calibrated cap (or at another price) falls back to the plain continuation
    assert model.capped_continuation(0, 0.01, 6.0) is model.capped.by_cap[4][0]
    assert model.capped_continuation(0, 0.01, 3.0) is None
    assert model.capped_continuation(0, 0.1, 4.0) is None
    (plain,) = FixedPolicy(4).decide(view(replace(model, capped=None), [first]))
    assert plain.kind == "tree"  # an advantage over the search forgone: negative


def test_capped_continuations_survive_the_model_file():
    data = capped_trajectories()
    model = fit_model(data, reduction="last", prices=(0.0, 0.01))
    capped = fit_capped_continuations(model, data, [2, 4], 0.01)
    capped = replace(capped, heldout={4: PricePoint(0.01, 0.7, 2.0)})
    model = replace(model, capped=capped)
    again = SequentialModel.from_json(json.loads(json.dumps(model.to_json())))
    assert again.capped == model.capped
    rows = data.features[1][:5]
    assert np.allclose(
        again.continuation_rows(1, rows, 0.01, budget=4)[0],
        model.continuation_rows(1, rows, 0.01, budget=4)[0],
    )
    older = model.to_json()
    del older["capped"]  # a model fitted before capped continuations: read as none
    assert SequentialModel.from_json(older).capped is None


# ---------------------------------------------------------------- stopping rules


def candidate(answer: str | None, score: float = 0.9) -> Candidate:
    return Candidate(
        text=f"... $\\boxed{{{answer}}}$",
        steps=("s",),
        step_scores=(score,),
        answer=answer,
        finish_reason="eos",
        num_tokens=10,
    )


def run_rule(policy, answers: list[str], scores: list[float] | None = None) -> int:
    """Replay a stopping rule on a fixed answer sequence; how many samples it draws."""
    model = hand_model(stop=[0.0, 0.5, 0.6, 0.7], tree=0.5, continuation=[0.5, 0.5, 0.5, 0.0])
    drawn = 0
    for _ in range(100):
        pool = tuple(
            candidate(a, (scores or [0.9] * len(answers))[i]) for i, a in enumerate(answers[:drawn])
        )
        state = view(model, [LiveProblem("p", np.zeros(1), pool, 0, float(drawn))])
        (decision,) = policy.decide(state)
        if decision.kind == "stop":
            return drawn
        drawn = int(decision.budget or 0)
    raise AssertionError("the rule never stopped")


def beta_brute_force(answers: list[str], budget: int, confidence: float) -> int:
    """Adaptive-Consistency by numerical integration of the Beta posterior."""
    grid = np.linspace(0, 1, 20001)
    for n in range(1, budget + 1):
        counts = sorted((answers[:n].count(a) for a in set(answers[:n])), reverse=True)
        a, b = counts[0], counts[1] if len(counts) > 1 else 0
        density = grid**a * (1 - grid) ** b
        above = density[grid > 0.5].sum() / density.sum()
        if above >= confidence:
            return n
    return budget


def esc_brute_force(answers: list[str], budget: int, window: int) -> int:
    for end in range(window, budget + 1, window):
        if len(set(answers[end - window : end])) == 1:
            return end
    return budget


@pytest.mark.parametrize("seed", range(6))
def test_stopping_rules_stop_where_brute_force_says(seed):
    rng = np.random.default_rng(seed)
    answers = [str(x) for x in rng.choice([1, 1, 1, 2, 3], size=16)]
    assert run_rule(AdaptiveConsistencyPolicy(16), answers) == beta_brute_force(answers, 16, 0.95)
    assert run_rule(EarlyStoppingPolicy(16, 4), answers) == esc_brute_force(answers, 16, 4)
    for window in (2, 3):
        assert run_rule(EarlyStoppingPolicy(12, window), answers) == min(
            12, esc_brute_force(answers + answers, 12, window)
        )


def margin_brute_force(answers: list[str], scores: list[float], budget: int, share: float) -> int:
    n = 1
    while n < budget:
        mass: dict[str, float] = {}
        for answer, score in zip(answers[:n], scores[:n], strict=True):
            mass[answer] = mass.get(answer, 0.0) + score
        if n >= 2 and max(mass.values()) / sum(mass.values()) >= share:
            return n
        n = min(budget, 2 * n)
    return budget


def test_verifier_margin_stops_when_the_leader_holds_its_share():
    answers = ["5", "4", "4", "4", "4", "4", "4", "4"]
    # the lone "5" is confident and leads at first; the "4"s take over as they pile up
    scores = [0.9, 0.3, 0.3, 0.3, 0.9, 0.9, 0.9, 0.9]
    for share, expected in ((0.7, 2), (0.8, 8)):
        drawn = run_rule(VerifierMarginPolicy(8, share), answers, scores)
        assert drawn == margin_brute_force(answers, scores, 8, share) == expected


def test_a_calibration_without_tree_searches_fits_a_sampling_only_model():
    rows = 40
    first_right = np.tile([0.0, 1.0], rows // 2)
    data = Trajectories(
        rungs=(0, 1, 2),
        problem=np.arange(rows),
        features=[np.zeros((rows, 1)), first_right[:, None], first_right[:, None]],
        stop=[np.zeros(rows), first_right, first_right],
        trees={},
    )
    model = fit_model(data, reduction="last", prices=(0.0, 0.1))
    decision = model.decide(0, np.zeros(1), price=0.05)
    assert decision.kind == "sample" and decision.budget == 1
