"""The decision model's own regressions (numpy, JSON-stored) against scikit-learn."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from calibration.sequential.regression import fit_logistic
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
