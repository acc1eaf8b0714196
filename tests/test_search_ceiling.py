"""The search ceiling: from which price up the router does not search, chosen held out at
calibration (calibration/sequential/search_ceiling.py)."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from calibration.sequential.fit import (
    fit_folds,
    fit_model,
    heldout_nets,
    replay,
    with_search_ceiling,
)
from calibration.sequential.search_ceiling import choose_search_ceiling
from calibration.sequential.trajectories import Trajectories
from runtime.decision_model import SequentialModel, searches_at
from tests.test_router_policy import hand_model
from tests.test_switch_margin import revealed_after_one_sample

PRICES = (0.0, 0.01, 0.1)


def test_searches_stop_at_the_ceiling_and_a_ceiling_at_the_lowest_price_stops_them_all():
    assert searches_at(5.0, None, PRICES)
    assert searches_at(0.0, 0.01, PRICES) and searches_at(0.009, 0.01, PRICES)
    assert not searches_at(0.01, 0.01, PRICES) and not searches_at(0.5, 0.01, PRICES)
    # below the grid too: a generous total:B prices below zero
    assert not searches_at(-1.0, 0.0, PRICES) and not searches_at(0.0, 0.0, PRICES)


def test_a_model_above_its_ceiling_samples_or_stops_where_it_would_have_searched():
    # the search (90 %, 4 generations) beats stopping (60 %) and sampling on at both
    # prices (the model's grid is 0 and 1)
    model = hand_model(stop=[0.0, 0.6, 0.7, 0.8], tree=0.9, continuation=[-0.5, -0.5, -0.5, 0.0])
    for rung in (0, 1):
        assert model.decide(rung, np.zeros(1), 0.0).kind == "tree"
        assert model.decide(rung, np.zeros(1), 0.02).kind == "tree"
    ceiling = replace(model, search_ceiling=0.02)
    assert ceiling.decide(0, np.zeros(1), 0.0).kind == "tree"
    # from it up: nothing is drawn yet, so it samples (nothing else is allowed, though
    # sampling on looked worse than the search it may not run), then stops
    assert ceiling.decide(0, np.zeros(1), 0.02).kind == "sample"
    assert ceiling.decide(1, np.zeros(1), 0.02).kind == "stop"
    never = replace(model, search_ceiling=0.0)
    assert never.decide(0, np.zeros(1), 0.0).kind == "sample"
    assert never.decide(0, np.zeros(1), -0.5).kind == "sample"


def test_the_ceiling_survives_the_model_file_and_older_files_read_as_none():
    model = replace(hand_model([0.0, 0.6, 0.7, 0.8], 0.9, [0.5, 0.6, 0.7, 0.0]), search_ceiling=1.0)
    data = json.loads(json.dumps(model.to_json(), allow_nan=False))
    assert SequentialModel.from_json(data).search_ceiling == 1.0
    del data["search_ceiling"]
    assert SequentialModel.from_json(data).search_ceiling is None


def test_a_fitted_ceiling_is_the_searching_model_below_it_and_the_sampling_one_from_it():
    data = revealed_after_one_sample()
    full = fit_model(data, reduction="last", prices=PRICES)
    never = with_search_ceiling(full, data, PRICES, 0.0)
    cut = with_search_ceiling(full, data, PRICES, 0.01)
    assert cut.search_ceiling == 0.01 and full.search_ceiling is None
    for price, same in ((0.0, full), (0.01, never), (0.1, never)):
        got, want = replay(cut, data, price), replay(same, data, price)
        np.testing.assert_array_equal(got.accuracy, want.accuracy)
        np.testing.assert_array_equal(got.cost, want.cost)
    # without searches every problem of kind A (the search's) is lost
    assert replay(full, data, 0.0).accuracy.mean() == pytest.approx(1.0)
    assert replay(never, data, 0.0).accuracy.mean() <= 0.5 + 1e-9


def test_a_search_that_pays_everywhere_keeps_no_ceiling():
    data = revealed_after_one_sample()
    folds = fit_folds(data, reduction="last", prices=PRICES)
    ceiling, kept = choose_search_ceiling(data, folds, PRICES)
    assert ceiling is None and kept == folds


def searches_of_pure_luck(seed: int, problems: int = 40, orders: int = 4) -> Trajectories:
    """Six searches right by a coin per problem, and a prompt of six noise features: any
    half's fit finds searches that look good on some prompts, which held out are coins.
    Stopping after one sample is right 55 % of the time, after two a little more."""
    rng = np.random.default_rng(seed)
    rows = problems * orders
    problem = np.repeat(np.arange(problems), orders)
    prompt = rng.normal(size=(problems, 6))[problem]
    first = (rng.random(rows) < 0.55).astype(float)
    second = np.maximum(first, (rng.random(rows) < 0.1).astype(float))
    trees = {
        f"{strategy}@{budget}": (rng.random(problems) < 0.5).astype(float)[problem]
        for strategy in ("beam_search", "dvts")
        for budget in (2, 4, 8)
    }
    return Trajectories(
        rungs=(0, 1, 2),
        problem=problem,
        features=[prompt, prompt, prompt],
        stop=[np.zeros(rows), first, second],
        trees=trees,
    )


def test_searches_fitted_on_luck_are_stopped_at_every_price_and_that_pays_held_out():
    chosen = []
    for seed in range(6):
        data = searches_of_pure_luck(seed)
        folds = fit_folds(data, reduction="last", prices=PRICES, seed=seed)
        ceiling, refitted = choose_search_ceiling(data, folds, PRICES)
        chosen.append(ceiling)
        assert all(fold.model.search_ceiling == ceiling for fold in refitted)
        before = heldout_nets(data, folds, PRICES).mean()
        assert heldout_nets(data, refitted, PRICES).mean() >= before
    # where the held-out evidence is clear (most draws), no price searches at all
    assert chosen.count(0.0) >= 4, chosen
    assert set(chosen) <= {None, 0.0}


def test_without_searches_there_is_no_ceiling_and_the_folds_are_unchanged():
    data = replace(revealed_after_one_sample(), trees={})
    folds = fit_folds(data, reduction="last", prices=PRICES)
    ceiling, kept = choose_search_ceiling(data, folds, PRICES)
    assert ceiling is None and kept == folds


def test_the_calibration_summary_names_the_ceiling():
    from calibration.summary import sequential_lines

    model = hand_model(stop=[0.0, 0.6, 0.7, 0.8], tree=0.9, continuation=[-0.5, -0.5, -0.5, 0.0])
    assert not any("search ceiling" in line for line in sequential_lines(model))
    cut = "\n".join(sequential_lines(replace(model, search_ceiling=0.5)))
    assert "does not search from price 0.5 up" in cut
    never = "\n".join(sequential_lines(replace(model, search_ceiling=0.0)))
    assert "does not search at any price" in never
