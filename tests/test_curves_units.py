"""Pieces of `ttc curves` that need no artifact: reach, target, number format, plot paths."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import pytest

from calibration.curves_command import parse_target
from calibration.curves_data import CurvePoint, reach
from calibration.curves_plots import OVERVIEW, PLOTS, plot_paths
from calibration.curves_table import compact


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
