"""Brown et al.'s coverage law, log c(k) = a * k**b, fitted to pass@k.

Why this form: coverage (pass@k) rises with the number of samples k roughly as an
exponentiated power law (Brown et al. 2024, "Large Language Monkeys"; Llama-3-8B on
MATH gave a = -1.33, b = -0.43). With a < 0 and b < 0, c(1) = exp(a) and c -> 1 as k
grows; ``-log c`` is then the power law ``-a * k**b``, so

    log(-log c) = log(-a) + b * log k

is a straight line. The fit is ordinary least squares on those transformed points
(closed form: no starting guess, no convergence failure), b being the slope and
a = -exp(intercept). Points where c is 0 or 1 have no image under log(-log c) and
are left out (c = 1: every problem solved by k samples; c = 0: none solved); at least
two distinct k must remain. The fit weighs points equally in the transformed space, so
a coverage close to 1 (noisy once transformed) pulls as much as the rest; with exact
pass@k estimates from large pools this is what recovers a and b best.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np


class CoverageFitError(ValueError):
    """Too few usable coverage points to fit the law; the message says why."""


@dataclass(frozen=True)
class CoverageFit:
    """The fitted law and how well it fits (``r_squared`` in the transformed space)."""

    a: float
    b: float
    r_squared: float
    ks: tuple[int, ...]
    excluded: tuple[int, ...]

    def coverage(self, k: float | np.ndarray) -> np.ndarray:
        """c(k) = exp(a * k**b)."""
        return np.exp(self.a * np.power(np.asarray(k, dtype=float), self.b))

    def describe(self) -> str:
        return f"log c = {self.a:.3f} * k^{self.b:.3f} (R² {self.r_squared:.3f})"


def fit_coverage_law(coverage: Mapping[int, float]) -> CoverageFit:
    """Least-squares fit of log(-log c) on log k; raises CoverageFitError when impossible."""
    usable = {k: c for k, c in coverage.items() if k >= 1 and 0.0 < c < 1.0 and math.isfinite(c)}
    excluded = tuple(sorted(k for k in coverage if k not in usable))
    if len(usable) < 2:
        raise CoverageFitError(
            f"need pass@k strictly between 0 and 1 at two or more k to fit log c = a * k^b; "
            f"usable k: {sorted(usable) or 'none'} (left out: {list(excluded)})"
        )
    ks = np.array(sorted(usable), dtype=float)
    x = np.log(ks)
    y = np.log(-np.log(np.array([usable[int(k)] for k in ks])))
    slope, intercept = np.polyfit(x, y, 1)
    residual = y - (intercept + slope * x)
    spread = float(np.sum((y - y.mean()) ** 2))
    r_squared = 1.0 - float(np.sum(residual**2)) / spread if spread > 0 else 1.0
    return CoverageFit(
        a=-math.exp(float(intercept)),
        b=float(slope),
        r_squared=r_squared,
        ks=tuple(int(k) for k in ks),
        excluded=excluded,
    )
