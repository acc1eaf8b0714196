"""Bootstrap intervals over problems and seeds.

Two sources of noise make a cell's accuracy uncertain: which problems happened to land
in the bin, and which random seeds the searches ran with. Each resample draws problems
with replacement *and* seeds with replacement and averages the selected runs, so the
interval reflects both. Strategies in a cell share the resampled indices (a paired
bootstrap), so their intervals are comparable.
"""

from __future__ import annotations

import warnings

import numpy as np

CONFIDENCE = 0.95


def bootstrap_interval(
    runs: np.ndarray, num_resamples: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """95% percentile intervals of the mean, per strategy.

    ``runs`` has shape (problems, seeds, strategies) with NaN for missing runs; the
    result is (low, high), each of shape (strategies,). With a single problem and seed
    the interval collapses onto the point estimate.
    """
    num_problems, num_seeds, num_strategies = runs.shape
    if num_problems == 0:
        nan = np.full(num_strategies, np.nan)
        return nan, nan.copy()
    problem_draws = rng.integers(0, num_problems, size=(num_resamples, num_problems))
    seed_draws = rng.integers(0, num_seeds, size=(num_resamples, num_seeds))
    resampled = runs[problem_draws[:, :, None], seed_draws[:, None, :]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)  # all-NaN resamples
        means = np.nanmean(resampled, axis=(1, 2))
        tail = (1.0 - CONFIDENCE) / 2.0
        low = np.nanquantile(means, tail, axis=0)
        high = np.nanquantile(means, 1.0 - tail, axis=0)
    return low, high
