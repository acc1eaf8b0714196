"""Fitting the decision model's small regressions (``runtime.linear.LinearModel``).

The decision model fits hundreds of these, each a standardisation plus coefficients
stored as plain numbers (JSON, never a pickle); numpy's solves do it in a few lines.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from runtime.linear import LinearModel

_EPS = 1e-6


def _standardise(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mean = rows.mean(axis=0)
    scale = rows.std(axis=0)
    scale = np.where(scale > _EPS, scale, 1.0)
    return (rows - mean) / scale, mean, scale


def fit_logistic(rows: np.ndarray, target: np.ndarray, *, strength: float = 1.0) -> LinearModel:
    """P(success) from features; ``target`` may be fractional (a mean over seeds).

    L2-penalised logistic regression on standardised features (penalty ``1 / strength``
    on the coefficients, not the intercept: scikit-learn's convention for ``C``), fitted
    by Newton's method in numpy: a dozen small solves, where the decision model fits
    hundreds of these.
    """
    rows = np.asarray(rows, dtype=np.float64)
    target = np.clip(np.asarray(target, dtype=np.float64), 0.0, 1.0)
    z, mean, scale = _standardise(rows)
    share = float(target.mean()) if len(target) else 0.5
    if len(target) == 0 or share <= _EPS or share >= 1 - _EPS:
        clipped = min(max(share, 1e-3), 1 - 1e-3)
        intercept = math.log(clipped / (1 - clipped))
        return LinearModel(tuple(mean), tuple(scale), (0.0,) * rows.shape[1], intercept, True)
    design = np.hstack([np.ones((len(z), 1)), z])
    penalty = np.full(design.shape[1], 1.0 / strength)
    penalty[0] = 0.0
    start = np.zeros(design.shape[1])
    start[0] = math.log(share / (1 - share))
    beta = _newton(design, target, penalty, start)
    return LinearModel(
        tuple(mean), tuple(scale), tuple(float(c) for c in beta[1:]), float(beta[0]), True
    )


def fit_shared_logistic(
    rows: np.ndarray, targets: Mapping[str, np.ndarray], *, strength: float = 1.0
) -> dict[str, LinearModel]:
    """P(success) of several actions on the same rows: one intercept per action, one set
    of feature coefficients for all (penalised as in ``fit_logistic``; intercepts not).

    Why: the tree searches' values are fitted on the same few dozen problems, and what
    makes a problem hard for one search makes it hard for all. Shared coefficients are
    fitted on every search's outcomes at once, so a search's value no longer follows the
    luck of its own outcomes; the searches differ by how often each is right. Each
    action's model is an ordinary ``LinearModel`` (serving is unchanged)."""
    rows = np.asarray(rows, dtype=np.float64)
    keys = list(targets)
    z, mean, scale = _standardise(rows)
    count, width = z.shape
    design = np.zeros((count * len(keys), len(keys) + width))
    stacked = np.zeros(count * len(keys))
    start = np.zeros(len(keys) + width)
    for index, key in enumerate(keys):
        block = slice(index * count, (index + 1) * count)
        design[block, index] = 1.0
        design[block, len(keys) :] = z
        stacked[block] = np.clip(np.asarray(targets[key], dtype=np.float64), 0.0, 1.0)
        share = min(max(float(stacked[block].mean()) if count else 0.5, 1e-3), 1 - 1e-3)
        start[index] = math.log(share / (1 - share))
    penalty = np.zeros(len(keys) + width)
    # intercepts: a whisker of penalty, so a search never (or always) right stays finite
    penalty[: len(keys)] = 1e-3
    penalty[len(keys) :] = 1.0 / strength
    beta = _newton(design, stacked, penalty, start) if count else start
    coef = tuple(float(c) for c in beta[len(keys) :])
    return {
        key: LinearModel(tuple(mean), tuple(scale), coef, float(beta[index]), True)
        for index, key in enumerate(keys)
    }


def _newton(
    design: np.ndarray, target: np.ndarray, penalty: np.ndarray, beta: np.ndarray
) -> np.ndarray:
    """The penalised logistic optimum from ``beta``: a dozen small solves, where the
    decision model fits hundreds of these."""
    loss = _penalised_loss(design, target, penalty, beta)
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-np.clip(design @ beta, -30, 30)))
        gradient = design.T @ (p - target) + penalty * beta
        weights = np.maximum(p * (1 - p), 1e-9)
        hessian = design.T @ (design * weights[:, None]) + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hessian, gradient)
        # Damped: a full Newton step from a flat start can overshoot on nearly separable
        # rows (a rare feature value owned by one class) and run off to +-1e8; halve it
        # until the penalised loss goes down (the loss is convex, so this converges).
        damping = 1.0
        while damping > 1e-6:
            trial = beta - damping * step
            trial_loss = _penalised_loss(design, target, penalty, trial)
            if trial_loss <= loss:
                break
            damping /= 2
        else:
            break
        beta, loss = trial, trial_loss
        if float(np.max(np.abs(damping * step))) < 1e-9:
            break
    return beta


def _penalised_loss(
    design: np.ndarray, target: np.ndarray, penalty: np.ndarray, beta: np.ndarray
) -> float:
    """Cross-entropy of fractional targets plus the L2 penalty (numerically stable)."""
    eta = design @ beta
    nll = target * np.logaddexp(0.0, -eta) + (1.0 - target) * np.logaddexp(0.0, eta)
    return float(nll.sum() + 0.5 * float(penalty @ (beta * beta)))


class RidgeDesign:
    """Ridge regressions that share one design matrix (standardised once, its Gram matrix
    inverted once): the decision model fits two per price on each rung's states."""

    def __init__(self, rows: np.ndarray, alpha: float = 1.0) -> None:
        rows = np.asarray(rows, dtype=np.float64)
        self.z, self.mean, self.scale = _standardise(rows)
        gram = self.z.T @ self.z + alpha * np.eye(self.z.shape[1])
        self.solve = np.linalg.solve(gram, self.z.T)

    def fit(self, target: np.ndarray) -> LinearModel:
        target = np.asarray(target, dtype=np.float64)
        centre = float(target.mean()) if len(target) else 0.0
        coef = self.solve @ (target - centre)
        return LinearModel(
            tuple(self.mean), tuple(self.scale), tuple(float(c) for c in coef), centre, False
        )


def fit_linear(rows: np.ndarray, target: np.ndarray, *, alpha: float = 1.0) -> LinearModel:
    """A ridge regression in closed form on standardised features: the intercept is the
    target's mean."""
    return RidgeDesign(rows, alpha).fit(target)
