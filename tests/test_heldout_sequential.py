"""scripts/heldout_sequential.py: an artifact's decision model held out on its own
problems, tree searches included, with intervals."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from calibration.sequential.fit import SWITCH_MARGINS, fit_folds
from router.cli import main as ttc
from scripts.heldout_sequential import (
    HeldOut,
    chosen_fixed,
    compare,
    compare_chosen,
    first_reaching,
    held_out,
    load_data,
    main,
)
from tests.test_switch_margin import revealed_after_one_sample


def test_first_reaching_reads_the_curve_linearly_between_prices():
    costs = np.array([4.0, 1.0, 2.0])  # unsorted, as prices give them
    accuracies = np.array([0.8, 0.4, 0.6])
    assert first_reaching(costs, accuracies, 0.7) == pytest.approx(3.0)
    assert first_reaching(costs, accuracies, 0.3) == pytest.approx(1.0)
    assert first_reaching(costs, accuracies, 0.9) is None


def test_the_best_fixed_strategy_is_picked_on_the_rows_compared():
    result = HeldOut(
        fixed={"a@4": np.array([1.0, 0.0]), "b@4": np.array([0.0, 0.6]), "c@2": np.ones(2)},
        curve_accuracy=np.array([[0.0, 0.0], [1.0, 1.0]]),
        curve_cost=np.array([[1.0, 1.0], [2.0, 2.0]]),
        capped_accuracy={},
        capped_cost={},
    )
    everything = compare(result, 4, np.arange(2))
    assert everything.fixed == "a@4" and everything.fixed_accuracy == 0.5
    assert everything.router_generations == pytest.approx(1.5)
    assert everything.ratio == pytest.approx(4 / 1.5)
    second = compare(result, 4, np.array([1, 1]))
    assert second.fixed == "b@4" and second.router_generations == pytest.approx(1.6)
    assert math.isclose(everything.router_at_n, 1.0)


def test_the_script_reports_a_small_calibration_with_searches_held_out(tmp_path, capsys):
    out = tmp_path / "sim"
    code = ttc(
        [
            "calibrate", "--problems", "simulator:40:3", "--samples", "8",
            "--budgets", "1,2,4", "--strategies", "majority,weighted_best_of_n,rebase,beam_search",
            "--seeds", "3", "--draws", "8", "--probe-k", "2", "--probe-draws", "2",
            "--bootstrap", "20", "--cv-repeats", "1", "--no-progress", "--out", str(out),
        ]
    )  # fmt: skip
    assert code == 0
    model = json.loads((out / "sequential_model.json").read_text())
    assert model["switch_margin"] in SWITCH_MARGINS
    capsys.readouterr()
    for folds in ("2", "4"):
        assert main([str(out), "--splits", "1", "--folds", folds, "--bootstrap", "20"]) == 0
        printed = capsys.readouterr().out
        tables = [
            [line for line in block.splitlines() if line.startswith("| ") and "---" not in line]
            for block in printed.split("\n\n")
        ]
        first, chosen = [rows for rows in tables if rows]
        assert [row.split("|")[1].strip() for row in first[1:]] == ["1", "2", "4"]
        assert [row.split("|")[1].strip() for row in chosen[1:]] == ["1", "2", "4"]
        assert "fixed strategy chosen held out" in chosen[0]
        assert "40 problems" in printed and "price curve, held out" in printed
    loaded = load_data(out)
    result = held_out(
        loaded.prepared, loaded.evaluations, loaded.budgets, loaded.reduction, splits=1
    )
    for budget, accuracy in result.chosen.items():
        assert sum(result.picks[budget].values()) == 2  # one pick per half
        at_budget = [v for k, v in result.fixed.items() if k.endswith(f"@{budget}")]
        for problem, value in enumerate(accuracy):
            assert any(math.isclose(value, v[problem]) for v in at_budget)


def test_the_held_out_fixed_strategy_is_chosen_on_the_other_half_only():
    fixed = {
        "a@4": np.array([1.0, 1.0, 0.0, 0.0]),
        "b@4": np.array([0.0, 0.0, 1.0, 0.5]),
        "c@2": np.ones(4),
    }
    # fitted on problems 0 and 1, "a" wins there, though "b" wins on 2 and 3
    assert chosen_fixed(fixed, 4, np.array([0, 1])) == "a@4"
    assert chosen_fixed(fixed, 4, np.array([2, 3])) == "b@4"
    assert chosen_fixed(fixed, 8, np.array([0])) is None
    # each half scored by the other's pick: the held-out comparator loses to hindsight
    chosen = np.array([0.0, 0.0, 0.0, 0.0])
    chosen[[2, 3]] = fixed["a@4"][[2, 3]]
    chosen[[0, 1]] = fixed["b@4"][[0, 1]]
    result = HeldOut(
        fixed=fixed,
        curve_accuracy=np.array([[0.0] * 4, [0.5] * 4]),
        curve_cost=np.array([[1.0] * 4, [3.0] * 4]),
        capped_accuracy={},
        capped_cost={},
        chosen={4: chosen},
        picks={4: {"a@4": 1, "b@4": 1}},
    )
    target, ratio = compare_chosen(result, 4, np.arange(4))
    assert target == 0.0 and ratio == pytest.approx(4.0)  # reached at the cheapest point
    hindsight = compare(result, 4, np.arange(4))
    assert hindsight.fixed_accuracy == 0.5 and hindsight.ratio == pytest.approx(4 / 3)


def test_k_parts_hold_every_problem_out_once_by_a_model_fitted_on_the_rest():
    data = revealed_after_one_sample(rows=60)
    folds = fit_folds(data, reduction="last", prices=(0.0, 0.1), seed=3, parts=3)
    assert len(folds) == 3
    held = np.sum([fold.test for fold in folds], axis=0)
    assert np.all(held == 1)
    for fold in folds:
        assert not set(fold.fitted.problem) & set(data.problem[fold.test])
        assert len(fold.fitted) == len(data) - fold.test.sum()
    with pytest.raises(ValueError, match="61 parts"):
        fit_folds(data, reduction="last", prices=(0.0,), seed=0, parts=61)


def test_given_parts_are_held_out_and_the_rest_only_fitted():
    data = revealed_after_one_sample(rows=60)
    problems = np.unique(data.problem)
    fresh = problems[-10:]
    (fold,) = fit_folds(data, reduction="last", prices=(0.0, 0.1), held_out=[fresh])
    assert set(data.problem[fold.test]) == set(fresh)
    assert set(fold.fitted.problem) == set(problems[:-10])


def _calibrate(out, problems, samples="8"):
    code = ttc(
        [
            "calibrate", "--problems", problems, "--samples", samples,
            "--budgets", "1,2,4", "--strategies", "majority,weighted_best_of_n,rebase",
            "--seeds", "2", "--draws", "8", "--probe-k", "2", "--probe-draws", "2",
            "--bootstrap", "20", "--cv-repeats", "1", "--no-progress", "--out", str(out),
        ]
    )  # fmt: skip
    assert code == 0
    return out


def test_calibrations_of_other_problems_pool_and_one_scores_fresh(tmp_path, capsys):
    first = _calibrate(tmp_path / "a", "simulator:30:5")
    second = _calibrate(tmp_path / "b", "simulator:20:6")
    pooled = load_data([first, second])
    assert len(pooled.prepared.pools) == 50 and pooled.duplicates == 0
    assert list(np.bincount(pooled.origin)) == [30, 20]
    # the same problems twice: the second copy is left out, not fitted against itself
    again = load_data([first, first])
    assert len(again.prepared.pools) == 30 and again.duplicates == 30
    capsys.readouterr()
    assert main([str(first), "--fresh", str(second), "--splits", "1", "--bootstrap", "20"]) == 0
    printed = capsys.readouterr().out
    assert "fitted on 30 problems, scored on the 20 of" in printed
    assert "20 problems, held out" in printed
    fresh = np.flatnonzero(pooled.origin == 1)
    result = held_out(
        pooled.prepared,
        pooled.evaluations,
        pooled.budgets,
        pooled.reduction,
        splits=1,
        fresh=fresh,
    )
    fitted = np.flatnonzero(pooled.origin == 0)
    assert np.all(result.curve_cost[:, fitted] == 0)  # never held out
    assert np.all(result.curve_cost[:, fresh].mean(axis=1) > 0)
    for budget, accuracy in result.chosen.items():
        # chosen on the first calibration only, one pick per split
        (name,) = result.picks[budget]
        assert name == chosen_fixed(result.fixed, budget, fitted)
        assert np.allclose(accuracy[fresh], result.fixed[name][fresh])


def test_calibrations_made_with_other_settings_are_not_pooled(tmp_path):
    first = _calibrate(tmp_path / "a", "simulator:12:5")
    other = _calibrate(tmp_path / "b", "simulator:12:6", samples="4")
    with pytest.raises(SystemExit, match="samples"):
        load_data([first, other])
