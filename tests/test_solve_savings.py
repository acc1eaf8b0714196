"""The closing lines of `ttc solve`: the router's held-out figures at the run's price and
what they save against the cheapest fixed strategy as accurate (router.commands.savings).

A fake artifact carries only what the lines read: the sequential model's price curve,
capped figures and second-opinion report, and the table's overall figures.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from router.commands.savings import (
    Fixed,
    cheapest_reaching,
    curve_point,
    savings_lines,
    short_label,
)
from router.policies import parse_policy
from runtime.decision_model import PricePoint, RulePoint

CURVE = (PricePoint(0.0, 0.44, 14.0), PricePoint(0.01, 0.42, 8.0), PricePoint(0.1, 0.30, 2.0))


def stats(accuracy: float, generations: float) -> SimpleNamespace:
    return SimpleNamespace(accuracy=accuracy, cost=SimpleNamespace(generations=generations))


def artifact(curve=CURVE, capped=None, baselines=None) -> SimpleNamespace:
    """``baselines``: the stopping rules the caps run instead of the model, by name."""
    baselines = baselines or {}
    model = SimpleNamespace(
        price_curve=curve,
        capped=capped,
        second_opinions={"rebase:depth=6+check@4": {"accuracy": 0.43, "generations": 10.0}},
        auto_price=lambda: 0.01,
        baselines=baselines,
        rule_under_cap=lambda cap: next((n for n in baselines if n.endswith(f":{cap}")), None),
    )
    overall = {
        4: {"majority": stats(0.30, 4.0), "weighted_best_of_n": stats(0.35, 4.0)},
        16: {"majority": stats(0.37, 16.0), "weighted_best_of_n": stats(0.42, 16.0)},
    }
    return SimpleNamespace(sequential=model, table=SimpleNamespace(overall=overall))


def test_labels_drop_the_calibrations_settings():
    assert short_label("rebase:depth=6,step_tokens=48+check@8") == "rebase+check@8"
    assert short_label("weighted_best_of_n", 16) == "weighted_best_of_n@16"


def test_curve_is_read_between_grid_prices():
    model = SimpleNamespace(price_curve=CURVE)
    assert curve_point(model, 0.01) == (0.42, 8.0)
    accuracy, cost = curve_point(model, 0.005)
    assert (accuracy, cost) == (pytest.approx(0.43), pytest.approx(11.0))
    assert curve_point(model, 1.0) == (0.30, 2.0)
    assert curve_point(SimpleNamespace(price_curve=()), 0.01) is None


def test_cheapest_as_accurate_wins_and_none_when_nothing_reaches():
    options = [Fixed("a", 0.42, 16.0), Fixed("b", 0.43, 10.0), Fixed("c", 0.40, 2.0)]
    assert cheapest_reaching(options, 0.42).label == "b"
    assert cheapest_reaching(options, 0.5) is None


def test_auto_compares_the_held_out_point_with_the_cheapest_fixed_strategy():
    lines = savings_lines(artifact(), parse_policy("auto"))
    assert lines[0] == (
        "  router     at price 0.01, held out in calibration: 42.0% correct at 8.0 "
        "generations per problem"
    )
    # weighted_best_of_n@16 and rebase+check@4 reach 42 %; rebase+check@4 costs 10.
    assert lines[1].startswith("  saves      20% of the generations of")
    assert lines[1].endswith("rebase+check@4, 43.0% at 10.0")


def test_a_router_dearer_than_a_fixed_strategy_says_so():
    dear = (PricePoint(0.0, 0.35, 9.0), PricePoint(0.01, 0.35, 9.0))
    lines = savings_lines(artifact(curve=dear), parse_policy("auto"))
    assert lines[1].startswith("  costs      125% more generations than")
    assert "weighted_best_of_n@4, 35.0% at 4.0" in lines[1]


def test_nothing_as_accurate_names_the_best_fixed_strategy():
    high = (PricePoint(0.0, 0.6, 9.0), PricePoint(0.01, 0.6, 9.0))
    lines = savings_lines(artifact(curve=high), parse_policy("auto"))
    assert "no fixed strategy reaches that accuracy" in lines[1]
    assert "rebase+check@4" in lines[1]


def test_a_cap_reads_its_capped_figures_and_no_artifact_model_prints_nothing():
    capped = SimpleNamespace(heldout={4: PricePoint(0.0, 0.36, 3.6)}, price=0.0)
    lines = savings_lines(artifact(capped=capped), parse_policy("4"))
    assert lines[0].startswith("  router     capped at 4, held out in calibration: 36.0%")
    assert lines[1].endswith("rebase+check@4, 43.0% at 10.0")
    assert savings_lines(SimpleNamespace(sequential=None), parse_policy("auto")) == []


def test_a_cap_that_runs_a_stopping_rule_reads_the_rules_figures():
    capped = SimpleNamespace(heldout={16: PricePoint(0.0, 0.40, 16.0)}, price=0.0)
    handed = artifact(capped=capped, baselines={"beta:16": RulePoint(0.40, 11.0)})
    lines = savings_lines(handed, parse_policy("16"))
    assert lines[0].startswith(
        "  router     capped at 16 (runs beta:16), held out in calibration: 40.0% correct at 11.0"
    )
