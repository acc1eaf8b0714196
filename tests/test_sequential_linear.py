"""The decision model's own regressions (numpy, JSON-stored) against scikit-learn."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from calibration.sequential.regression import fit_logistic, fit_shared_logistic
from runtime.linear import LinearModel

# Router states (9 of the 17 features) at rung 4 of the 640-problem SmolLM2 pool, labelled
# "pass@1 >= 0.5": nearly separable with 6 % positives. An undamped Newton step from the
# flat start ran off to an intercept of -2.5e8 here and inverted the signal (AUROC 0.30).
NEARLY_SEPARABLE = Path(__file__).parent / "data" / "nearly_separable_states.csv"


def sklearn_fit(rows: np.ndarray, labels: np.ndarray, strength: float) -> np.ndarray:
    z = (rows - rows.mean(0)) / rows.std(0)
    model = LogisticRegression(C=strength, tol=1e-12, max_iter=10_000).fit(z, labels)
    return np.concatenate([model.intercept_, model.coef_[0]])


def ours(model: LinearModel) -> np.ndarray:
    return np.array([model.intercept, *model.coef])


@pytest.mark.parametrize("seed", range(4))
def test_logistic_matches_scikit_learn_on_random_problems(seed):
    rng = np.random.default_rng(seed)
    rows = rng.normal(size=(300, 5)) * rng.uniform(0.1, 10, size=5)
    labels = (rows @ rng.normal(size=5) + rng.normal(size=300) > 0).astype(float)
    fitted = fit_logistic(rows, labels, strength=0.5)
    assert np.allclose(ours(fitted), sklearn_fit(rows, labels, 0.5), atol=1e-4)


def test_nearly_separable_states_converge_to_the_penalised_optimum():
    table = pd.read_csv(NEARLY_SEPARABLE)
    rows = table.drop(columns="label").to_numpy()
    labels = table["label"].to_numpy(dtype=float)
    fitted = fit_logistic(rows, labels, strength=1.0)
    assert np.all(np.abs(ours(fitted)) < 50)
    assert np.allclose(ours(fitted), sklearn_fit(rows, labels, 1.0), atol=1e-3)
    predicted = fitted.predict(rows)
    assert predicted[labels == 1].mean() > predicted[labels == 0].mean() + 0.3


def test_shared_logistic_with_one_action_is_the_plain_fit():
    rng = np.random.default_rng(5)
    rows = rng.normal(size=(200, 4))
    labels = (rows[:, 0] + rng.normal(size=200) > 0).astype(float)
    (shared,) = fit_shared_logistic(rows, {"rebase@4": labels}, strength=0.5).values()
    assert np.allclose(ours(shared), ours(fit_logistic(rows, labels, strength=0.5)), atol=1e-3)


def test_shared_logistic_gives_every_action_the_same_slopes_and_its_own_level():
    # one difficulty drives three searches; they differ only by how often each is right
    rng = np.random.default_rng(6)
    rows = rng.normal(size=(400, 3))
    difficulty = rows[:, 0] + rng.normal(scale=0.5, size=400)
    targets = {
        f"search@{budget}": (difficulty + offset > 0).astype(float)
        for budget, offset in ((2, -1.0), (4, 0.0), (8, 1.0))
    }
    models = fit_shared_logistic(rows, targets, strength=1.0)
    slopes = {m.coef for m in models.values()}
    assert len(slopes) == 1
    (slope,) = slopes
    assert slope[0] > 1.0 and abs(slope[1]) < 0.3 and abs(slope[2]) < 0.3
    levels = [models[k].intercept for k in ("search@2", "search@4", "search@8")]
    assert levels[0] < levels[1] < levels[2]
    # each action's mean prediction follows its own accuracy
    for key, target in targets.items():
        assert models[key].predict(rows).mean() == pytest.approx(target.mean(), abs=0.03)


def test_shared_logistic_keeps_an_action_never_right_finite_and_low():
    rng = np.random.default_rng(7)
    rows = rng.normal(size=(100, 2))
    targets = {"a@2": (rows[:, 0] > 0).astype(float), "b@2": np.zeros(100)}
    models = fit_shared_logistic(rows, targets, strength=1.0)
    assert np.isfinite(models["b@2"].intercept)
    assert models["b@2"].predict(rows).max() < 0.05
