"""Small fitted models stored as plain numbers (JSON), never as pickles.

The decision model holds a few dozen logistic and linear regressions; each is a
standardisation (mean, scale) plus coefficients, which is all that serving needs.
Fitting uses scikit-learn; loading needs only numpy, and cannot run code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

_EPS = 1e-6


@dataclass(frozen=True)
class LinearModel:
    """``link(intercept + coef . (x - mean) / scale)``; link is identity or logistic."""

    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    logistic: bool

    def predict(self, rows: np.ndarray) -> np.ndarray:
        rows = np.atleast_2d(np.asarray(rows, dtype=np.float64))
        if rows.shape[1] != len(self.coef):
            raise ValueError(f"model expects {len(self.coef)} features, got {rows.shape[1]}")
        z = (rows - np.asarray(self.mean)) / np.asarray(self.scale)
        out: np.ndarray = z @ np.asarray(self.coef) + self.intercept
        if self.logistic:
            out = 1.0 / (1.0 + np.exp(-np.clip(out, -30, 30)))
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "mean": list(self.mean),
            "scale": list(self.scale),
            "coef": list(self.coef),
            "intercept": self.intercept,
            "logistic": self.logistic,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LinearModel:
        model = cls(
            mean=tuple(float(v) for v in data["mean"]),
            scale=tuple(float(v) for v in data["scale"]),
            coef=tuple(float(v) for v in data["coef"]),
            intercept=float(data["intercept"]),
            logistic=bool(data["logistic"]),
        )
        sizes = {len(model.mean), len(model.scale), len(model.coef)}
        if len(sizes) != 1:
            raise ValueError(f"linear model with mismatched sizes {sorted(sizes)}")
        values = (*model.mean, *model.scale, *model.coef, model.intercept)
        if not all(math.isfinite(v) for v in values) or min(model.scale, default=1.0) <= 0:
            raise ValueError("linear model with non-finite numbers or a non-positive scale")
        return model


def _standardise(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mean = rows.mean(axis=0)
    scale = rows.std(axis=0)
    scale = np.where(scale > _EPS, scale, 1.0)
    return (rows - mean) / scale, mean, scale


def fit_logistic(
    rows: np.ndarray, target: np.ndarray, *, strength: float = 1.0
) -> LinearModel:
    """P(success) from features; ``target`` may be fractional (a mean over seeds), which
    is fitted as that share of a success and the rest a failure."""
    from sklearn.linear_model import LogisticRegression

    rows = np.asarray(rows, dtype=np.float64)
    target = np.clip(np.asarray(target, dtype=np.float64), 0.0, 1.0)
    z, mean, scale = _standardise(rows)
    share = float(target.mean()) if len(target) else 0.5
    if len(target) == 0 or share <= _EPS or share >= 1 - _EPS:
        clipped = min(max(share, 1e-3), 1 - 1e-3)
        return LinearModel(
            tuple(mean), tuple(scale), (0.0,) * rows.shape[1], math.log(clipped / (1 - clipped)), True
        )
    stacked = np.vstack([z, z])
    labels = np.concatenate([np.ones(len(z)), np.zeros(len(z))])
    weights = np.concatenate([target, 1.0 - target])
    keep = weights > 0
    model = LogisticRegression(C=strength, max_iter=500)
    model.fit(stacked[keep], labels[keep], sample_weight=weights[keep])
    return LinearModel(
        tuple(mean), tuple(scale), tuple(float(c) for c in model.coef_[0]), float(model.intercept_[0]), True
    )


def fit_linear(rows: np.ndarray, target: np.ndarray, *, alpha: float = 1.0) -> LinearModel:
    """A ridge regression (for continuation values and expected costs)."""
    from sklearn.linear_model import Ridge

    rows = np.asarray(rows, dtype=np.float64)
    z, mean, scale = _standardise(rows)
    model = Ridge(alpha=alpha)
    model.fit(z, np.asarray(target, dtype=np.float64))
    return LinearModel(
        tuple(mean), tuple(scale), tuple(float(c) for c in model.coef_), float(model.intercept_), False
    )
