"""Paired bootstrap over problems for `ttc evaluate`.

Every method was run on the same held-out problems, so one matrix of resampled problem
indices serves them all: intervals of different methods, and of their differences, come
from the same resamples (a paired bootstrap), which is what makes "router minus best
fixed strategy" intervals narrower than the two separate intervals suggest.
"""

from __future__ import annotations

import numpy as np

CONFIDENCE = 0.95


class PairedBootstrap:
    def __init__(self, num_problems: int, resamples: int, seed: int = 0) -> None:
        if num_problems < 1:
            raise ValueError("the bootstrap needs at least one problem")
        if resamples < 1:
            raise ValueError(f"resamples must be >= 1, got {resamples}")
        rng = np.random.default_rng([seed, num_problems, 9_203])
        self.indices = rng.integers(0, num_problems, size=(resamples, num_problems))

    def interval(self, values: np.ndarray) -> tuple[float, float]:
        """95% percentile interval of the mean of per-problem ``values``."""
        means = np.asarray(values, dtype=float)[self.indices].mean(axis=1)
        tail = (1.0 - CONFIDENCE) / 2.0
        return float(np.quantile(means, tail)), float(np.quantile(means, 1.0 - tail))

    def difference(self, a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
        """Interval of mean(a) - mean(b) over the same resampled problems."""
        return self.interval(np.asarray(a, dtype=float) - np.asarray(b, dtype=float))
