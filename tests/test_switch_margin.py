"""The switch margin: how far a search's predicted accuracy must lead before the router
leaves a drawn pool for it, chosen held out at calibration: none without evidence, then
by the one-standard-error rule (calibration/sequential/fit.py)."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from calibration.sequential.fit import (
    SWITCH_MARGINS,
    cautious_choice,
    choose_switch_margin,
    fit_folds,
    fit_model,
    replay,
)
from calibration.sequential.trajectories import Trajectories
from runtime.decision_model import SequentialModel
from tests.test_router_policy import hand_model

PRICES = (0.0, 0.01, 0.1)


def test_a_search_replaces_a_drawn_pool_only_when_it_leads_by_the_margin():
    # stopping after one sample is right 60 %, the search 65 %, sampling on worth less
    model = hand_model(stop=[0.0, 0.6, 0.7, 0.8], tree=0.65, continuation=[-0.2, -0.2, -0.2, 0.0])
    assert model.decide(1, np.zeros(1), 0.0).kind == "tree"
    assert replace(model, switch_margin=0.1).decide(1, np.zeros(1), 0.0).kind == "stop"
    # with nothing drawn there is no pool to keep: every search is docked alike
    for margin in (0.0, 0.1, 1.0):
        first = replace(model, switch_margin=margin).decide(0, np.zeros(1), 0.0)
        assert first.kind == "tree"


def test_the_margin_survives_the_model_file_and_older_files_read_as_none():
    model = replace(hand_model([0.0, 0.6, 0.7, 0.8], 0.9, [0.5, 0.6, 0.7, 0.0]), switch_margin=0.2)
    data = json.loads(json.dumps(model.to_json()))
    assert SequentialModel.from_json(data).switch_margin == 0.2
    del data["switch_margin"]
    assert SequentialModel.from_json(data).switch_margin == 0.0


def test_no_margin_without_evidence_then_the_most_cautious_within_one_error():
    rng = np.random.default_rng(0)
    status_quo = rng.normal(0.5, 0.1, 200)

    def shifted(by: float) -> np.ndarray:
        """The status quo plus its own noise (sd 0.01 per problem), moved by ``by`` on
        average: one paired error against another such setting is about 0.001."""
        noise = rng.normal(0, 0.01, 200)
        return status_quo + noise - noise.mean() + by

    # a little better than the status quo, within its error: no change
    assert cautious_choice([0.0, 0.1, 1.0], [status_quo, shifted(0.0003), shifted(-0.05)]) == 0
    # clearly better: the most cautious setting within an error of the best
    clearly = [status_quo, shifted(0.01), shifted(0.0097), shifted(0.002)]
    assert cautious_choice([0.0, 0.1, 0.2, 1.0], clearly) == 2
    # a larger setting clearly behind the best is not taken
    assert cautious_choice([0.0, 0.1, 1.0], [status_quo, shifted(0.01), shifted(0.005)]) == 1


def revealed_after_one_sample(rows: int = 400, seed: int = 0) -> Trajectories:
    """Kind A or B is invisible in the prompt and plain after one sample. On A the vote
    is always wrong and the search always right; on B the vote is right. The router can
    only do well by switching to the search after its first sample."""
    rng = np.random.default_rng(seed)
    kind_a = np.tile([True, False], rows // 2)
    shown = kind_a.astype(float)[:, None]
    return Trajectories(
        rungs=(0, 1, 2),
        problem=np.arange(rows),
        features=[rng.normal(size=(rows, 1)), shown, shown],
        stop=[np.zeros(rows), (~kind_a).astype(float), (~kind_a).astype(float)],
        trees={"beam_search@4": kind_a.astype(float)},
    )


def test_a_search_worth_switching_to_keeps_a_margin_that_lets_it_run():
    data = revealed_after_one_sample()
    folds = fit_folds(data, reduction="last", prices=PRICES)
    margin, refitted = choose_switch_margin(data, folds, PRICES)
    assert margin < 1.0
    for fold in refitted:
        held = data.subset(np.flatnonzero(fold.test))
        assert replay(fold.model, held, 0.0).accuracy.mean() == pytest.approx(1.0)
    # the most cautious margin would have lost the A problems (bar a few that the noise
    # in the prompt's feature sends to the search before any sample)
    never = fit_model(data, reduction="last", prices=PRICES, switch_margin=1.0)
    assert replay(never, data, 0.0).accuracy.mean() < 0.6


def test_without_searches_the_margin_is_zero_and_the_folds_unchanged():
    data = replace(revealed_after_one_sample(), trees={})
    folds = fit_folds(data, reduction="last", prices=PRICES)
    margin, kept = choose_switch_margin(data, folds, PRICES)
    assert margin == 0.0 and kept == folds
    assert SWITCH_MARGINS[0] == 0.0 and SWITCH_MARGINS[-1] >= 1.0
