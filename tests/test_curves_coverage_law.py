"""The coverage law log c = a * k^b: recovered from synthetic data, refused when unfittable."""

from __future__ import annotations

import numpy as np
import pytest

from calibration.curves.coverage_law import CoverageFitError, fit_coverage_law

KS = [1, 2, 4, 8, 16, 32, 64, 128, 256]


def law(a: float, b: float, k: int) -> float:
    return float(np.exp(a * k**b))


@pytest.mark.parametrize(
    ("a", "b"),
    [(-1.33, -0.43), (-0.4, -0.8), (-2.5, -0.25), (-0.9, -0.6)],  # Brown et al.'s first
)
def test_fit_recovers_a_and_b_within_5_percent_from_noisy_coverage(a, b):
    rng = np.random.default_rng(7)
    coverage = {}
    for k in KS:
        # 3% multiplicative noise on -log c: the scatter of a pass@k estimate
        coverage[k] = float(np.exp(-(-a * k**b) * rng.lognormal(0.0, 0.03)))
    fit = fit_coverage_law(coverage)
    assert fit.a == pytest.approx(a, rel=0.05)
    assert fit.b == pytest.approx(b, rel=0.05)
    assert fit.r_squared > 0.95
    assert fit.ks == tuple(KS) and fit.excluded == ()


def test_fit_is_exact_on_noiseless_coverage():
    fit = fit_coverage_law({k: law(-1.33, -0.43, k) for k in KS})
    assert fit.a == pytest.approx(-1.33, rel=1e-9)
    assert fit.b == pytest.approx(-0.43, rel=1e-9)
    assert fit.r_squared == pytest.approx(1.0)
    assert fit.coverage(8) == pytest.approx(law(-1.33, -0.43, 8))


def test_points_at_zero_or_one_are_left_out_and_named():
    coverage = {k: law(-1.2, -0.5, k) for k in (1, 2, 4, 8)}
    coverage[16] = 1.0
    coverage[0] = 0.0  # k = 0 is no sample at all
    fit = fit_coverage_law(coverage)
    assert fit.excluded == (0, 16)
    assert fit.ks == (1, 2, 4, 8)
    assert fit.a == pytest.approx(-1.2, rel=1e-9)


def test_too_few_usable_points_is_a_clear_error():
    with pytest.raises(CoverageFitError, match=r"two or more k.*left out: \[2, 4\]"):
        fit_coverage_law({1: 0.5, 2: 1.0, 4: 1.0})
    with pytest.raises(CoverageFitError, match="usable k: none"):
        fit_coverage_law({})
