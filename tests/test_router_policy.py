"""Options, frontiers and the four budget policies, on hand-built calibration tables."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calibration.table import (
    BinningTable,
    BudgetCell,
    CalibrationTable,
    CostSummary,
    RoutingFigures,
    StrategyStats,
)
from router.auto_price import AUTO_TOLERANCE, auto_price, price_curve
from router.options import CostModel, Option, frontier, problem_options, step_slopes
from router.policy import (
    BudgetPolicy,
    PolicyError,
    allocate_total,
    choose_by_price,
    choose_fixed,
    parse_policy,
)


def stats(accuracy: float, flops: float = 1.0) -> StrategyStats:
    return StrategyStats(accuracy, accuracy, accuracy, CostSummary(1.0, 1.0, 1.0, flops), 10, 10)


def make_table(accuracies: dict[tuple[int, int], dict[str, float]]) -> CalibrationTable:
    """A table whose oracle binning has the given (level, budget) -> strategy -> accuracy."""
    levels = tuple(sorted({level for level, _ in accuracies}))
    budgets = tuple(sorted({budget for _, budget in accuracies}))
    names = tuple(dict.fromkeys(s for cell in accuracies.values() for s in cell))
    cells = {
        key: BudgetCell(
            key[0],
            key[1],
            {s: stats(a, flops=10.0 * key[1]) for s, a in cell.items()},
            max(cell, key=lambda s: cell[s]),
        )
        for key, cell in accuracies.items()
    }
    binning = BinningTable(
        name="oracle",
        measure="pass@1",
        levels=levels,
        sizes=dict.fromkeys(levels, 10),
        value_ranges={},
        cells=cells,
        routing=RoutingFigures({}, {}, {}, 1),
    )
    return CalibrationTable(
        1, budgets, names, 1, 10 * len(levels), {"oracle": binning}, {}, {}, None
    )


# Level 1 is easy (solved by anything), 2 is the middle (beam search climbs), 3 is hopeless.
TABLE = make_table(
    {
        (1, 1): {"majority": 0.95, "best_of_n": 0.95},
        (1, 4): {"majority": 1.0, "best_of_n": 1.0, "beam_search": 1.0},
        (1, 16): {"majority": 1.0, "best_of_n": 1.0, "beam_search": 1.0},
        (2, 1): {"majority": 0.3, "best_of_n": 0.3},
        (2, 4): {"majority": 0.35, "best_of_n": 0.5, "beam_search": 0.7},
        (2, 16): {"majority": 0.4, "best_of_n": 0.6, "beam_search": 0.95},
        (3, 1): {"majority": 0.0, "best_of_n": 0.0},
        (3, 4): {"majority": 0.0, "best_of_n": 0.01, "beam_search": 0.02},
        (3, 16): {"majority": 0.0, "best_of_n": 0.01, "beam_search": 0.03},
    }
)
K4 = CostModel("generations", probe_k=4)


def test_options_cost_what_they_add_to_the_probe():
    options = {(o.strategy, o.budget): o for o in problem_options(TABLE, {2: 1.0}, K4)}
    # sampling strategies take the 4 probe samples into their pool; tree searches cannot
    assert options[("majority", 4)].expected_cost == 0
    assert options[("best_of_n", 16)].expected_cost == 12
    assert options[("beam_search", 4)].expected_cost == 4
    assert options[("beam_search", 16)].expected_cost == 16
    assert options[("best_of_n", 4)].reuses_probe and not options[("beam_search", 4)].reuses_probe
    flops = {
        (o.strategy, o.budget): o for o in problem_options(TABLE, {2: 1.0}, CostModel("flops", 4))
    }
    assert flops[("best_of_n", 16)].expected_cost == pytest.approx(160.0 * 12 / 16)
    assert flops[("beam_search", 4)].expected_cost == pytest.approx(40.0)


def test_accuracy_is_the_level_curves_weighted_by_the_distribution():
    blended = {(o.strategy, o.budget): o for o in problem_options(TABLE, {1: 0.25, 2: 0.75}, K4)}
    assert blended[("beam_search", 16)].expected_accuracy == pytest.approx(0.25 + 0.75 * 0.95)
    # a strategy missing from a level with weight (beam search at N=1) is not offered
    assert ("beam_search", 1) not in blended


def test_frontier_is_concave_and_starts_with_the_free_option():
    hull = frontier(problem_options(TABLE, {2: 1.0}, K4))
    assert hull[0].expected_cost == 0 and hull[0].strategy == "best_of_n" and hull[0].budget == 4
    costs = [o.expected_cost for o in hull]
    accuracies = [o.expected_accuracy for o in hull]
    assert costs == sorted(set(costs)) and accuracies == sorted(set(accuracies))
    slopes = step_slopes(hull)
    assert all(a > b for a, b in itertools.pairwise(slopes))
    assert hull[-1].expected_accuracy == pytest.approx(0.95)


def test_price_policy_climbs_while_steps_pay():
    options = problem_options(TABLE, {2: 1.0}, K4)
    assert choose_by_price(options, 0.0).expected_accuracy == pytest.approx(0.95)
    assert choose_by_price(options, 1.0).expected_cost == 0
    # from best_of_n@4 (0.5, free): beam@4 gains 0.2 for 4 (0.05/gen), beam@16 0.25 for 12 more
    middle = choose_by_price(options, 0.03)
    assert (middle.strategy, middle.budget) == ("beam_search", 4)
    easy = choose_by_price(problem_options(TABLE, {1: 1.0}, K4), 0.001)
    hopeless = choose_by_price(problem_options(TABLE, {3: 1.0}, K4), 0.01)
    assert easy.expected_cost == 0 and hopeless.expected_cost == 0


def test_fixed_policy_takes_the_best_strategy_at_its_budget():
    chosen = choose_fixed(problem_options(TABLE, {2: 1.0}, K4), 16)
    assert (chosen.strategy, chosen.budget) == ("beam_search", 16)
    with pytest.raises(PolicyError, match=r"budgets \[1, 4, 16\]"):
        choose_fixed(problem_options(TABLE, {2: 1.0}, K4), 8)


def test_total_budget_goes_to_the_middle():
    menus = [problem_options(TABLE, {level: 1.0}, K4) for level in (1, 2, 3)]
    allocation = allocate_total(menus, extra_budget=16)
    easy, middle, hopeless = allocation.choices
    assert easy.expected_cost == 0 and hopeless.expected_cost == 0
    assert (middle.strategy, middle.budget) == ("beam_search", 16)
    assert allocation.spent == 16 and allocation.left == 0
    nothing = allocate_total(menus, extra_budget=0)
    assert [o.expected_cost for o in nothing.choices] == [0, 0, 0]


def _brute_force_best(hulls: list[list[Option]], budget: float) -> float:
    best = 0.0
    for picks in itertools.product(*hulls):
        if sum(o.expected_cost for o in picks) <= budget + 1e-9:
            best = max(best, sum(o.expected_accuracy for o in picks))
    return best


@st.composite
def menus(draw):
    problems = []
    for _ in range(draw(st.integers(1, 4))):
        count = draw(st.integers(1, 4))
        costs = draw(st.lists(st.integers(0, 20), min_size=count, max_size=count))
        accuracies = draw(st.lists(st.floats(0, 1), min_size=count, max_size=count))
        problems.append(
            [
                Option("s", i + 1, a, float(c), False)
                for i, (c, a) in enumerate(zip(costs, accuracies, strict=True))
            ]
        )
    return problems


@settings(max_examples=150, deadline=None)
@given(menus(), st.integers(0, 60))
def test_greedy_allocation_is_within_one_step_of_the_optimum(problems, budget):
    hulls = [frontier(options) for options in problems]
    allocation = allocate_total(problems, float(budget))
    cheapest = sum(h[0].expected_cost for h in hulls)
    if cheapest <= budget:
        assert allocation.spent <= budget + 1e-9
    achieved = sum(o.expected_accuracy for o in allocation.choices)
    optimum = _brute_force_best(hulls, budget) if cheapest <= budget else achieved
    largest_step = max(
        [
            b.expected_accuracy - a.expected_accuracy
            for h in hulls
            for a, b in itertools.pairwise(h)
        ],
        default=0.0,
    )
    assert achieved <= optimum + 1e-9
    assert achieved >= optimum - largest_step - 1e-9
    more = allocate_total(problems, float(budget) + 5)
    assert sum(o.expected_accuracy for o in more.choices) >= achieved - 1e-12


def test_auto_price_stops_within_a_point_of_the_best_accuracy():
    curve = price_curve(TABLE, K4)
    best = max(p.accuracy for p in curve)
    point = auto_price(TABLE, K4)
    assert point.accuracy >= best - AUTO_TOLERANCE
    # it is the cheapest such point: any higher price on the curve loses more than a point
    assert all(p.accuracy < best - AUTO_TOLERANCE for p in curve if p.price > point.price)
    # hopeless problems gain 2 points at 16 generations: less than a point overall, skipped
    assert point.mean_cost < max(p.mean_cost for p in curve)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("auto", BudgetPolicy("auto")),
        ("8", BudgetPolicy("fixed", 8.0)),
        ("total:800", BudgetPolicy("total", 800.0)),
        ("total:2.5e15", BudgetPolicy("total", 2.5e15)),
        ("price:0.01", BudgetPolicy("price", 0.01)),
    ],
)
def test_policies_parse_and_print_back(text, expected):
    policy = parse_policy(text)
    assert policy == expected
    assert parse_policy(str(policy)) == policy


@pytest.mark.parametrize(
    "text", ["0", "eight", "total:", "total:-3", "total:0", "price:x", "max:3", "price:nan"]
)
def test_bad_policies_say_which_forms_exist(text):
    with pytest.raises(PolicyError, match="--budget"):
        parse_policy(text)
