"""Pieces of `ttc curves` that need no artifact: reach, target, number format, plot paths."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import pytest

from calibration.curves.command import parse_target
from calibration.curves.data import (
    OPTIMAL,
    STRATEGY,
    ArtifactInfo,
    Curve,
    CurvePoint,
    CurvesReport,
    reach,
    strategy_label,
)
from calibration.curves.plots import OVERVIEW, PLOTS, plot_paths
from calibration.curves.table import WIDTH, compact, render_text
from calibration.strategy_names import grid_tags


def point(budget: float, accuracy: float, tokens: float = math.nan) -> CurvePoint:
    return CurvePoint(budget, accuracy, accuracy - 0.05, accuracy + 0.05, tokens, budget * 1e12)


def test_reach_interpolates_in_log2_compute_between_the_crossing_points():
    points = [point(1, 0.2), point(2, 0.4), point(8, 0.8), point(16, 0.9)]
    # 0.6 is half way from 0.4 (N=2) to 0.8 (N=8): half way in log2, i.e. N=4
    found = reach(points, 0.6, "generations")
    assert found.compute == pytest.approx(4.0)
    assert found.best_accuracy == 0.9 and not found.at_first_point
    assert reach(points, 0.8, "generations").compute == pytest.approx(8.0)


def test_reach_takes_the_first_crossing_and_reports_when_never_reached():
    wobbly = [point(1, 0.5), point(2, 0.7), point(4, 0.6), point(8, 0.75)]
    assert reach(wobbly, 0.7, "generations").compute == pytest.approx(2.0)
    missed = reach(wobbly, 0.9, "generations")
    assert missed.compute is None and missed.best_accuracy == 0.75


def test_reach_at_the_cheapest_point_is_flagged_as_an_upper_bound():
    found = reach([point(2, 0.8), point(4, 0.9)], 0.7, "generations")
    assert found.compute == 2 and found.at_first_point


def test_reach_orders_points_by_the_chosen_axis_and_ignores_missing_costs():
    points = [point(2, 0.9, tokens=100.0), point(1, 0.5, tokens=400.0), point(4, 0.95)]
    # by tokens the N=2 point comes first (cheaper), and N=4 has no token figure
    by_tokens = reach(points, 0.6, "tokens")
    assert by_tokens.compute == 100.0 and by_tokens.at_first_point
    assert reach(points, 0.6, "flops").compute == pytest.approx(2**0.25 * 1e12)
    with pytest.raises(ValueError, match="unknown compute axis"):
        reach(points, 0.6, "watts")


@pytest.mark.parametrize(
    ("text", "value"), [("0.8", 0.8), ("80", 0.8), ("80%", 0.8), ("1", 1.0), ("0.5%", 0.005)]
)
def test_target_accepts_fractions_and_percentages(text, value):
    assert parse_target(text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["0", "-0.2", "120", "high", ""])
def test_target_refuses_what_is_not_an_accuracy(text):
    with pytest.raises(argparse.ArgumentTypeError, match="--target"):
        parse_target(text)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (8.0, "8"),
        (5.25, "5.25"),
        (2.0833, "2.08"),
        (336.3, "336"),
        (1345.4, "1.35k"),
        (5.2e13, "52T"),
        (2.07e14, "207T"),
        (math.nan, "-"),
        (None, "-"),
    ],
)
def test_compact_numbers_fit_a_table_cell(value, text):
    assert compact(value) == text
    assert len(compact(value)) <= 6


def test_plot_paths_for_a_png_name_and_for_a_folder(tmp_path):
    named = plot_paths(tmp_path / "sim.png")
    assert named[OVERVIEW] == tmp_path / "sim.png"
    assert named["coverage"] == tmp_path / "sim-coverage.png"
    folder = plot_paths(Path("out/plots"))
    assert set(folder) == {OVERVIEW, *PLOTS}
    assert folder["bins"] == Path("out/plots/bins.png")


def test_strategy_names_with_parameters_stay_short_and_are_explained():
    assert strategy_label("weighted_best_of_n") == "weighted BoN"
    assert strategy_label("beam_search:beam_width=2,depth=20") == "beam search bw=2,d=20"
    assert grid_tags(["dvts:beam_width=4", "majority"]) == {
        "dvts:beam_width=4": "dvts",
        "majority": "maj",
    }


def synthetic_report(budgets: tuple[int, ...]) -> CurvesReport:
    def curve(key: str, group: str, scale: float) -> Curve:
        points = tuple(
            CurvePoint(b, min(1.0, scale * math.log2(2 * b) / 10), 0.1, 0.99, 300.0 * b, 1e12 * b)
            for b in budgets
        )
        return Curve(key, strategy_label(key) if group == STRATEGY else key, group, points)

    curves = (
        curve("best_of_n", STRATEGY, 1.0),
        curve("beam_search:beam_width=4", STRATEGY, 1.5),
        curve("optimal:oracle", OPTIMAL, 1.6),
    )
    target = curves[0].points[-1].accuracy
    return CurvesReport(
        info=ArtifactInfo("x", "m", "v", "d", 10, 256, 5),
        axis="flops",
        binning="oracle",
        budgets=budgets,
        curves=curves,
        target=target,
        target_source="given",
        reach={c.key: reach(c.points, target, "flops") for c in curves},
        reference="best_of_n",
        coverage={1: 0.3, 2: 0.45},
        coverage_fit=None,
        coverage_note="coverage law not fitted: a reason that is long enough to need wrapping "
        "when it is printed at the end of the table",
        levels=(),
        measure="pass@1",
        predictor=None,
    )


def test_many_budgets_wrap_into_blocks_that_fit_80_columns():
    budgets = tuple(2**i for i in range(10))  # N = 1 ... 512
    text = render_text(synthetic_report(budgets))
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= WIDTH
    headers = [line.split() for line in lines if line.lstrip().startswith("N=")]
    assert len(headers) == 2  # 7 budgets fit beside the names, then the other 3
    assert [word for header in headers for word in header] == [f"N={b}" for b in budgets]
    # the name leaves its parameters to the legend: two blocks and the reach section
    assert text.count("  beam search  ") == 3
    assert "parameters: beam search = beam_search:beam_width=4" in text
    assert text.count("    flops") == 6  # a cost line under each curve in each block
    assert "  coverage law not fitted: a reason" in text
