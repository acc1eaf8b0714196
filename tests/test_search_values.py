"""The tree searches' values: one model shared by every search, a level of its own each
and common coefficients (calibration/sequential/fit.py ``search_values``). Fitted one by
one on a few dozen problems, two dozen search values fit their own luck and the router
takes the luckiest; shared, they keep what is common (difficulty) and what is real (a
search that pays on average)."""

from __future__ import annotations

from unittest import mock

import numpy as np

import calibration.sequential.fit as fit
from calibration.sequential.fit import fit_folds, replay, search_values
from calibration.sequential.regression import fit_logistic
from calibration.sequential.trajectories import Trajectories

PRICES = (0.0, 0.01, 0.1)


def one_by_one(rows, targets, strength):
    """The search values as they were fitted before: each on its own outcomes alone."""
    return {key: fit_logistic(rows, values, strength=strength) for key, values in targets.items()}


def many_searches_one_good(seed: int, problems: int = 100, orders: int = 8) -> Trajectories:
    """Twelve searches, each right or wrong per problem by a coin that the eight features
    (the prompt's, then the same with a little noise) know nothing about: REBASE@4 is
    right 80 % of the time, every other search 50 %, stopping after a sample 30 %."""
    rng = np.random.default_rng(seed)
    owner = np.repeat(np.arange(problems), orders)
    prompt = rng.normal(size=(problems, 8))[owner]
    drawn = prompt + rng.normal(scale=0.3, size=prompt.shape)
    stop = (rng.random(problems) < 0.3).astype(float)[owner]
    trees = {}
    for name in ("beam_search", "dvts", "rebase", "particle_filtering"):
        for budget in (2, 4, 8):
            share = 0.8 if (name, budget) == ("rebase", 4) else 0.5
            trees[f"{name}@{budget}"] = (rng.random(problems) < share).astype(float)[owner]
    return Trajectories(
        rungs=(0, 1, 2),
        problem=owner,
        features=[prompt, drawn, drawn],
        stop=[np.zeros(len(owner)), stop, stop],
        trees=trees,
    )


def heldout_accuracy(data: Trajectories, fit_searches=search_values) -> float:
    """The router's accuracy at price 0 on the half it was not fitted on, both ways."""
    with mock.patch.object(fit, "search_values", fit_searches):
        folds = fit_folds(data, reduction="last", prices=PRICES)
    return float(
        np.mean(
            [
                replay(fold.model, data.subset(np.flatnonzero(fold.test)), 0.0).accuracy.mean()
                for fold in folds
            ]
        )
    )


def test_shared_values_route_to_the_search_that_pays_where_one_by_one_fit_luck():
    data = [many_searches_one_good(seed) for seed in range(4)]
    shared = [heldout_accuracy(d) for d in data]
    alone = [heldout_accuracy(d, one_by_one) for d in data]
    assert np.mean(shared) > np.mean(alone) + 0.05
    # nearly every problem goes to REBASE@4, right 80 % of the time
    assert np.mean(shared) > 0.74


def test_every_search_shares_the_coefficients_and_keeps_its_own_level():
    data = many_searches_one_good(0)
    values = search_values(data.features[1], data.trees, strength=1.0)
    assert len({model.coef for model in values.values()}) == 1
    best = max(values, key=lambda key: values[key].predict(data.features[1]).mean())
    assert best == "rebase@4"


def test_no_searches_no_values():
    assert search_values(np.zeros((5, 2)), {}, strength=1.0) == {}
