"""`ttc curves` on the shipped SmolLM2 artifact, whose tree searches carry parameters:
full strategy names with a legend (a golden table), and an accuracy plot where every
strategy is drawn on top of the compute-optimal envelope."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest

from calibration.curves.data import OPTIMAL, STRATEGY, build_report
from calibration.curves.plots import (
    DODGE,
    ENVELOPE_Z,
    STRATEGY_Z,
    _figure,
    accuracy_limits,
    draw_accuracy,
)
from calibration.curves.table import NAME_WIDTH, WIDTH, render_text, text_names
from calibration.store.artifact import load_artifact
from router.setup import DEFAULT_CALIBRATION

GOLDEN = Path(__file__).parent / "golden" / "curves_smollm2_arithmetic.txt"


@pytest.fixture(scope="module")
def artifact():
    return load_artifact(DEFAULT_CALIBRATION)


@pytest.fixture(scope="module")
def report(artifact):
    return build_report(artifact)


def test_text_table_matches_the_golden_file(report):
    text = render_text(report)
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text(), (
        "ttc curves' text output changed; if intended, rerun with UPDATE_GOLDEN=1 and review "
        "the diff of tests/golden/curves_smollm2_arithmetic.txt"
    )


def test_strategy_names_are_whole_and_the_legend_gives_their_parameters(report):
    text = render_text(report)
    assert max(len(line) for line in text.splitlines()) <= WIDTH
    assert "~" not in text  # no cut cell or name
    names = text_names(report)
    for curve in report.group(STRATEGY):
        name = names[curve.key]
        assert len(name) <= NAME_WIDTH - 3 and f"  {name}  " in text
        if ":" in curve.key:
            assert f"{name} = {curve.key}" in text
    assert names["beam_search:depth=6,step_tokens=48,max_tokens=128"] == "beam search"
    assert "beam = beam_search:depth=6,step_tokens=48,max_tokens=128" in text  # level grid


def test_the_router_is_the_headline_over_the_baseline_the_limit_and_thin_strategies(
    report, artifact
):
    """The router's held-out curve on top, the best fixed strategy per budget (with its
    interval) and the expected oracle under it, every strategy a thin line with its own
    marker, side by side where their figures are equal, and no other interval band."""
    figure = _figure("accuracy")
    assert draw_accuracy(figure, report, artifact) is None
    (ax,) = figure.axes
    lines = {line.get_label(): line for line in ax.get_lines()}
    baseline = lines["best fixed strategy at each N"]
    assert baseline.get_zorder() == ENVELOPE_Z
    if report.decision is not None:
        headline = next(line for label, line in lines.items() if label.startswith("router"))
        assert headline.get_zorder() > STRATEGY_Z and headline.get_linewidth() >= 3
        assert report.limit is not None and report.limit.label in lines
    strategies = report.group(STRATEGY)
    drawn = [line for line in ax.get_lines() if line.get_zorder() == STRATEGY_Z]
    assert len(drawn) == len(strategies) > 0
    assert all(line.get_linewidth() < 1.0 for line in drawn)
    assert len(ax.collections) == 1  # one band: the baseline's interval
    assert len({line.get_marker() for line in drawn}) == len(drawn)
    assert STRATEGY_Z > ENVELOPE_Z
    assert any("depth=6, step_tokens=48" in line.get_label() for line in drawn)
    # at N=2 every strategy has a point: side by side (dodged), not stacked
    at_two = sorted(float(x) for line in drawn for x in line.get_xdata() if 1.5 < x < 2.6)
    assert len(at_two) == len(drawn)
    gaps = [b / a for a, b in itertools.pairwise(at_two)]
    assert all(gap == pytest.approx(2**DODGE) for gap in gaps)
    low, high = ax.get_ylim()
    assert (low, high) == accuracy_limits(report)
    every = [
        100 * v
        for curve in [*strategies, *report.group(OPTIMAL)]
        for p in curve.points
        for v in (p.ci_low, p.ci_high)
    ]
    assert low <= min(every) and max(every) <= high and high - low < 100
