"""Small fitted models stored as plain numbers (JSON), never as pickles.

The decision model holds a few dozen logistic and linear regressions; each is a
standardisation (mean, scale) plus coefficients, which is all that serving needs.
Serving needs only numpy; loading cannot run code. (They are fitted by
``calibration.sequential.regression``.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np


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
